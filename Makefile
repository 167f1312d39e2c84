# Flagship: `make run` serves the demo store, `make test` runs the whole suite. Both work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := wsgi
TEST_PG_URL ?= postgresql://127.0.0.1:5432/test
# Two workers (the machines have two cores); a file's tests stay on one worker (browser tests share a live server).
PYTEST_WORKERS ?= -n 2 --dist loadfile
TRANSLATION_DIRS = $(shell find storefront -type d -name translations)

.PHONY: run serve install install-dev migrate seed test test-sqlite test-postgres test-fast lint typecheck bench i18n translations clean help cluster cluster-stop loadtest cluster-ci

help:
	@echo "make run | make test | make serve | make lint | make typecheck | make bench | make i18n | make clean"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime translations
install-dev: $(VENV)/.dev translations

translations: | $(BIN)/activate
	@for d in $(TRANSLATION_DIRS); do \
	  if ls $$d/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then $(BIN)/pybabel -q compile -d $$d || exit 1; fi; \
	done

migrate: install
	mkdir -p instance
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed

run: seed
	DEMO_MODE=$${DEMO_MODE:-1} $(BIN)/flask run --host $(HOST) --port $(PORT)

serve: seed
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $${WORKERS:-3} --access-logfile - wsgi:app

# The full suite: SQLite (with the browser tests), then PostgreSQL when it answers.
test: install-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS)
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(TEST_PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "== PostgreSQL ($(TEST_PG_URL))"; \
	  TEST_DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS) -m "not e2e"; \
	else echo "== PostgreSQL not reachable at $(TEST_PG_URL): skipped (CI requires it)"; \
	  if [ -n "$$CI" ]; then exit 1; fi; fi

test-fast: install-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e and not slow" -x

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check storefront models tests config.py wsgi.py || true

typecheck: install-dev
	$(BIN)/mypy

# `make bench` runs every benchmark; `make bench catalog` (or events, finance) runs one: the names after
# `bench` on the command line are benchmark names, not targets.
BENCH_NAMES := $(if $(filter bench,$(firstword $(MAKECMDGOALS))),$(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS)))
bench: install-dev
	$(BIN)/python -m tests.load.bench $(BENCH_NAMES) $(BENCH_ARGS)
ifneq ($(BENCH_NAMES),)
$(BENCH_NAMES): ; @:
endif

# Re-extract messages of every area into its own catalog; then fill in the Chinese msgstr entries.
i18n: install-dev
	$(BIN)/python -m storefront.i18n_tools update

clean:
	rm -rf $(VENV) instance/*.db instance/*.db-wal instance/*.db-shm .pytest_cache .mypy_cache .ruff_cache

# --- production shape on this machine (deploy/, docs/deploy.md) ----------------------------------------------------
# nginx on 127.0.0.1:8080 in front of CLUSTER_HOSTS app hosts, each in its own network namespace (needs root).
USERS ?= 100
DURATION ?= 60
SCENARIO ?= none

cluster: install-dev
	$(BIN)/python -m tests.system.cluster up

cluster-stop: | $(BIN)/activate
	$(BIN)/python -m tests.system.cluster down

# The launch-day journey (tests/load/locustfile.py) against the running cluster, then the database checks.
# SCENARIO: none | stop-host | lose-host | rolling
loadtest: install-dev
	$(BIN)/python -m tests.load.run --users $(USERS) --duration $(DURATION) --scenario $(SCENARIO)

# What CI runs: cluster up, the cross-host tests, 20 users for 15 s with one host stopped, cluster down.
cluster-ci: install-dev
	$(BIN)/python -m tests.system.cluster up --scale 0
	@status=0; \
	FLAGSHIP_CLUSTER=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/system/test_cluster.py || status=1; \
	$(BIN)/python -m tests.load.run --users 20 --duration 15 --scenario stop-host || status=1; \
	$(BIN)/python -m tests.system.cluster down; exit $$status
