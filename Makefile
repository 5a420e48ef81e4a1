# The two commands: `make run` and `make test`. Everything else is a helper of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint types pytest install system-deps docs clean bench bench-full

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: install, migrate, load the demo on first run, serve on http://127.0.0.1:$(PORT)
run: $(STAMP)
	mkdir -p var
	$(BIN)/cityops db upgrade --data-dir var
	test -f var/.demo-loaded || ($(BIN)/cityops demo --data-dir var && touch var/.demo-loaded)
	CITYOPS_PORT=$(PORT) $(BIN)/cityops serve --data-dir var

## make test: everything the tests need, then lint, types and the full suite
test: $(STAMP) system-deps lint types pytest

system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -q -p no:cacheprovider

docs: $(STAMP)
	$(BIN)/python -m cityops.docsgen

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
