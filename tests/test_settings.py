"""Settings: one parser reads every variable config.py declares; a value that is not what it
expects stops start-up with a message naming the variable (no traceback from `flask` or `make
run`); the defaults are the ones the app always had; no setting is read anywhere else or left
unread; and the reference in docs/ is the one generated from the declarations."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import config
from config import (
    BASE_DIR,
    BaseConfig,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestConfig,
    read_settings,
)
from tests.running import app_env, free_port, make_serve

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "SECRET_KEY": "k" * 40,
    "DATABASE_URL": "postgresql://crm:pw@db.internal/crm",
    "CRM_BASE_URL": "https://crm.example.org",
}

# The values every configuration had before the settings were declared in one place.
DEFAULTS = {
    "INSTANCE_DIR": str(BASE_DIR / "instance"),
    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{BASE_DIR / 'instance' / 'crm.sqlite3'}",
    "SECRET_KEY": None,
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    "MAIL_PROVIDER": "file",
    "MAIL_FILE_DIR": str(BASE_DIR / "instance" / "mail"),
    "MAIL_DEFAULT_SENDER": "WEST Advocacy <advocacy@example.org>",
    "SENDGRID_API_KEY": None,
    "SENDGRID_API_HOST": "https://api.sendgrid.com",
    "SENDGRID_WEBHOOK_PUBLIC_KEY": None,
    "SENDGRID_WEBHOOK_MAX_AGE": 600,
    "INVITATION_MAX_AGE_SECONDS": 7 * 24 * 3600,
    "LOGIN_THROTTLE_WINDOW_SECONDS": 15 * 60,
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
    "LOGIN_ATTEMPT_KEEP_DAYS": 30,
    "PASSWORD_MIN_LENGTH": 10,
    "PASSWORD_HASH_METHOD": "scrypt",
    "ADMIN_EMAIL": "admin@example.org",
    "ADMIN_PASSWORD": None,
    "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
    "IMPORT_MAX_ROWS": 2_000_000,
    "IMPORT_FUZZY_THRESHOLD": 90,
    "IMPORT_BACKGROUND_ROWS": 2000,
    "DUPLICATE_THRESHOLD": 90,
    "PAGE_SIZE": 50,
    "COUNT_CAP": 10_000,
    "CHAMPION_LAPSING_MONTHS": 6,
    "PLEDGE_REPORT_DUE_DAYS": 30,
    "PLEDGE_LAPSE_GRACE_DAYS": 90,
    "PLEDGE_REMIND_DAYS_BEFORE": 14,
    "PUBLIC_FORM_HOURLY_LIMIT": 20,
    "TRUSTED_PROXIES": 0,
    "SERVER_NAME_FOR_LINKS": None,
    "JOB_LEASE_SECONDS": 60,
    "JOB_POLL_SECONDS": 0.5,
    "JOB_KEEP_DAYS": 14,
    "JOB_KEEP_FAILED_DAYS": 30,
    "CAMPAIGN_BATCH_SIZE": 1000,
    "CAMPAIGN_SEND_LANES": 4,
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "WTF_CSRF_ENABLED": True,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "TESTING": False,
    "DEBUG": False,
}


def problem(config_cls: type[BaseConfig], **environ: str) -> str:
    with pytest.raises(ConfigError) as caught:
        read_settings(config_cls, environ=environ)
    return str(caught.value)


def test_the_defaults_are_unchanged():
    values = read_settings(DevelopmentConfig, environ={})
    assert {key: values[key] for key in DEFAULTS} == DEFAULTS


def test_the_test_configuration_pins_its_values_whatever_the_environment_says():
    values = read_settings(
        TestConfig,
        environ={
            "CRM_MAIL_PROVIDER": "sendgrid",
            "CRM_PASSWORD_MIN_LENGTH": "30",
            "CRM_BASE_URL": "https://crm.example.org",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "postgresql://crm@db/crm",
        },
    )
    assert values["MAIL_PROVIDER"] == "file" and values["PASSWORD_MIN_LENGTH"] == 8
    assert values["SERVER_NAME_FOR_LINKS"] == "http://localhost"
    assert values["SECRET_KEY"] == "test-secret-key-not-for-production"
    assert values["SQLALCHEMY_DATABASE_URI"] == "sqlite:///:memory:"
    assert values["PASSWORD_HASH_METHOD"] == "pbkdf2:sha256:1" and values["TESTING"] is True


def test_production_keeps_its_secure_cookies_and_reads_its_secrets():
    values = read_settings(ProductionConfig, environ=PRODUCTION)
    assert values["SESSION_COOKIE_SECURE"] is values["REMEMBER_COOKIE_SECURE"] is True
    assert values["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://crm:pw@db.internal/crm"
    assert values["SERVER_NAME_FOR_LINKS"] == "https://crm.example.org"
    plain = read_settings(ProductionConfig, environ={**PRODUCTION, "CRM_SECURE_COOKIES": "off"})
    assert plain["SESSION_COOKIE_SECURE"] is plain["REMEMBER_COOKIE_SECURE"] is False


def test_production_refuses_missing_secrets_and_a_short_key():
    message = problem(ProductionConfig, CRM_BASE_URL="https://crm.example.org")
    listed = message.split("environment variables: ")[1].split(".")[0]
    assert listed == "SECRET_KEY, DATABASE_URL"  # CRM_BASE_URL is set
    short = problem(ProductionConfig, **{**PRODUCTION, "SECRET_KEY": "short"})
    assert "at least 32 characters" in short


def test_values_from_the_environment():
    values = read_settings(
        DevelopmentConfig,
        environ={
            "CRM_PAGE_SIZE": " 25 ",
            "CRM_JOB_POLL_SECONDS": "2",
            "CRM_MAIL_PROVIDER": "SendGrid",
            "DATABASE_URL": "postgres://u@h/db",
            "CRM_INSTANCE_DIR": "relative/instance",
            "CRM_COUNT_CAP": "",  # empty counts as unset
        },
    )
    assert values["PAGE_SIZE"] == 25 and values["JOB_POLL_SECONDS"] == 2.0
    assert values["MAIL_PROVIDER"] == "sendgrid"
    assert values["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    instance = Path.cwd() / "relative" / "instance"  # absolute, as Flask's instance path
    assert values["INSTANCE_DIR"] == str(instance)
    assert values["MAIL_FILE_DIR"] == str(instance / "mail")  # follows the instance folder
    assert values["COUNT_CAP"] == 10_000


def test_overrides_from_code_take_a_settings_place_and_computed_defaults_follow():
    values = read_settings(
        DevelopmentConfig, {"INSTANCE_DIR": "/srv/crm", "PAGE_SIZE": 7}, {"CRM_PAGE_SIZE": "no"}
    )
    assert values["PAGE_SIZE"] == 7
    assert values["MAIL_FILE_DIR"] == "/srv/crm/mail"
    assert values["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/crm/crm.sqlite3"


@pytest.mark.parametrize(
    ("variable", "value", "expects"),
    [
        ("CRM_PAGE_SIZE", "fifty", "a whole number, 1 or more"),
        ("CRM_PAGE_SIZE", "-5", "a whole number, 1 or more"),
        ("CRM_TRUSTED_PROXIES", "-1", "a whole number, 0 or more"),
        ("CRM_CAMPAIGN_BATCH_SIZE", "5000", "a whole number from 1 to 1000"),
        ("CRM_DUPLICATE_THRESHOLD", "20", "a whole number from 50 to 100"),
        ("CRM_JOB_POLL_SECONDS", "soon", "a number of seconds above 0"),
        ("CRM_JOB_POLL_SECONDS", "0", "a number of seconds above 0"),
        ("CRM_JOB_POLL_SECONDS", "nan", "a number of seconds above 0"),
        ("CRM_MAIL_PROVIDER", "smtp", "one of file, sendgrid"),
        ("CRM_BASE_URL", "crm.example.org", "an http:// or https:// address"),
        ("CRM_BASE_URL", "https://crm.example.org:https", "an http:// or https:// address"),
        ("SENDGRID_API_HOST", "ftp://api.sendgrid.com", "an http:// or https:// address"),
        ("CRM_MAIL_SENDER", "WEST Advocacy", "an email address"),
        ("CRM_ADMIN_EMAIL", "admin", "an email address"),
    ],
)
def test_a_value_that_is_not_what_the_setting_takes_is_refused_by_name(variable, value, expects):
    message = problem(DevelopmentConfig, **{variable: value})
    assert message.startswith(f"{variable} must be {expects}")
    assert message.endswith(f"; it is {value!r}.")


def test_a_flag_takes_true_or_false_only():
    message = problem(ProductionConfig, **PRODUCTION, CRM_SECURE_COOKIES="maybe")
    assert message == (
        "CRM_SECURE_COOKIES must be true or false (also 1/0, yes/no, on/off); it is 'maybe'."
    )


def test_a_bad_database_url_is_refused_without_showing_it():
    for url in ("not a url", "mysql://crm:hunter2@db/crm"):
        message = problem(DevelopmentConfig, DATABASE_URL=url)
        assert message.startswith("DATABASE_URL must be a PostgreSQL or SQLite URL")
        assert url not in message and "hunter2" not in message


def test_every_bad_value_is_named_at_once():
    message = problem(DevelopmentConfig, CRM_PAGE_SIZE="fifty", CRM_JOB_LEASE_SECONDS="-1")
    assert "CRM_PAGE_SIZE must be" in message and "CRM_JOB_LEASE_SECONDS must be" in message


def test_an_unknown_configuration_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("CRM_CONFIG", "staging")
    with pytest.raises(ConfigError, match="CRM_CONFIG must be one of development, test, prod"):
        config.load_config()


def _python_sources() -> list[Path]:
    return [*sorted((ROOT / "crm").rglob("*.py")), ROOT / "wsgi.py"]


def test_no_code_but_config_reads_the_environment():
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _python_sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"os\.environ|getenv", line)
    ]
    assert readers == []


# Settings that Flask or its extensions read, not our code.
READ_BY_FLASK = {
    "SECRET_KEY",
    "SQLALCHEMY_DATABASE_URI",
    "MAX_CONTENT_LENGTH",
    "SESSION_COOKIE_SECURE",
    "REMEMBER_COOKIE_SECURE",
}


def test_every_setting_is_read_somewhere():
    source = "\n".join(path.read_text() for path in _python_sources())
    unread = [
        setting.env
        for cls in config.CONFIGS.values()
        for key, setting in config.settings_of(cls).items()
        if key not in READ_BY_FLASK and f'"{key}"' not in source
    ]
    assert unread == []


def test_the_settings_reference_is_up_to_date():
    from crm.settings_reference import REFERENCE, render

    assert REFERENCE.read_text() == render(), (
        "docs/reference/settings.md is out of date: run `python -m crm.settings_reference`"
    )
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", REFERENCE.read_text(), re.MULTILINE))
    declared = {
        setting.env
        for cls in config.CONFIGS.values()
        for setting in config.settings_of(cls).values()
        if not setting.pinned
    }
    assert declared | {"CRM_CONFIG"} == documented
    assert all(setting.help for cls in config.CONFIGS.values() for setting in
               config.settings_of(cls).values())  # fmt: skip


# --- as a process starts ----------------------------------------------------------------------

BAD = {"CRM_PAGE_SIZE": "fifty", "CRM_BASE_URL": "crm.example.org"}


def test_flask_stops_with_the_message_and_no_traceback(tmp_path):
    env = {**app_env(tmp_path / "instance"), **BAD}
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "wsgi", "crm", "worker", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Configuration error" in result.stderr
    assert "CRM_PAGE_SIZE must be a whole number, 1 or more; it is 'fifty'." in result.stderr
    assert "CRM_BASE_URL must be an http:// or https:// address" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_make_run_stops_with_the_message_and_no_traceback(tmp_path):
    instance = tmp_path / "instance"
    served = make_serve(instance, tmp_path / "make.log", {**app_env(instance), **BAD}, free_port())
    try:
        assert served.wait(120) not in (None, 0), served.log_tail()
    finally:
        served.stop()
    log = served.log_text()
    assert "CRM_PAGE_SIZE must be a whole number" in log and "CRM_BASE_URL must be" in log
    assert "Traceback" not in log
    assert not (instance / "crm.sqlite3").exists()  # stopped before touching anything
