# One entry point for people and CI. Every target installs what it needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test demo check fmt lint types bench clean

install: $(STAMP)
	$(BIN)/python -m distro.localdb install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/distro demo
	$(BIN)/distro verify --output-dir migration-state/demo

fmt: $(STAMP)
	$(BIN)/ruff format distro tests benchmarks

lint: $(STAMP)
	$(BIN)/ruff format --check distro tests benchmarks
	$(BIN)/ruff check distro tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
