# The whole set-up on a fresh machine is two commands: `make run` and `make test`.
# Neither needs a PostgreSQL or Redis: with no DATABASE_URL / REDIS_URL the embedded ones start.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_USERS ?= 500
DEMO_SEED ?= 1

.PHONY: install run test lint typecheck schema check-schema clean

install: $(VENV)/.installed

# Dependencies only: the project runs from its checkout (see pyproject.toml).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[dev]"
	touch $@

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

test: install lint typecheck check-schema
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .data .mypy_cache .pytest_cache .ruff_cache
