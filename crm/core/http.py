"""Small request helpers."""

from __future__ import annotations

from urllib.parse import urlsplit


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


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email, from a request, the CLI or a worker alike.

    CRM_BASE_URL (the public address) wins; inside a request the request's host is used; the
    CLI falls back to the local development address.
    """
    from flask import current_app, has_request_context, url_for

    base = current_app.config.get("SERVER_NAME_FOR_LINKS")
    if has_request_context():
        path = url_for(endpoint, **values)
        return f"{base.rstrip('/')}{path}" if base else url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=base or "http://127.0.0.1:5000"):
        return url_for(endpoint, _external=True, **values)
