# okno — the two commands a newcomer needs: `make run` and `make test`.

PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
BIN    := $(VENV)/bin
URL    := http://$(HOST):$(PORT)

.PHONY: run test lint install install-dev bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "okno needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Start okno on SQLite with demo data and the fake providers; prints the URL and a login.
run: install
	$(BIN)/okno demo --base-url $(URL)
	OKNO_FAKE_PROVIDERS=1 OKNO_ALLOW_PRIVATE_URLS=1 OKNO_PUBLIC_URL=$(URL) OKNO_SIMULATE_RATE=4 $(BIN)/okno serve --host $(HOST) --port $(PORT)

## Lint: ruff, then the import contracts (kit knows no models; domains never import api, web or an adapter).
lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

## Run the whole test suite (SQLite always; PostgreSQL too when OKNO_TEST_DATABASE_URL is set), after lint;
## it includes the schemathesis run over the whole OpenAPI document (tests/test_api_fuzz.py).
## Two worker processes, each file's tests in one of them (TEST_WORKERS=0 runs them in this process);
## the 25 slowest test phases are listed at the end, to keep the two workers' shares even (tests/conftest.py).
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest --durations=25 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .okno .pytest_cache .hypothesis .ruff_cache .import_linter_cache
