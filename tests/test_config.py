from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_wsgi(env_overrides: dict, code: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    env.update(env_overrides)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            code or "import wsgi; print('started', wsgi.app.config['SESSION_COOKIE_SECURE'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.no_db
def test_production_refuses_to_start_without_secrets(tmp_path):
    result = run_wsgi({"CRM_CONFIG": "production", "CRM_INSTANCE_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "DATABASE_URL" in result.stderr
    assert "CRM_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.no_db
def test_production_refuses_a_short_secret(tmp_path):
    result = run_wsgi(
        {
            "CRM_CONFIG": "production",
            "SECRET_KEY": "short",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "CRM_INSTANCE_DIR": str(tmp_path),
            "CRM_BASE_URL": "https://crm.example.org",
        }
    )
    assert result.returncode != 0 and "at least 32 characters" in result.stderr


@pytest.mark.no_db
def test_production_starts_with_secrets_and_secure_cookies(tmp_path):
    result = run_wsgi(
        {
            "CRM_CONFIG": "production",
            "SECRET_KEY": "k" * 40,
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "CRM_INSTANCE_DIR": str(tmp_path),
            "CRM_BASE_URL": "https://crm.example.org",
        }
    )
    assert result.returncode == 0, result.stderr
    assert "started True" in result.stdout


@pytest.mark.no_db
def test_production_tells_browsers_to_use_https_only_and_development_does_not(tmp_path):
    show = (
        "import wsgi; r = wsgi.app.test_client().get('/healthz'); "
        "print('hsts', r.headers.get('Strict-Transport-Security'))"
    )
    production = {
        "CRM_CONFIG": "production",
        "SECRET_KEY": "k" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "CRM_INSTANCE_DIR": str(tmp_path),
        "CRM_BASE_URL": "https://crm.example.org",
    }
    result = run_wsgi(production, code=show)
    assert "hsts max-age=31536000; includeSubDomains" in result.stdout, result.stderr[-2000:]
    development = {"CRM_CONFIG": "development", "CRM_INSTANCE_DIR": str(tmp_path / "dev")}
    assert "hsts None" in run_wsgi(development, code=show).stdout


@pytest.mark.no_db
def test_development_keeps_a_generated_secret_in_instance(tmp_path):
    from config import development_secret_key

    first = development_secret_key(tmp_path)
    assert len(first) > 40 and development_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.no_db
def test_postgres_urls_get_the_psycopg_driver():
    from config import normalize_db_url

    assert normalize_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_db_url("sqlite:///x") == "sqlite:///x"


def test_security_headers_and_error_pages(client, as_role):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    as_role("lead")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "Not found" in missing.get_data(as_text=True)


def test_too_large_request_gets_a_clear_page(client, as_role, app):
    as_role("lead")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/contacts/new", data={"notes": "x" * 5000})
        assert response.status_code == 413
        assert "larger than" in response.get_data(as_text=True)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
