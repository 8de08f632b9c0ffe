"""Settings for WEST Advocacy CRM: each declared once here with its environment variable, the
kind of value it takes, its default and what it does, and read by one parser when a process
starts (`create_app`). `docs/reference/settings.md` is generated from these declarations
(`python -m crm.settings_reference`).

`CRM_CONFIG` picks the configuration class (development, test, production). A class's
UPPER_CASE attributes become Flask's `app.config`: a `Setting` is read from the environment,
anything else is fixed. A value that is not what its setting expects stops start-up with a
message naming the variable and what it takes, and the production class refuses to start
without the secrets it needs instead of running on an unsafe default.

Why these classes and one parser of our own rather than pydantic-settings: Flask takes its
configuration as a class of UPPER_CASE attributes, and the test class pins some values whatever
the environment says (the mail provider, the address links point to); a pydantic model would
have to be turned into that class and back. The settings are some fifty scalars of ten kinds,
which the parser below reads in under two hundred lines, with messages written for whoever runs
the app, and it reads nothing until it is asked to (the old classes read the environment on
import, so a bad value was a traceback before any handler could word it). pydantic-settings
would add six packages, one of them compiled, and 0.15-0.35 s to every start of a web process,
worker and `flask` command, and its messages ("Input should be a valid integer, unable to parse
string as an integer [type=int_parsing, ...]") would still need rewording.
"""

from __future__ import annotations

import email.utils
import math
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent

T = TypeVar("T")


class ConfigError(RuntimeError):
    """A setting is missing, unsafe or not what it expects; the message says which and how to
    fix it."""


# --- kinds of value -------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind(Generic[T]):
    """What a setting's text must be, and how it becomes a value."""

    expects: str  # "a whole number, 1 or more": in start-up errors and in the reference
    parse: Callable[[str], T]  # raises ValueError when the text is not one
    secret: bool = False  # a message never repeats the value (it may be or hold a password)


def whole(minimum: int = 0, maximum: int | None = None) -> Kind[int]:
    if maximum is None:
        expects = f"a whole number, {minimum} or more"
    else:
        expects = f"a whole number from {minimum} to {maximum}"

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(text)
        return value

    return Kind(expects, parse)


def seconds(above: float = 0) -> Kind[float]:
    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value) or value <= above:
            raise ValueError(text)
        return value

    return Kind(f"a number of seconds above {above:g}, such as 0.5", parse)


def choice(*values: str) -> Kind[str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in values:
            raise ValueError(text)
        return value

    return Kind("one of " + ", ".join(values), parse)


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(text)


def _web_address(text: str) -> str:
    value = text.strip()
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in value)
    ):
        raise ValueError(text)
    parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    return value


def normalize_db_url(url: str) -> str:
    """Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a driver name (psycopg 3)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _database_url(text: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = normalize_db_url(text.strip())
    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        raise ValueError(text) from None
    if backend not in ("postgresql", "sqlite"):
        raise ValueError(text)
    return value


def _email_address(text: str) -> str:
    value = text.strip()
    _name, address = email.utils.parseaddr(value)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        raise ValueError(text)
    return value


def _redis_url(text: str) -> str:
    value = text.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or any(c.isspace() for c in value):
        raise ValueError(text)
    return value


def _text(text: str) -> str:
    return text.strip()


ROLE_NAMES = ("admin", "lead", "volunteer", "champion", "org_rep", "viewer")  # crm.core.access


def _roles(text: str) -> tuple[str, ...]:
    value = text.strip().lower()
    if value == "none":
        return ()
    names = tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    if not names or any(name not in ROLE_NAMES for name in names):
        raise ValueError(text)
    return names


def _folder(text: str) -> str:
    # Absolute, as Flask wants its instance path, and the same whatever directory a job runs in.
    return os.path.abspath(os.path.expanduser(text.strip()))


FLAG = Kind("true or false (also 1/0, yes/no, on/off)", _flag)
WEB_ADDRESS = Kind("an http:// or https:// address such as https://crm.example.org", _web_address)
DATABASE_URL = Kind(
    "a PostgreSQL or SQLite URL such as postgresql://user:password@host/dbname",
    _database_url,
    secret=True,
)
EMAIL_ADDRESS = Kind(
    "an email address, with or without a name: WEST Advocacy <advocacy@example.org>",
    _email_address,
)
FOLDER = Kind("a folder (its path)", _folder)
REDIS_ADDRESS = Kind(
    "a Redis URL such as redis://:password@host:6379/0 (rediss:// for TLS)",
    lambda text: _redis_url(text),
    secret=True,
)
TEXT = Kind("text", _text)
SECRET = Kind("text (kept secret)", lambda text: text, secret=True)
ROLES = Kind("role names separated by commas (" + ", ".join(ROLE_NAMES) + "), or none", _roles)


# --- settings -------------------------------------------------------------------------------

# The sections of the reference, in order; every setting names one.
TOPICS = (
    "Configuration and storage",
    "Web server",
    "Mail",
    "Accounts and signing in",
    "First start (`flask crm bootstrap`)",
    "Background jobs",
    "Lists",
    "Imports",
    "Duplicates",
    "Champions, pledges and public forms",
    "The API",
    "Tests",
)

Computed = Callable[[Mapping[str, Any]], Any]  # a default made from the other values


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: what it takes, its default and what it does (`help`, which
    the reference shows)."""

    env: str
    kind: Kind[T]
    default: T | Computed | None
    help: str
    topic: str
    default_text: str | None = None  # the default as the reference shows it, when computed
    pinned: bool = False  # the default is the value; the environment is not read

    def __post_init__(self) -> None:
        if self.topic not in TOPICS:
            raise ValueError(f"{self.env}: unknown topic {self.topic!r}")

    def pin(self, value: T | None) -> Setting[T]:
        """The same setting with a value a configuration fixes (tests), whatever the
        environment says."""
        return replace(self, default=value, pinned=True)

    def with_default(self, value: T | None) -> Setting[T]:
        return replace(self, default=value, default_text=None)

    def read(self, environ: Mapping[str, str]) -> T | Computed | None:
        """The value from `environ`, the default when unset or empty (a computed default is
        returned as is, for `read_settings` to compute)."""
        text = None if self.pinned else environ.get(self.env)
        if text is None or not text.strip():
            return self.default
        try:
            return self.kind.parse(text)
        except ValueError:
            shown = "its value is not shown" if self.kind.secret else f"it is {text!r}"
            raise ConfigError(f"{self.env} must be {self.kind.expects}; {shown}.") from None

    def value(self, environ: Mapping[str, str] | None = None) -> T | None:
        """This one setting, read from the process's environment, outside any app."""
        value = self.read(os.environ if environ is None else environ)
        if callable(value):
            raise TypeError(f"{self.env}'s default is computed from other settings")
        return value


def _in_instance(name: str) -> Computed:
    return lambda values: str(Path(values["INSTANCE_DIR"]) / name)


def _sqlite_in_instance(values: Mapping[str, Any]) -> str:
    return f"sqlite:///{Path(values['INSTANCE_DIR']) / 'crm.sqlite3'}"


# --- the configurations ---------------------------------------------------------------------


class BaseConfig:
    # Configuration and storage
    INSTANCE_DIR = Setting(
        "CRM_INSTANCE_DIR",
        FOLDER,
        str(BASE_DIR / "instance"),
        "The folder for what this machine keeps: the SQLite database (by default), the "
        "development secret key, emails as `.eml` files, uploaded import files and the SQLite "
        "worker's lock. Delete it to start over.",
        "Configuration and storage",
        default_text="`instance/` beside `config.py`",
    )
    SQLALCHEMY_DATABASE_URI = Setting(
        "DATABASE_URL",
        DATABASE_URL,
        _sqlite_in_instance,
        "The database: PostgreSQL in production, where several machines share it. "
        "`postgres://` and `postgresql://` URLs get the psycopg 3 driver.",
        "Configuration and storage",
        default_text="`crm.sqlite3` in `CRM_INSTANCE_DIR`",
    )
    SECRET_KEY = Setting[str](
        "SECRET_KEY",
        SECRET,
        None,
        "Signs sessions, forms and the links in emails (invitations, unsubscribe): a long "
        "random string, the same on every machine. Unset (not in production), a random key is "
        "made once and kept in `CRM_INSTANCE_DIR/secret_key`.",
        "Configuration and storage",
    )
    REDIS_URL = Setting[str](
        "CRM_REDIS_URL",
        REDIS_ADDRESS,
        None,
        "Where the figures every process shares (the dashboard's counts, the quarterly "
        "report) are kept: unset, in the database (table `stored_value`); set, in this Redis. "
        "Worth it with several machines or heavy traffic (see the README).",
        "Configuration and storage",
    )
    REDIS_PREFIX = Setting(
        "CRM_REDIS_PREFIX",
        TEXT,
        "crm:",
        "What this CRM's keys in Redis begin with, so several CRMs can share one Redis.",
        "Configuration and storage",
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # How long a writer waits for SQLite's write lock before the "database is busy" page.
    SQLITE_BUSY_TIMEOUT_MS = 10_000

    # Web server
    SERVER_NAME_FOR_LINKS = Setting(
        "CRM_BASE_URL",
        WEB_ADDRESS,
        None,
        "The public address links in emails start with; links never come from the Host header "
        "a visitor sends. Unset (not in production), the worker and `flask` commands use "
        "http://127.0.0.1:5000 (`make run` sets it to the address it serves on).",
        "Web server",
    )
    TRUSTED_PROXIES = Setting(
        "CRM_TRUSTED_PROXIES",
        whole(0),
        0,
        "How many reverse proxies (nginx, a load balancer) stand in front of the app: their "
        "X-Forwarded-For, -Proto and -Host headers are trusted, so login throttling and the "
        "public-form limit see each client's own address. 0 trusts no such header: set it only "
        "when such a proxy exists.",
        "Web server",
    )
    MAX_CONTENT_LENGTH = Setting(
        "CRM_MAX_UPLOAD_BYTES",
        whole(1),
        20 * 1024 * 1024,
        "The largest request body, uploads included, in bytes; a larger one gets a "
        "\u201cfile too large\u201d page. `flask crm import` takes larger files "
        "(`CRM_IMPORT_MAX_BYTES`).",
        "Web server",
        default_text="20971520 (20 MiB)",
    )
    HSTS_SECONDS = Setting(
        "CRM_HSTS_SECONDS",
        whole(0),
        0,
        "Strict-Transport-Security: how long browsers must reach the app over HTTPS only. "
        "Production sends a year; 0 sends no header.",
        "Web server",
    )
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session; forms left open all day work
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Mail
    MAIL_PROVIDER = Setting(
        "CRM_MAIL_PROVIDER",
        choice("file", "sendgrid"),
        "file",
        "How email leaves: `file` writes each as an `.eml` file under `CRM_MAIL_FILE_DIR` "
        "(works offline); `sendgrid` sends through SendGrid and needs `SENDGRID_API_KEY`.",
        "Mail",
    )
    MAIL_FILE_DIR = Setting(
        "CRM_MAIL_FILE_DIR",
        FOLDER,
        _in_instance("mail"),
        "Where the `file` provider writes emails.",
        "Mail",
        default_text="`mail/` in `CRM_INSTANCE_DIR`",
    )
    MAIL_DEFAULT_SENDER = Setting(
        "CRM_MAIL_SENDER",
        EMAIL_ADDRESS,
        "WEST Advocacy <advocacy@example.org>",
        "The From address of emails (a campaign may name its own sender).",
        "Mail",
    )
    SENDGRID_API_KEY = Setting[str](
        "SENDGRID_API_KEY",
        SECRET,
        None,
        "SendGrid's API key, for `CRM_MAIL_PROVIDER=sendgrid`.",
        "Mail",
    )
    SENDGRID_API_HOST = Setting(
        "SENDGRID_API_HOST",
        WEB_ADDRESS,
        "https://api.sendgrid.com",
        "SendGrid's API address: another region's, or a stand-in for tests.",
        "Mail",
    )
    SENDGRID_WEBHOOK_PUBLIC_KEY = Setting[str](
        "SENDGRID_WEBHOOK_PUBLIC_KEY",
        TEXT,
        None,
        "The verification key of SendGrid's Event Webhook, from its mail settings (base64, "
        "without the PEM lines). Deliveries, opens, clicks and bounces are recorded only from "
        "requests signed with it; unset, every event is refused.",
        "Mail",
    )
    SENDGRID_WEBHOOK_MAX_AGE = Setting(
        "CRM_SENDGRID_WEBHOOK_MAX_AGE",
        whole(1),
        600,
        "Seconds a signed webhook request stays good; older ones are refused as replays.",
        "Mail",
    )

    # Accounts and signing in
    PASSWORD_MIN_LENGTH = Setting(
        "CRM_PASSWORD_MIN_LENGTH",
        whole(8),
        10,
        "The fewest characters a password may have.",
        "Accounts and signing in",
    )
    PASSWORD_HASH_METHOD = "scrypt"  # werkzeug's default; only tests choose another
    INVITATION_MAX_AGE_SECONDS = Setting(
        "CRM_INVITATION_MAX_AGE",
        whole(1),
        7 * 24 * 3600,
        "Seconds an invitation link works.",
        "Accounts and signing in",
        default_text="604800 (7 days)",
    )
    RESET_LINK_HOURS = Setting(
        "CRM_RESET_LINK_HOURS",
        whole(1, 168),
        24,
        "Hours a password reset link sent by an admin works (once).",
        "Accounts and signing in",
    )
    FORGOT_LINK_MINUTES = Setting(
        "CRM_FORGOT_LINK_MINUTES",
        whole(5, 24 * 60),
        60,
        'Minutes the link answering "Forgot your password?" works (once).',
        "Accounts and signing in",
    )
    FORGOT_PER_ADDRESS_HOUR = Setting(
        "CRM_FORGOT_PER_ADDRESS_HOUR",
        whole(1),
        3,
        "Reset links one email address may be sent in an hour (more asks are answered the "
        "same, and send nothing).",
        "Accounts and signing in",
    )
    LOGIN_THROTTLE_WINDOW_SECONDS = Setting(
        "CRM_LOGIN_THROTTLE_WINDOW",
        whole(1),
        15 * 60,
        "Seconds over which failed logins are counted for throttling.",
        "Accounts and signing in",
        default_text="900 (15 minutes)",
    )
    LOGIN_MAX_FAILURES_PER_ACCOUNT = Setting(
        "CRM_LOGIN_MAX_FAILURES_ACCOUNT",
        whole(1),
        5,
        "Failed logins to one account from one network address within the window before that "
        "address is refused for a while (the owner still signs in from elsewhere).",
        "Accounts and signing in",
    )
    LOGIN_MAX_FAILURES_PER_ADDRESS = Setting(
        "CRM_LOGIN_MAX_FAILURES_ADDRESS",
        whole(1),
        20,
        "Failed logins from one network address within the window before it is refused for a "
        "while.",
        "Accounts and signing in",
    )
    REMEMBER_DAYS = Setting(
        "CRM_REMEMBER_DAYS",
        whole(1, 365),
        30,
        'Days "Keep me signed in" lasts from the sign-in with a password; the remember cookie '
        "gets a new secret each time it is used.",
        "Accounts and signing in",
    )
    SESSION_IDLE_HOURS = Setting(
        "CRM_SESSION_IDLE_HOURS",
        whole(1),
        12,
        "Hours without a request after which a sign-in not kept ends.",
        "Accounts and signing in",
    )
    PASSKEY_RP_NAME = Setting(
        "CRM_PASSKEY_RP_NAME",
        TEXT,
        "WEST Advocacy CRM",
        "The name a person's device shows when it saves or offers one of their passkeys. "
        "Passkeys belong to the host name of `CRM_BASE_URL` (or `localhost` when that is "
        "127.0.0.1), and work only where the app is reached at that address.",
        "Accounts and signing in",
    )
    SECURITY_LOG_KEEP_DAYS = Setting(
        "CRM_SECURITY_LOG_KEEP_DAYS",
        whole(1),
        365,
        "Days the account-security log (sign-ins, failures, sign-outs, password changes) is "
        "kept; the hourly housekeeping deletes older entries.",
        "Accounts and signing in",
    )
    REQUIRE_2FA_ROLES = Setting(
        "CRM_REQUIRE_2FA_ROLES",
        ROLES,
        ("admin", "lead"),
        "Roles that must sign in with a second factor (an authenticator app): after the "
        "password, someone of such a role without one can do nothing but set it up.",
        "Accounts and signing in",
        default_text="`admin,lead`",
    )
    TWO_FACTOR_TRUST_DAYS = Setting(
        "CRM_TWO_FACTOR_TRUST_DAYS",
        whole(1, 365),
        30,
        'Days "Trust this browser" skips the two-factor code on that browser (until the '
        "password changes or the second factor is reset).",
        "Accounts and signing in",
    )
    LOGIN_ATTEMPT_KEEP_DAYS = Setting(
        "CRM_LOGIN_ATTEMPT_KEEP_DAYS",
        whole(1),
        30,
        "Days login attempts are kept; the hourly housekeeping deletes older ones.",
        "Accounts and signing in",
    )
    API_REQUESTS_PER_MINUTE = Setting(
        "CRM_API_REQUESTS_PER_MINUTE",
        whole(1),
        600,
        "Requests one API token may make in a minute; past it the API answers 429 with "
        "`Retry-After` until the next minute.",
        "The API",
    )
    API_MAX_BODY_BYTES = Setting(
        "CRM_API_MAX_BODY_BYTES",
        whole(1024),
        1024 * 1024,
        "The largest body an API request may send; a larger one is answered 413 before it is read.",
        "The API",
    )

    # First start
    ADMIN_EMAIL = Setting(
        "CRM_ADMIN_EMAIL",
        EMAIL_ADDRESS,
        "admin@example.org",
        "The admin account `flask crm bootstrap` (and so the first `make run`) creates.",
        "First start (`flask crm bootstrap`)",
    )
    ADMIN_PASSWORD = Setting[str](
        "CRM_ADMIN_PASSWORD",
        SECRET,
        None,
        "That admin's password; unset, one is generated and shown once.",
        "First start (`flask crm bootstrap`)",
    )

    # Background jobs
    JOB_LEASE_SECONDS = Setting(
        "CRM_JOB_LEASE_SECONDS",
        whole(1),
        60,
        "A running job's lease: its worker renews it, and once it lapses (the worker died) "
        "another worker takes the job again.",
        "Background jobs",
    )
    JOB_POLL_SECONDS = Setting(
        "CRM_JOB_POLL_SECONDS",
        seconds(above=0),
        0.5,
        "How often an idle worker looks for work (on PostgreSQL, NOTIFY also wakes it at once).",
        "Background jobs",
    )
    JOB_KEEP_DAYS = Setting(
        "CRM_JOB_KEEP_DAYS",
        whole(0),
        14,
        "Days finished jobs are kept before the hourly housekeeping deletes them: an email's "
        "job holds its body, personal links included.",
        "Background jobs",
    )
    JOB_KEEP_FAILED_DAYS = Setting(
        "CRM_JOB_KEEP_FAILED_DAYS",
        whole(0),
        30,
        "Days failed and cancelled jobs are kept, to look into, before they are deleted.",
        "Background jobs",
    )
    CAMPAIGN_BATCH_SIZE = Setting(
        "CRM_CAMPAIGN_BATCH_SIZE",
        whole(1, 1000),
        1000,
        "Campaign emails sent in one request to the provider, and so by one sending job "
        "(SendGrid takes up to 1,000).",
        "Background jobs",
    )
    CAMPAIGN_SEND_LANES = Setting(
        "CRM_CAMPAIGN_SEND_LANES",
        whole(1),
        4,
        "How many sending jobs of one campaign may run at once (on PostgreSQL, across workers).",
        "Background jobs",
    )
    CAMPAIGN_REQUESTS_IN_FLIGHT = Setting(
        "CRM_CAMPAIGN_REQUESTS_IN_FLIGHT",
        whole(1, 32),
        4,
        "Requests to SendGrid one sending job keeps in flight at once (each a batch), so a "
        "slow answer does not hold the worker; a worker killed mid-send resends at most these.",
        "Background jobs",
    )

    # Lists
    PAGE_SIZE = Setting(
        "CRM_PAGE_SIZE",
        whole(1),
        50,
        "Rows on one page of a list.",
        "Lists",
    )
    COUNT_CAP = Setting(
        "CRM_COUNT_CAP",
        whole(1),
        10_000,
        "Lists count the matches of a filter up to this many and then say \u201cmore than "
        "N\u201d: counting every match of a broad filter over a million rows costs more than "
        "the page itself.",
        "Lists",
    )

    # Roles
    VOLUNTEERS_SEE_RECIPIENTS = Setting(
        "CRM_VOLUNTEERS_SEE_RECIPIENTS",
        FLAG,
        False,
        "Whether working-group volunteers see who a campaign went to (its recipients and their "
        "addresses, a preview as one of them, a segment's members). Off, they see a campaign's "
        "figures (sent, delivered, opened, bounced) and its text only; leads and admins always "
        "see the recipients.",
        "Accounts and signing in",
    )

    # Imports
    IMPORT_MAX_BYTES = Setting(
        "CRM_IMPORT_MAX_BYTES",
        whole(1),
        200 * 1024 * 1024,
        "The largest file one import takes, in bytes (uploads are also held to "
        "`CRM_MAX_UPLOAD_BYTES`).",
        "Imports",
        default_text="209715200 (200 MiB)",
    )
    # A few times the upload limit: a real workbook's sheets unpack to 10-20 times the file,
    # a decompression bomb to hundreds. Sheets are streamed; the parts openpyxl holds whole
    # are capped at a fifth of this (crm/imports/workbook_limits.py).
    IMPORT_MAX_UNPACKED_BYTES = Setting(
        "CRM_IMPORT_MAX_UNPACKED_BYTES",
        whole(1),
        lambda values: 5 * values["MAX_CONTENT_LENGTH"],
        "The most an Excel (.xlsx) file may unpack to, in bytes, all its parts together; a "
        "part held in memory whole (the shared strings) may take a fifth of it. Checked from "
        "the sizes the file declares before any of it is read, so a decompression bomb is "
        "refused at once; a larger table imports as CSV.",
        "Imports",
        default_text="5 \u00d7 `CRM_MAX_UPLOAD_BYTES` (104857600, 100 MiB)",
    )
    IMPORT_MAX_ROWS = Setting(
        "CRM_IMPORT_MAX_ROWS",
        whole(1),
        2_000_000,
        "The most rows one import takes.",
        "Imports",
    )
    IMPORT_FUZZY_THRESHOLD = Setting(
        "CRM_IMPORT_FUZZY_THRESHOLD",
        whole(0, 100),
        90,
        "How similar (0-100) an imported organization's name must be to one the CRM has to be "
        "listed for review as a possible match.",
        "Imports",
    )
    IMPORT_BACKGROUND_ROWS = Setting(
        "CRM_IMPORT_BACKGROUND_ROWS",
        whole(0),
        2000,
        "A file of more rows than this is imported by the worker; smaller files import while "
        "the page waits.",
        "Imports",
    )

    # Duplicates
    DUPLICATE_THRESHOLD = Setting(
        "CRM_DUPLICATE_THRESHOLD",
        whole(50, 100),
        90,
        "How similar (50-100) two contacts' or organizations' names must be for the duplicates "
        "page to list them as a pair.",
        "Duplicates",
    )

    # Champions, pledges and public forms
    CHAMPION_LAPSING_MONTHS = Setting(
        "CRM_CHAMPION_LAPSING_MONTHS",
        whole(1),
        6,
        "An active or committed champion with no endorsement for this many months is lapsing.",
        "Champions, pledges and public forms",
    )
    PLEDGE_REPORT_DUE_DAYS = Setting(
        "CRM_PLEDGE_REPORT_DUE_DAYS",
        whole(0),
        30,
        "A quarter's progress report is due this many days after the quarter ends.",
        "Champions, pledges and public forms",
    )
    PLEDGE_LAPSE_GRACE_DAYS = Setting(
        "CRM_PLEDGE_LAPSE_GRACE_DAYS",
        whole(0),
        90,
        "A pledge whose report is overdue for longer than this many days is lapsed.",
        "Champions, pledges and public forms",
    )
    PLEDGE_REMIND_DAYS_BEFORE = Setting(
        "CRM_PLEDGE_REMIND_DAYS_BEFORE",
        whole(0),
        14,
        "Reminders go out this many days before a report is due (and once when it becomes "
        "overdue).",
        "Champions, pledges and public forms",
    )
    PUBLIC_FORM_HOURLY_LIMIT = Setting(
        "CRM_PUBLIC_FORM_HOURLY_LIMIT",
        whole(1),
        20,
        "Submissions of the public forms (pledge, event registration, consultation) accepted "
        "per network address per hour; floods are refused.",
        "Champions, pledges and public forms",
    )

    TESTING = False
    DEBUG = False

    @classmethod
    def validate(cls, values: Mapping[str, Any]) -> None:
        """Refuse values that are each valid but unsafe together (see ProductionConfig)."""


class DevelopmentConfig(BaseConfig):
    """`make run`: SQLite under instance/, a secret kept in instance/secret_key."""

    DEBUG = False


class TestConfig(BaseConfig):
    TESTING = True
    SECRET_KEY = BaseConfig.SECRET_KEY.pin("test-secret-key-not-for-production")
    SQLALCHEMY_DATABASE_URI = Setting(
        "CRM_TEST_DATABASE_URL",
        DATABASE_URL,
        "sqlite:///:memory:",
        "The database the test suite runs on (`make test-pg` points it at PostgreSQL); the "
        "tests drop and recreate its `public` schema.",
        "Tests",
        default_text="SQLite in memory",
    )
    REDIS_URL = BaseConfig.REDIS_URL.pin(None)  # the Redis tests name their own server
    WTF_CSRF_ENABLED = False  # tests that exercise CSRF switch it back on
    MAIL_PROVIDER = BaseConfig.MAIL_PROVIDER.pin("file")
    PASSWORD_MIN_LENGTH = BaseConfig.PASSWORD_MIN_LENGTH.pin(8)
    # Existing tests sign admins and leads in with a password alone; the two-factor tests
    # turn the requirement on.
    REQUIRE_2FA_ROLES = BaseConfig.REQUIRE_2FA_ROLES.pin(())
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # scrypt's cost would dominate the suite
    SERVER_NAME_FOR_LINKS = BaseConfig.SERVER_NAME_FOR_LINKS.pin("http://localhost")


class ProductionConfig(BaseConfig):
    # No SQLite fallback: the production database is named.
    SQLALCHEMY_DATABASE_URI = BaseConfig.SQLALCHEMY_DATABASE_URI.with_default(None)
    SESSION_COOKIE_SECURE = Setting(
        "CRM_SECURE_COOKIES",
        FLAG,
        True,
        "The session and remember-me cookies go over HTTPS only. Turn it off "
        "only to try the production configuration without TLS.",
        "Web server",
    )
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SESSION_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "https"
    HSTS_SECONDS = BaseConfig.HSTS_SECONDS.with_default(365 * 24 * 3600)

    # Settings production refuses to start without, and the shortest secret key it takes
    # (lower case: not settings themselves).
    required = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SERVER_NAME_FOR_LINKS")
    secret_key_min_length = 32

    @classmethod
    def validate(cls, values: Mapping[str, Any]) -> None:
        missing = [getattr(cls, name).env for name in cls.required if not values.get(name)]
        if missing:
            raise ConfigError(
                "Production configuration needs these environment variables: "
                + ", ".join(missing)
                + ". Set SECRET_KEY to a long random string, DATABASE_URL to the "
                "PostgreSQL URL (postgresql://user:password@host/dbname) and CRM_BASE_URL to "
                "the public address (https://crm.example.org): links in emails use it, never "
                "the Host header a visitor sends."
            )
        if len(values["SECRET_KEY"]) < cls.secret_key_min_length:
            raise ConfigError(
                f"SECRET_KEY must be at least {cls.secret_key_min_length} characters long in "
                "production."
            )


CONFIGS: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}

CONFIG_NAME = Setting(
    "CRM_CONFIG",
    choice(*CONFIGS),
    "development",
    "Which configuration the app runs with. `production` refuses to start without "
    "`SECRET_KEY`, `DATABASE_URL` and `CRM_BASE_URL`, and sends cookies over HTTPS only.",
    "Configuration and storage",
)


# --- reading them ---------------------------------------------------------------------------


def load_config(name: str | None = None) -> type[BaseConfig]:
    """The configuration class `name` picks, or else `CRM_CONFIG`."""
    if name is None:
        name = CONFIG_NAME.value()
    try:
        return CONFIGS[name or ""]
    except KeyError:
        raise ConfigError(
            f"{CONFIG_NAME.env} must be {CONFIG_NAME.kind.expects}; it is {name!r}."
        ) from None


def settings_of(config: type[BaseConfig]) -> dict[str, Setting]:
    """The settings `config` reads, by their `app.config` key, in the order they are declared
    (a base class's first)."""
    names = [name for cls in reversed(config.__mro__) for name in vars(cls) if name.isupper()]
    return {
        name: value
        for name in dict.fromkeys(names)
        if isinstance(value := getattr(config, name), Setting)
    }


def read_settings(
    config: type[BaseConfig],
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every UPPER_CASE attribute of `config`, as `app.config` takes them: each setting read
    from `environ` (the process's own by default), unless `overrides` (from code: tests,
    benchmarks) gives its value.

    Raises ConfigError naming every variable whose value is not what it expects, or what the
    configuration refuses (production without its secrets)."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    computed: dict[str, Computed] = {}
    problems: list[str] = []
    for name in dir(config):
        if not name.isupper() or name in overrides:
            continue
        item = getattr(config, name)
        if not isinstance(item, Setting):
            values[name] = item
            continue
        try:
            value = item.read(environ)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if callable(value):
            computed[name] = value
        else:
            values[name] = value
    problems = list(dict.fromkeys(problems))  # one setting may fill two keys (cookies)
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError("these settings are not valid:\n  " + "\n  ".join(problems))
    values.update(overrides)
    for name, compute in computed.items():
        values[name] = compute(values)
    config.validate(values)
    return values


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
