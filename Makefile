# WEST Advocacy CRM — `make run` to try it, `make test` to test it.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 5000
DOCS_PORT ?= 8000
FLASK = $(VENV)/bin/flask --app wsgi
PYTEST = $(VENV)/bin/pytest
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# Settings (KEY=value lines) that honcho adds to both processes of `make run`, if the file exists.
ENV_FILE ?= .env

.PHONY: install run serve test test-pg test-e2e lint format typecheck bench docs docs-serve docs-screens clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The documentation's tools (MkDocs Material), added to the same venv when a docs target needs them.
$(VENV)/.installed-docs: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev,docs]'
	touch $@

install: $(VENV)/.installed

run: install serve  ## set up (venv, migrations, demo data and admin on first start), serve, and run a worker

# What `make run` does once the venv is installed (the browser tests start the app this way).
# honcho runs the Procfile: gunicorn on $(PORT) and `flask crm worker`, which sends emails and
# campaigns and runs imports, reminders and housekeeping. Ctrl+C (or SIGTERM) stops both.
# Links in emails go to this server unless CRM_BASE_URL says otherwise (the worker renders
# emails outside any request, so it must be told the address).
serve:
	$(FLASK) db upgrade
	$(FLASK) crm bootstrap
	@echo "Serving on http://127.0.0.1:$(PORT) with a worker for background jobs (Ctrl+C stops both)"
	exec env CRM_BASE_URL="$${CRM_BASE_URL:-http://127.0.0.1:$(PORT)}" \
		PATH="$(abspath $(VENV))/bin:$$PATH" PYTHONUNBUFFERED=1 \
		$(VENV)/bin/honcho start --port $(PORT) --env $(ENV_FILE)

# The suite runs in a process per core (pytest-xdist, each process its own database); the browser
# tests, which start a server of their own, run after it in one process. PARALLEL= runs in one.
PARALLEL ?= -n auto --maxprocesses 4

test: install  ## the whole suite on SQLite (browser tests included when Chromium is installed)
	$(PYTEST) -q $(PARALLEL) --ignore=tests/e2e
	$(PYTEST) -q tests/e2e

test-pg: install  ## the suite against PostgreSQL
	CRM_TEST_DATABASE_URL=$${CRM_TEST_DATABASE_URL:-$(PG_TEST_URL)} $(PYTEST) -q $(PARALLEL) --ignore=tests/e2e

test-e2e: install  ## browser tests in headless Chromium; fails if Chromium is missing
	CRM_REQUIRE_BROWSER=1 $(PYTEST) -q tests/e2e

lint: install  ## ruff's lint rules and its formatting, checked (not applied)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install  ## apply ruff's formatting and its safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: install  ## mypy over crm/, config.py and wsgi.py (settings in pyproject.toml)
	$(VENV)/bin/mypy

bench: install  ## contact list speed at 100k and 1M contacts, SQLite and PostgreSQL
	$(VENV)/bin/python benchmarks/contact_list.py

docs: $(VENV)/.installed-docs  ## the documentation site, built into site/; a broken link fails it
	$(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.installed-docs  ## the documentation on http://127.0.0.1:$(DOCS_PORT), rebuilt on save
	$(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

# The browser tests also save the pages the guides show; this run keeps them for the docs.
docs-screens: install  ## the browser tests, saving the guides' screenshots into docs/assets/screens/
	CRM_DOCS_SCREENSHOTS=1 CRM_REQUIRE_BROWSER=1 $(PYTEST) -q tests/e2e

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
