# The two set-up commands: `make run` and `make test`. Both create .venv if missing and install
# the project into it; `make test` also runs ruff, mypy, the whole pytest suite and the conformance suite
# (`twin conform --slow` against the reference integration, every scenario; reports in .conformance/).
# The suite runs on PYTEST_WORKERS processes (pytest-xdist), except tests/live: those time real servers,
# MLLP and Locust on the wall clock, so they run after it, one at a time, with the machine to themselves.
# Both print their slowest tests: what to look at first when CI grows slow.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,load,notebooks,cluster]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/twin run

test: $(STAMP)
	$(BIN)/ruff check twin mocks tests examples
	$(BIN)/mypy twin mocks
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --ignore=tests/live --durations=15
	$(BIN)/python -m pytest tests/live --durations=10
	$(BIN)/twin conform --slow --junit .conformance/junit.xml --json .conformance/results.json --html .conformance/report.html

bench: $(STAMP)
	$(BIN)/twin bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
