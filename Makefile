# The whole set-up on a fresh machine is two commands: `make run` and `make test`.
# Neither needs a PostgreSQL or Redis: with no DATABASE_URL / REDIS_URL the embedded ones start.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_USERS ?= 500
DEMO_SEED ?= 1

.PHONY: install run test lint typecheck schema check-schema client check-client clean bench screenshot

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
	$(PY) app.py demo --seed $(DEMO_SEED)
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

# The bot's typed client (client/): ariadne-codegen writes the polycool_client package from
# schema.graphql and the contract's documents, in a venv of its own (its graphql-core and ruff
# are older than the service's: client/codegen-requirements.txt), into a scratch folder; the
# project's ruff then formats it as it does every file here. `client` swaps the package for
# it (so modules of documents gone go too); `check-client`, run by `make test`, fails when the
# committed package differs. The package must not depend on the scratch folder's name: the
# generator writes the documents' paths into its comments, not the target's.
CODEGEN_VENV ?= .venv-codegen
CLIENT_BUILD := $(CODEGEN_VENV)/build

$(CODEGEN_VENV)/.installed: client/codegen-requirements.txt
	$(PYTHON) -m venv $(CODEGEN_VENV)
	$(CODEGEN_VENV)/bin/python -m pip install -q -r client/codegen-requirements.txt
	touch $@

$(CLIENT_BUILD)/polycool_client: $(CODEGEN_VENV)/.installed install FORCE
	@rm -rf $(CLIENT_BUILD) && mkdir -p $(CLIENT_BUILD)
	@$(CODEGEN_VENV)/bin/python client/generate.py $(CLIENT_BUILD) > $(CLIENT_BUILD).log \
		|| (cat $(CLIENT_BUILD).log >&2; exit 1)
	@touch $@/py.typed
	@$(VENV)/bin/ruff check -q --config pyproject.toml --fix-only $@
	@$(VENV)/bin/ruff format -q --config pyproject.toml $@

client: $(CLIENT_BUILD)/polycool_client
	rm -rf client/polycool_client
	cp -R $(CLIENT_BUILD)/polycool_client client/polycool_client

check-client: $(CLIENT_BUILD)/polycool_client
	@diff -ru -x __pycache__ client/polycool_client $(CLIENT_BUILD)/polycool_client \
		|| (echo "client/polycool_client is out of date: run 'make client' and commit it" >&2; exit 1)

FORCE:

# The contract and freshness tests run a second time with graphql-core executing every
# operation (EXECUTION_PLANS=false): the answers must not depend on the executor.
# The README's picture of GraphiQL, taken again by the browser test (tests/browser/): the tests
# alone keep their screenshot in their own folder and leave the checkout as it was.
screenshot: install
	UPDATE_SCREENSHOT=1 $(PY) -m pytest -q tests/browser/test_graphiql.py -k demo_user

test: install lint typecheck check-schema check-client
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
	rm -rf $(VENV) $(CODEGEN_VENV) .data .mypy_cache .pytest_cache .ruff_cache graphiql/node_modules graphiql/dist
