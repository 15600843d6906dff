# Entry points for developers and CI. `make test` is the one command CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
CODE := schemas transport producers consumers infra
OIDC := tests/oidc_provider
AXE := tests/browser/axe

.PHONY: help lint test demo kafka-up kafka-down console-assets bench bytecode

# `make bench BENCH_SCALE=full`: the issue's sizes (200k audit events, 60 s of alerts, ...).
BENCH_SCALE ?= quick

help:
	@echo "make .venv       create the virtualenv from uv.lock (uv $(UV_VERSION) in $(TOOLS)/)"
	@echo "make lint        ruff check + mypy --strict"
	@echo "make bytecode    compile the project's modules ahead (test, demo and bench do it first)"
	@echo "make test        lint, then the whole test suite against a real Kafka broker"
	@echo "make demo        the platform end to end: Kafka, topics, registry, signed events, verified"
	@echo "make kafka-up    start the local broker (jars from Maven Central, cached)"
	@echo "make kafka-down  stop the local broker (data kept in ~/.local/state/emining)"
	@echo "make console-assets  fetch the console's pinned font from npm again and check it"
	@echo "make bench       every benchmark against a throwaway broker, then one table (rates, ratio"
	@echo "                 to raw aiokafka, p50/p99, RSS, targets) in build/bench/; ~3-5 min on"
	@echo "                 2 cores; BENCH_SCALE=full for the issue's sizes"

# uv itself lives in a project-local tools venv, pinned, so nothing global is needed.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: machines of this kind set PYTHONDONTWRITEBYTECODE=1, so without it every
# process (each service, CLI call, test subprocess, verify worker) compiled the libraries it
# imports from source again: ~2 s of CPU per start (docs/performance.md, "Seventh pass").
$(VENV): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --compile-bytecode
	@touch $(VENV)

# The project's own modules compiled ahead as well (only those changed since), and the
# libraries of a virtualenv made before --compile-bytecode (a file a library ships that does not
# compile is not ours to fix: only its speed is at stake). Python uses a .pyc only while its
# source's modification time (whole seconds) and size are those it was compiled from, as on any
# machine that writes bytecode.
bytecode: $(VENV)
	$(BIN)/python -m compileall -q \
	  "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
	  > /dev/null || true
	$(BIN)/python -m compileall -q -x /node_modules/ $(CODE) benchmarks tests

lint: $(VENV)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict $(CODE) benchmarks

# The OIDC tests run a real OpenID provider (node-oidc-provider), locked in its package-lock.
$(OIDC)/node_modules: $(OIDC)/package.json $(OIDC)/package-lock.json
	npm ci --prefix $(OIDC) --no-audit --no-fund --silent
	@touch $@

# The browser tests check every console page with axe-core, locked in its package-lock (the
# tests read node_modules/axe-core/axe.min.js; nothing is fetched while they run).
$(AXE)/node_modules: $(AXE)/package.json $(AXE)/package-lock.json
	npm ci --prefix $(AXE) --no-audit --no-fund --silent
	@touch $@

# EMINING_REQUIRE_KAFKA/_POSTGRES/_OIDC/_BROWSER=1: a missing broker, database, identity provider
# or browser (chromium + chromedriver) fails the run, never skips. The suite runs as two pytest
# sessions side by side, one per core (tests/lanes.py says which tests go where); either failing,
# or collecting nothing (pytest's exit 5: a broken run, not a green one), fails `make test`.
test: lint bytecode $(OIDC)/node_modules $(AXE)/node_modules
	PYTEST=$(BIN)/pytest $(BIN)/python tests/lanes.py

demo: bytecode
	$(BIN)/emining demo

kafka-up: $(VENV)
	$(BIN)/emining kafka up

kafka-down: $(VENV)
	$(BIN)/emining kafka down

# The console's front-end assets are committed (a pinned font and its licence); this fetches the
# pinned package again and checks the committed files against it and their SHA256SUMS.
console-assets:
	bash consumers/console/static/fonts/refetch.sh

# Every benchmark in turn against one throwaway broker (or EMINING_KAFKA_BOOTSTRAP's), then one
# table: build/bench/results.json and build/bench/table.md (the README's performance table).
bench: bytecode
	$(BIN)/python -m benchmarks.suite --scale $(BENCH_SCALE) --out build/bench
