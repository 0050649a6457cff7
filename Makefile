# The two set-up commands: `make run` and `make test`. Both create .venv if missing and install
# the project into it; `make test` also runs ruff, mypy and the whole pytest suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/twin run

test: $(STAMP)
	$(BIN)/ruff check twin mocks tests
	$(BIN)/mypy twin mocks
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/twin bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
