"""WEST Advocacy CRM: the application factory.

Every `import crm.<anything>` runs this module first, so the domains are imported inside the
`register_*` functions, when an app is made: at the top, importing any one module (a test's,
a migration's, the worker's) would load every domain.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_login import user_loaded_from_cookie

from config import BaseConfig, development_secret_key, load_config, read_settings
from crm.core import errors, templating
from crm.core.clean_request import CleanRequest
from crm.core.converters import DatabaseIdConverter
from crm.core.unit_of_work import CRMFlask
from crm.core.write_lock import begins_writing
from crm.extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: type[BaseConfig] | str | None = None, **overrides: Any) -> Flask:
    """The app with `config` (a class, its name, or else `CRM_CONFIG`'s) read from the
    environment, `overrides` taking the place of any setting. Raises config.ConfigError when a
    setting is not valid."""
    config_cls = config if isinstance(config, type) else load_config(config)
    settings = read_settings(config_cls, overrides)
    app = CRMFlask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=settings["INSTANCE_DIR"],
    )
    app.request_class = CleanRequest
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    app.config.update(settings)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = development_secret_key(Path(app.instance_path))

    register_extensions(app)
    register_models()
    register_personal_data_hooks()
    register_domain_hooks()
    register_jobs()
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_cli(app)
    trust_proxies(app)
    logging.basicConfig(level=logging.INFO)
    return app


def trust_proxies(app: Flask) -> None:
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's documented way to add WSGI middleware (see Flask.wsgi_app): wrapping the
        # method keeps `app` the Flask object. Deliberate, so the type checker is told.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(secret: str):
        from crm.auth import sessions  # a domain: imported here (see the module docstring)

        return sessions.user_for(secret)

    @user_loaded_from_cookie.connect_via(app)
    def rotate_remembered(_app, user):
        from crm.auth import sessions

        sessions.remembered_from_cookie(user)

    # The cookie lasts as long as the session it names (Flask-Login's default is a year).
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=app.config["REMEMBER_DAYS"])

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _configure_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """Foreign keys on, WAL for concurrent readers, and transactions SQLAlchemy fully controls.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; the documented fix
    is to turn it off and emit BEGIN ourselves.
    """

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # How long a writer waits for another's lock before the "database is busy" page.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        # A transaction that writes takes the write lock up front: one that has read cannot
        # later upgrade to writing once another has written ("database is locked"). With the
        # lock first, concurrent writers queue for busy_timeout instead of failing.
        # Which transactions write is decided in one place (crm.core.write_lock).
        connection.exec_driver_sql("BEGIN IMMEDIATE" if begins_writing() else "BEGIN")


def register_models() -> None:
    """Import every model module so the metadata (and Alembic) sees all tables."""
    # Imported here, when an app is made, to keep `import crm.<module>` light (see above).
    import crm.api.models  # noqa: F401
    import crm.audit.models  # noqa: F401
    import crm.auth.models  # noqa: F401
    import crm.auth.passkey_models  # noqa: F401
    import crm.auth.two_factor_models  # noqa: F401
    import crm.campaigns.models  # noqa: F401
    import crm.champions.models  # noqa: F401
    import crm.consultations.models  # noqa: F401
    import crm.contacts.models  # noqa: F401
    import crm.core.flood  # noqa: F401
    import crm.core.jobs.models  # noqa: F401
    import crm.core.shared_store  # noqa: F401
    import crm.duplicates.models  # noqa: F401
    import crm.engagements.models  # noqa: F401
    import crm.events.models  # noqa: F401
    import crm.imports.models  # noqa: F401
    import crm.library.models  # noqa: F401
    import crm.organizations.models  # noqa: F401
    import crm.pledges.models  # noqa: F401
    import crm.standards.models  # noqa: F401
    import crm.tags.models  # noqa: F401
    import crm.workgroups.models  # noqa: F401


def register_personal_data_hooks() -> None:
    """Domains that hold more about a person add it to exports and erasures."""
    # Imported here, when an app is made, to keep `import crm.<module>` light (see above).
    import crm.campaigns.personal_data  # noqa: F401
    import crm.champions.personal_data  # noqa: F401
    import crm.consultations.personal_data  # noqa: F401
    import crm.duplicates.personal_data  # noqa: F401
    import crm.engagements.personal_data  # noqa: F401
    import crm.events.personal_data  # noqa: F401
    import crm.imports.personal_data  # noqa: F401
    import crm.pledges.personal_data  # noqa: F401


def register_domain_hooks() -> None:
    """Domains that refer to records of a domain below them register what it cannot import:
    checks that refuse or let go of a deletion (crm.core.deletion; a lower domain's checks come
    first, as each imports the one below it) and what counts as a version's usage."""
    # Imported here, when an app is made, to keep `import crm.<module>` light (see above).
    import crm.champions.operations.endorsements  # noqa: F401
    import crm.consultations.queries  # noqa: F401
    import crm.contacts.operations  # noqa: F401
    import crm.duplicates.store  # noqa: F401
    import crm.pledges.operations.lifecycle  # noqa: F401
    import crm.pledges.queries  # noqa: F401
    import crm.workgroups.operations  # noqa: F401


def register_jobs() -> None:
    """Import every module that registers job handlers or periodic work, so any process (a
    worker, or a page that queues a job) knows every kind."""
    # Imported here, when an app is made, to keep `import crm.<module>` light (see above).
    import crm.api.jobs  # noqa: F401
    import crm.auth.jobs  # noqa: F401
    import crm.campaigns.jobs  # noqa: F401
    import crm.core.housekeeping  # noqa: F401
    import crm.core.mail  # noqa: F401
    import crm.dashboard.jobs  # noqa: F401
    import crm.duplicates.jobs  # noqa: F401
    import crm.imports.jobs  # noqa: F401
    import crm.pledges.jobs  # noqa: F401
    import crm.reports.jobs  # noqa: F401


def register_blueprints(app: Flask) -> None:
    # Imported here, when an app is made, to keep `import crm.<module>` light (see above).
    from crm.api import setup as api_setup
    from crm.api.token_pages import bp as api_tokens_bp
    from crm.audit.views import bp as audit_bp
    from crm.auth.admin import bp as users_bp
    from crm.auth.passkey_views import bp as passkeys_bp
    from crm.auth.two_factor_views import bp as two_factor_bp
    from crm.auth.views import bp as auth_bp
    from crm.campaigns.public import bp as campaign_public_bp
    from crm.campaigns.public import webhook_bp as campaign_webhooks_bp
    from crm.campaigns.views import bp as campaigns_bp
    from crm.champions.self_service import bp as my_champion_bp
    from crm.champions.views import bp as champions_bp
    from crm.consultations.public import bp as public_consultations_bp
    from crm.consultations.views import bp as consultations_bp
    from crm.contacts.views import bp as contacts_bp
    from crm.core.health import bp as health_bp
    from crm.core.jobs.views import bp as jobs_bp
    from crm.dashboard.views import bp as dashboard_bp
    from crm.duplicates.views import bp as duplicates_bp
    from crm.engagements.views import bp as engagements_bp
    from crm.events.public import bp as public_events_bp
    from crm.events.views import bp as events_bp
    from crm.imports.views import bp as imports_bp
    from crm.library.public import bp as public_library_bp
    from crm.library.views import bp as library_bp
    from crm.organizations.views import bp as organizations_bp
    from crm.pledges.public import bp as public_pledges_bp
    from crm.pledges.self_service import bp as my_pledge_bp
    from crm.pledges.views import bp as pledges_bp
    from crm.reports.views import bp as reports_bp
    from crm.standards.views import bp as standards_bp
    from crm.workgroups.views import bp as workgroups_bp

    api_setup.init_app(app)
    for bp in (
        health_bp,
        api_tokens_bp,
        dashboard_bp,
        auth_bp,
        two_factor_bp,
        passkeys_bp,
        users_bp,
        organizations_bp,
        contacts_bp,
        engagements_bp,
        champions_bp,
        my_champion_bp,
        events_bp,
        public_events_bp,
        standards_bp,
        pledges_bp,
        my_pledge_bp,
        public_pledges_bp,
        campaigns_bp,
        campaign_public_bp,
        campaign_webhooks_bp,
        workgroups_bp,
        library_bp,
        public_library_bp,
        reports_bp,
        consultations_bp,
        public_consultations_bp,
        audit_bp,
        duplicates_bp,
        imports_bp,
        jobs_bp,
    ):
        app.register_blueprint(bp)


def register_errorhandlers(app: Flask) -> None:
    errors.register(app)


def register_template_helpers(app: Flask) -> None:
    templating.register(app)


def register_security_headers(app: Flask) -> None:
    hsts = int(app.config.get("HSTS_SECONDS") or 0)

    @app.after_request
    def set_headers(response):
        if hsts:
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={hsts}; includeSubDomains"
            )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            # No 'unsafe-inline' for styles: templates use classes from static/css (a test
            # forbids style attributes); scripts may still set element.style (CSSOM).
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        return response


def register_cli(app: Flask) -> None:
    # Imported here, when an app is made, to keep `import crm.<module>` light (see above).
    from crm.cli import crm_cli

    app.cli.add_command(crm_cli)
