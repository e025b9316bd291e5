# Placements: two commands do everything on a fresh machine (Python 3.11+, Node/npm, make).
#   make run    - install, build assets, migrate the SQLite database, load demo data, serve
#   make test   - install with test tools, build assets, run the whole test suite

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-pg browser install install-test assets db seed lint bench bench-load bench-load-pg clean

$(VENV)/.stamp-install: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-install pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

placements/static/dist/.stamp: node_modules/.stamp $(shell find assets-src -type f 2>/dev/null)
	npm run --silent build
	touch $@

install: $(VENV)/.stamp-install
install-test: $(VENV)/.stamp-test
assets: placements/static/dist/.stamp

db: install
	$(FLASK) db upgrade

seed: db
	$(FLASK) seed demo

run: install assets seed
	@echo "Serving Placements on http://$(HOST):$(PORT)"
	$(FLASK) run --host $(HOST) --port $(PORT)

# `make test` runs the whole suite on SQLite (with the browser tests), then again on a
# throwaway PostgreSQL server with a throwaway Redis (scripts/pg-test-server.sh and
# scripts/redis-test-server.sh install Debian's postgresql and redis-server when they can;
# outside CI a machine without them skips what needs them, with a warning).
test: lint test-sqlite test-pg

test-sqlite: install-test assets browser
	$(PY) -m pytest $(PYTEST_ARGS)

# The solver tests and the browser tests do not touch the app's database: run them once.
# A throwaway Redis runs beside it, so allocation runs also go through a real Celery worker.
test-pg: install-test
	bash scripts/redis-test-server.sh --optional \
		bash scripts/s3-test-server.sh --optional \
		bash scripts/pg-test-server.sh --optional $(PY) -m pytest -p no:cacheprovider \
		--ignore=tests/e2e --ignore=tests/unit/solver $(PYTEST_ARGS)

# Debian's chromium for the Playwright tests (never a browser download).
browser:
	@bash scripts/ensure-chromium.sh

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install-test
	$(PY) bench/solver.py

# Locust against gunicorn on loopback with the 50,000-learner demo, idle and while allocating.
bench-load: install-test
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) bench/load.py $(BENCH_ARGS)

# The same against a throwaway PostgreSQL, with the run solved by a Celery worker over Redis.
bench-load-pg: install-test
	$(PY) -m pip install --quiet -e ".[test,bench]"
	bash scripts/redis-test-server.sh bash scripts/pg-test-server.sh \
		$(PY) bench/load.py --postgres --celery $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules placements/static/dist instance/placements.sqlite*
