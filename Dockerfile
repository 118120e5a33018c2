# The Polycool API as a container: `python app.py serve` on 0.0.0.0:8000, as a non-root user.
# The same image runs the other commands: `python app.py migrate`, `python app.py ingest`.
#
#   docker build -t polycool-api .
#   docker run --rm --env-file prod.env polycool-api python app.py migrate
#   docker run -p 8000:8000 --env-file prod.env polycool-api
#
# The image runs with APP_ENV=production, so it expects DATABASE_URL, API_KEYS and CURSOR_SECRET
# (it refuses to start without the last two). `serve` does not migrate: run `migrate` once per
# release (docker-compose.yml does it before the API and the worker start). With no DATABASE_URL
# it would start the embedded PostgreSQL (pgserver) in /app/.data, inside the container: fine for
# a demo (add -e APP_ENV=development), not for production, where the data would die with the
# container. Settings: README.md, "Configuration".

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# --- graphiql: GraphiQL's browser files from the npm registry, so its page needs no CDN --------
FROM ${NODE_IMAGE} AS graphiql

WORKDIR /graphiql
COPY graphiql/package.json graphiql/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run build

# --- builder: the dependencies, into a venv at the path the runtime uses -----------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
# pyproject.toml alone: the project declares no packages (`packages = []`), so `pip install .`
# installs its dependencies only, and this layer is rebuilt only when they change. Every
# dependency ships a wheel for linux/amd64 (manylinux or pure Python), so no compiler is needed.
COPY pyproject.toml ./
RUN pip install .

# --- runtime: the venv and the source tree, which the service runs from -------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The source is root's and read-only to the service; only .data (the embedded PostgreSQL's data,
# used without DATABASE_URL) is the service's to write.
COPY . .
# Only the four built files; node_modules stays in its stage. GraphiQL is off in production
# unless GRAPHIQL=true; when on, its page is served from these (web/graphiql.py).
COPY --from=graphiql /graphiql/dist graphiql/dist
RUN mkdir .data && chown app:app .data

USER app

EXPOSE 8000

# Liveness only: /healthz answers without touching the database. The slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=3)"

CMD ["python", "app.py", "serve"]
