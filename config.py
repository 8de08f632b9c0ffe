"""Settings for WEST Advocacy CRM.

Every setting can be overridden from the environment. `CRM_CONFIG` picks the class
(development, test, production); the production class refuses to start without the secrets it
needs, instead of running on an unsafe default.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_PATH = Path(os.environ.get("CRM_INSTANCE_DIR") or BASE_DIR / "instance")


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _normalize_db_url(url: str) -> str:
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a driver name (psycopg 3).
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class BaseConfig:
    INSTANCE_DIR = str(INSTANCE_PATH)
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _normalize_db_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_PATH / 'crm.sqlite3'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    MAX_CONTENT_LENGTH = _env_int("CRM_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = (
        None  # token lives as long as the session; forms left open all day still work
    )
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Mail: "file" writes .eml files under instance/mail (works offline); "sendgrid" sends.
    MAIL_PROVIDER = os.environ.get("CRM_MAIL_PROVIDER", "file")
    MAIL_FILE_DIR = os.environ.get("CRM_MAIL_FILE_DIR", str(INSTANCE_PATH / "mail"))
    MAIL_DEFAULT_SENDER = os.environ.get("CRM_MAIL_SENDER", "WEST Advocacy <advocacy@example.org>")
    SENDGRID_API_KEY = os.environ.get("SENDGRID_API_KEY")
    SENDGRID_API_HOST = os.environ.get("SENDGRID_API_HOST", "https://api.sendgrid.com")
    # Event Webhook: the verification key from SendGrid's mail settings (base64, no PEM lines);
    # signed requests older than this many seconds are refused as replays.
    SENDGRID_WEBHOOK_PUBLIC_KEY = os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY")
    SENDGRID_WEBHOOK_MAX_AGE = _env_int("CRM_SENDGRID_WEBHOOK_MAX_AGE", 600)

    # Accounts
    INVITATION_MAX_AGE_SECONDS = _env_int("CRM_INVITATION_MAX_AGE", 7 * 24 * 3600)
    LOGIN_THROTTLE_WINDOW_SECONDS = _env_int("CRM_LOGIN_THROTTLE_WINDOW", 15 * 60)
    LOGIN_MAX_FAILURES_PER_ACCOUNT = _env_int("CRM_LOGIN_MAX_FAILURES_ACCOUNT", 5)
    LOGIN_MAX_FAILURES_PER_ADDRESS = _env_int("CRM_LOGIN_MAX_FAILURES_ADDRESS", 20)
    LOGIN_ATTEMPT_KEEP_DAYS = _env_int("CRM_LOGIN_ATTEMPT_KEEP_DAYS", 30)  # then deleted
    PASSWORD_MIN_LENGTH = _env_int("CRM_PASSWORD_MIN_LENGTH", 10)
    PASSWORD_HASH_METHOD = "scrypt"  # werkzeug's default; only tests choose another

    # Imports: the largest file and row count one import takes, how similar (0-100) an
    # organization name must be to one we have to be listed for review, and over how many rows
    # a web import is a job for `flask crm worker` (smaller files import while the page waits).
    IMPORT_MAX_BYTES = _env_int("CRM_IMPORT_MAX_BYTES", 200 * 1024 * 1024)
    IMPORT_MAX_ROWS = _env_int("CRM_IMPORT_MAX_ROWS", 2_000_000)
    IMPORT_FUZZY_THRESHOLD = _env_int("CRM_IMPORT_FUZZY_THRESHOLD", 90)
    IMPORT_BACKGROUND_ROWS = _env_int("CRM_IMPORT_BACKGROUND_ROWS", 2000)

    # Lists
    PAGE_SIZE = _env_int("CRM_PAGE_SIZE", 50)
    # Counting every match of a broad filter over a million rows costs more than the page itself;
    # above this the list says "more than N".
    COUNT_CAP = _env_int("CRM_COUNT_CAP", 10_000)

    # Champions: an active or committed champion with no endorsement for this long is lapsing.
    CHAMPION_LAPSING_MONTHS = _env_int("CRM_CHAMPION_LAPSING_MONTHS", 6)
    # Pledges: a quarter's progress report is due this many days after the quarter ends; a
    # pledge overdue for longer than the grace period is lapsed; reminders go out this many days
    # before the due date (and once when a report becomes overdue).
    PLEDGE_REPORT_DUE_DAYS = _env_int("CRM_PLEDGE_REPORT_DUE_DAYS", 30)
    PLEDGE_LAPSE_GRACE_DAYS = _env_int("CRM_PLEDGE_LAPSE_GRACE_DAYS", 90)
    PLEDGE_REMIND_DAYS_BEFORE = _env_int("CRM_PLEDGE_REMIND_DAYS_BEFORE", 14)
    # Public forms: accepted submissions per network address per hour (floods are refused).
    PUBLIC_FORM_HOURLY_LIMIT = _env_int("CRM_PUBLIC_FORM_HOURLY_LIMIT", 20)
    # Reverse proxies in front of the app (nginx, a load balancer): their X-Forwarded-For and
    # -Proto headers are trusted, so login throttling and public-form limits see the client's
    # address. 0 (the default) trusts no header: set it only when such a proxy exists.
    TRUSTED_PROXIES = _env_int("CRM_TRUSTED_PROXIES", 0)

    SERVER_NAME_FOR_LINKS = os.environ.get("CRM_BASE_URL")  # absolute links in emails

    # Background jobs: a running job's lease (its worker renews it; once it lapses, another
    # worker takes the job again) and how often an idle worker looks for work (PostgreSQL
    # workers are also woken at once by NOTIFY).
    JOB_LEASE_SECONDS = _env_int("CRM_JOB_LEASE_SECONDS", 60)
    JOB_POLL_SECONDS = float(os.environ.get("CRM_JOB_POLL_SECONDS") or 0.5)
    # Finished jobs are kept this many days (failed ones longer, to look into), then the hourly
    # housekeeping deletes them: an email's job holds its body, personal links included.
    JOB_KEEP_DAYS = _env_int("CRM_JOB_KEEP_DAYS", 14)
    JOB_KEEP_FAILED_DAYS = _env_int("CRM_JOB_KEEP_FAILED_DAYS", 30)
    # Campaign emails sent per request to the provider (SendGrid takes up to 1,000), and so
    # per sending job.
    CAMPAIGN_BATCH_SIZE = _env_int("CRM_CAMPAIGN_BATCH_SIZE", 1000)
    # How many sending jobs of one campaign may run at once (on PostgreSQL, across workers).
    CAMPAIGN_SEND_LANES = _env_int("CRM_CAMPAIGN_SEND_LANES", 4)

    TESTING = False
    DEBUG = False


class DevelopmentConfig(BaseConfig):
    """`make run`: SQLite under instance/, a secret kept in instance/secret_key."""

    DEBUG = False


class TestConfig(BaseConfig):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = _normalize_db_url(
        os.environ.get("CRM_TEST_DATABASE_URL", "sqlite:///:memory:")
    )
    WTF_CSRF_ENABLED = False  # tests that exercise CSRF switch it back on
    MAIL_PROVIDER = "file"
    PASSWORD_MIN_LENGTH = 8
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # scrypt's cost would dominate the suite
    SERVER_NAME_FOR_LINKS = "http://localhost"


class ProductionConfig(BaseConfig):
    SESSION_COOKIE_SECURE = _env_bool("CRM_SECURE_COOKIES", True)
    REMEMBER_COOKIE_SECURE = _env_bool("CRM_SECURE_COOKIES", True)
    SESSION_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def validate(cls) -> None:
        required = ("SECRET_KEY", "DATABASE_URL", "CRM_BASE_URL")
        missing = [name for name in required if not os.environ.get(name)]
        if missing:
            raise ConfigError(
                "Production configuration needs these environment variables: "
                + ", ".join(missing)
                + ". Set SECRET_KEY to a long random string, DATABASE_URL to the "
                "PostgreSQL URL (postgresql://user:password@host/dbname) and CRM_BASE_URL to "
                "the public address (https://crm.example.org): links in emails use it, never "
                "the Host header a visitor sends."
            )
        if len(os.environ["SECRET_KEY"]) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long in production.")


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> type[BaseConfig]:
    name = name or os.environ.get("CRM_CONFIG", "development")
    try:
        config = CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown CRM_CONFIG {name!r}; use one of {', '.join(CONFIGS)}."
        ) from None
    validate = getattr(config, "validate", None)
    if validate:
        validate()
    return config


def development_secret_key(instance_dir: Path) -> str:
    """A random key kept in instance/ so sessions survive restarts of `make run`."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
