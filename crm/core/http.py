"""Small request helpers."""

from __future__ import annotations

from urllib.parse import urlsplit


def client_address() -> str:
    """The address the request came from (behind a reverse proxy, CRM_TRUSTED_PROXIES makes it
    the client's), for the caps on logins and public forms."""
    from flask import request

    return request.remote_addr or "unknown"


def safe_next(target: str | None) -> str | None:
    """A same-site path to go back to, or None; an open redirect would aid phishing."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


# Where links point when nothing says otherwise: `make run`'s default address. `make run` sets
# CRM_BASE_URL to the address it really serves on, for the web server and the worker alike.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def link_base() -> str:
    """The address links in emails start with outside a request (CLI, worker)."""
    from flask import current_app

    return (current_app.config.get("SERVER_NAME_FOR_LINKS") or DEVELOPMENT_BASE_URL).rstrip("/")


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email, from a request, the CLI or a worker alike.

    It starts with CRM_BASE_URL, or the local development address, and never with the
    request's `Host` header: a visitor chooses that, and a link mailed to someone else (a
    personal consultation link, say) must not point wherever the visitor liked.
    """
    from flask import current_app, has_request_context, url_for

    if has_request_context():
        return f"{link_base()}{url_for(endpoint, **values)}"
    with current_app.test_request_context(base_url=link_base()):
        return url_for(endpoint, _external=True, **values)
