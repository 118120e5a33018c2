# The whole set-up on a fresh machine is two commands: `make run` and `make test`.
# Neither needs a PostgreSQL or Redis: with no DATABASE_URL / REDIS_URL the embedded ones start.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_USERS ?= 500
DEMO_SEED ?= 1

.PHONY: install run test lint typecheck schema check-schema clean bench

install: $(VENV)/.installed graphiql/dist/.built

# Dependencies only: the project runs from its checkout (see pyproject.toml).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[dev]"
	touch $@

# GraphiQL's browser files, fetched from the npm registry (graphiql/package-lock.json) into
# graphiql/dist, which the service serves, so its page works offline. Optional: with no npm, or
# when npm fails, the page loads them from the CDN and the next `make install` tries again.
graphiql/dist/.built: graphiql/package.json graphiql/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "note: npm not found: GraphiQL's page will load its files from the CDN"; \
	elif npm ci --prefix graphiql --ignore-scripts --no-audit --no-fund --loglevel=error \
		&& npm run --prefix graphiql --silent build; then \
		touch $@; \
	else \
		echo "note: the GraphiQL build failed: its page uses an earlier build, else the CDN" >&2; \
	fi

run: install
	$(PY) app.py migrate
	$(PY) app.py seed --users $(DEMO_USERS) --seed $(DEMO_SEED)
	APP_ENV=development $(PY) app.py serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

schema: install
	$(PY) app.py export-schema > schema.graphql

# CI fails when the committed schema.graphql differs from the one the code builds.
check-schema: install
	@$(PY) app.py export-schema > $(VENV)/schema.graphql
	@diff -u schema.graphql $(VENV)/schema.graphql \
		|| (echo "schema.graphql is out of date: run 'make schema' and commit it" >&2; exit 1)

# The contract and freshness tests run a second time with graphql-core executing every
# operation (EXECUTION_PLANS=false): the answers must not depend on the executor.
test: install lint typecheck check-schema
	$(PY) -m pytest
	EXECUTION_PLANS=false $(PY) -m pytest -q tests/test_contract.py tests/writes tests/cache \
		tests/test_statement_counts.py tests/test_contract_wallets.py \
		tests/test_wallet_statement_counts.py

# The API benchmark (docs/benchmarks.md): the service against the old design and PostGraphile,
# on loopback, about fourteen minutes. Needs wrk (apt-get install -y wrk), redis-server and npm;
# DATABASE_URL names the PostgreSQL server it creates (and drops) its own database on.
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q ".[dev,bench]"
	touch $@

bench/node_modules/.installed: bench/package.json bench/package-lock.json
	npm ci --prefix bench --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

bench: $(VENV)/.bench-installed bench/node_modules/.installed
	$(PY) -m bench.api

clean:
	rm -rf $(VENV) .data .mypy_cache .pytest_cache .ruff_cache graphiql/node_modules graphiql/dist
