# WEST Advocacy CRM — `make run` to try it, `make test` to test it.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 5000
FLASK = $(VENV)/bin/flask --app wsgi
PYTEST = $(VENV)/bin/pytest
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run test test-pg test-e2e lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install  ## set up (venv, migrations, demo data and admin on first start) and serve
	$(FLASK) db upgrade
	$(FLASK) crm bootstrap
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl+C to stop)"
	$(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --access-logfile - wsgi:app

test: install  ## the whole suite on SQLite (browser tests included when Chromium is installed)
	$(PYTEST) -q

test-pg: install  ## the suite against PostgreSQL
	CRM_TEST_DATABASE_URL=$${CRM_TEST_DATABASE_URL:-$(PG_TEST_URL)} $(PYTEST) -q --ignore=tests/e2e

test-e2e: install  ## browser tests in headless Chromium; fails if Chromium is missing
	CRM_REQUIRE_BROWSER=1 $(PYTEST) -q tests/e2e

lint: install
	$(VENV)/bin/ruff check .

bench: install  ## contact list speed at 100k and 1M contacts, SQLite and PostgreSQL
	$(VENV)/bin/python benchmarks/contact_list.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
