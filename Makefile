# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := demo
export BASTION_DATA_DIR ?= ./var

.PHONY: run test lint typecheck contracts unit install bench clean security

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/bastion init $(DEMO) --demo --if-missing
	$(BIN)/bastion serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/bastion

contracts: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 tests

test: lint typecheck contracts unit

bench: $(STAMP)
	$(BIN)/python bench/orm_overhead.py

# sqlmap (Debian package `sqlmap`) against every API endpoint of a real server: docs/security.md.
security: $(STAMP)
	$(BIN)/python tests/security/sqlmap/scan.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
