# The two commands of the README: `make demo` and `make test`.
# Each sets everything up first (a virtual environment with the locked
# Python packages, the npm packages used by the interop tests and, for the
# tests, Debian's chromium for the browser tests).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

CHROMIUM := /usr/bin/chromium

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# make demo PORT=8001 serves the dashboard on another port; VERBOSE=1 logs every job.
PORT ?= 8000
DEMO_SETTINGS := --settings=config.demo_settings

demo: setup
	$(BIN)/python manage.py migrate --verbosity 0 $(DEMO_SETTINGS)
	$(BIN)/python manage.py demo --port $(PORT) $(if $(VERBOSE),--verbose) $(DEMO_SETTINGS)

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

test: setup $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/flows_limits.py

clean:
	rm -rf $(VENV) node_modules var
