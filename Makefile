# One entry point for people and CI. Every target installs what it needs.
# The first Python >= 3.11 on the PATH (override: make PYTHON=/path/to/python).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11 python; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; \
	done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test test-browser chromium screenshots demo local check fmt lint types bench clean

install: $(STAMP)
	$(BIN)/python -m distro.local install

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: no Python 3.11 or newer on the PATH; install one or pass PYTHON=/path/to/python" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# pytest's own settings (pyproject.toml) run the suite on xdist workers; its exit code is
# make's, so "no tests collected" (5) fails CI like a failing test.
test: install
	$(BIN)/python -m pytest

# The pages in a real browser: Debian's chromium (installed when missing) driven by
# Playwright's Python driver, never a browser of Playwright's own. Outside `make test`.
CHROMIUM      ?= /usr/bin/chromium
SUDO          := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BROWSER_STAMP := $(VENV)/.browser-stamp

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,browser]'
	touch $(BROWSER_STAMP)

chromium:
	@test -x $(CHROMIUM) || { echo "make: installing Debian's chromium for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }; }

test-browser: install $(BROWSER_STAMP) chromium
	DISTRO_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -m browser -n 0 tests/browser

# The README's pictures: the browser tests' screenshots of the analyze and status pages.
screenshots: test-browser
	cp .cache/screenshots/analyze.png docs/analyze-page.png
	cp .cache/screenshots/status.png docs/status-page.png

demo: install
	$(BIN)/distro demo --count-shards
	$(BIN)/distro verify --output-dir migration-state/demo

# The demo's database left running, seeded, for commands of your own (Ctrl-C stops it).
local: install
	$(BIN)/distro demo --keep

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
