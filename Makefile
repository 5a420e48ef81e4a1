# The two commands: `make run` and `make test`. Everything else is a helper of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint types pytest install system-deps docs clean bench bench-full frontend fuzz-long test-crash \
	cluster cluster-down cluster-test cluster-single audit

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# the NGSI-LD client of the round-trip test (#15): its own pins (httpx<0.24, rich<13) clash with ours, so it
	# and the few packages it needs that ours do not bring are installed without dependency resolution
	$(BIN)/python -m pip install -q --no-deps 'ngsildclient>=0.5.2,<0.6' scalpl isodate multipledispatch aiofiles networkx
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: install, migrate, load the demo on first run, serve on http://127.0.0.1:$(PORT)
run: $(STAMP) frontend
	mkdir -p var
	$(BIN)/cityops db upgrade --data-dir var
	test -f var/.demo-loaded || ($(BIN)/cityops demo --data-dir var && touch var/.demo-loaded)
	CITYOPS_PORT=$(PORT) $(BIN)/cityops serve --data-dir var

## make test: everything the tests need, then lint, types and the full suite
test: $(STAMP) system-deps frontend lint types pytest

## make frontend: npm ci from the lockfile, then build the web bundles (skipped when up to date)
WEB_DIST := src/cityops/web/static/dist/manifest.json
FRONTEND_SRC := $(shell find frontend/src frontend/templates frontend/icons -type f 2>/dev/null) frontend/build.mjs
frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

$(WEB_DIST): frontend/node_modules/.package-lock.json $(FRONTEND_SRC)
	cd frontend && node build.mjs

frontend: $(WEB_DIST)

system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -q -p no:cacheprovider

## make test-crash: the crash-safety test with many SIGKILL rounds (CRASH_ROUNDS, default 25); `make test` runs 3
CRASH_ROUNDS ?= 25
test-crash: $(STAMP)
	CITYOPS_CRASH_ROUNDS=$(CRASH_ROUNDS) $(BIN)/pytest -q -p no:cacheprovider -s tests/reliability/test_crash.py

## make fuzz-long: the API fuzz with many more examples per operation than in `make test`
fuzz-long: $(STAMP)
	CITYOPS_FUZZ_EXAMPLES=50 $(BIN)/pytest -q -p no:cacheprovider -s tests/security/test_fuzz.py

docs: $(STAMP)
	$(BIN)/python -m cityops.docsgen

audit: $(STAMP)  ## dependency audit (#21): records locked versions; skips with a message when offline
	scripts/audit.sh

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache

## make bench: quick benchmark profile (< 5 min on 2 cores): table, bench/results/<time>.json, BENCHMARKS.md
## make bench-full: the long profile (10^8 observations, 10^6 cases); not part of `make test`
## one figure alone, smaller: .venv/bin/python -m bench --backends sqlite --figures latest --no-peer --scale 0.1
PEER_VENV := bench/.venv-peer
$(PEER_VENV)/.installed:
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install -q django-ogc-sensorthings uvicorn 'psycopg[binary]'
	touch $@

# py-spy (for --spy) once, not a pip round-trip per run
$(BIN)/py-spy: | $(STAMP)
	$(BIN)/python -m pip install -q py-spy

bench: $(STAMP) $(PEER_VENV)/.installed $(BIN)/py-spy
	$(BIN)/python -m bench --profile quick --write-md

bench-full: $(STAMP) $(PEER_VENV)/.installed $(BIN)/py-spy
	$(BIN)/python -m bench --profile full --write-md

## make cluster: the scale-out tier on loopback in $(CLUSTER_DIR) (3 NATS JetStream nodes with MQTT, PostgreSQL
## primary + streaming replica, pgbouncer, 3 API workers behind nginx, MQTT ingest, 2 consumer processes)
## make cluster-down: stop all of it and remove the directory
## make cluster-test: a fresh cluster, the replica read test, the mixed load with faults, then down (docs/scale.md)
CLUSTER_DIR ?= /tmp/cityops-cluster
export CLUSTER_DIR
CLUSTER_STAMP := $(VENV)/.installed-cluster
$(CLUSTER_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,cluster]' && touch $@

cluster: $(STAMP) $(CLUSTER_STAMP) system-deps
	$(BIN)/python scripts/cluster/cluster.py up

cluster-down: $(STAMP)
	$(BIN)/python scripts/cluster/cluster.py down

cluster-single: $(STAMP)  ## the cluster test's load against one `cityops serve` (PostgreSQL, Mosquitto), for comparison
	$(BIN)/python scripts/cluster/cluster_test.py --single

cluster-test: $(STAMP) $(CLUSTER_STAMP) system-deps
	$(BIN)/python scripts/cluster/cluster.py up
	rc=0; CITYOPS_TEST_BACKENDS=postgresql $(BIN)/pytest -q -n 0 -p no:cacheprovider tests/cluster || rc=1; \
	$(BIN)/python scripts/cluster/cluster_test.py || rc=1; \
	$(BIN)/python scripts/cluster/cluster.py down; exit $$rc
