"""Every endpoint: anonymous users go to login (public pages excepted) and each role gets 403
exactly where its permissions say so. New views are covered automatically."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from crm.auth.models import Role
from crm.core.access import ROLE_PERMISSIONS, is_public, permission_of

# The public pages, in one place. Adding a public view means adding it here, on purpose.
PUBLIC_ENDPOINTS = {
    "static",
    "core.healthz",
    "auth.login",
    "auth.logout",
    "auth.accept_invitation",
    "auth.forgot_password",  # asks for a link by email; the same answer for every address
    "two_factor.code",  # a sign-in's second step, after a right password (kept in the session)
    "two_factor.passkey_options",  # the same step with a passkey
    "two_factor.passkey",
    # Signing in with a passkey instead of a password (from the login page).
    "passkeys.sign_in_options",
    "passkeys.sign_in",
    # A public event's page: details, registration, its calendar file.
    "public_events.register",
    "public_events.done",
    "public_events.calendar",
    # The public pledge form and the directory of signatories.
    "public_pledges.sign",
    "public_pledges.thanks",
    "public_pledges.directory",
    "public_pledges.directory_json",
    # Case studies the community shares.
    "public_library.index",
    "public_library.detail",
    # A public consultation's response page; personal links (invited people, or the public
    # coming back to finish); the thank-you page; dropping what was typed on the public page
    # with one's address (from the personal link).
    "public_consultations.respond",
    "public_consultations.personal",
    "public_consultations.done",
    "public_consultations.discard",
    # The unsubscribe link in every campaign email (and RFC 8058 one-click POSTs).
    "campaign_public.unsubscribe",
    "campaign_public.topics",  # the preference page the unsubscribe page links to
    # SendGrid's Event Webhook: no login, a signature over the body instead.
    "campaign_webhooks.sendgrid_events",
    # The API's OpenAPI document (the API itself takes a token: below).
    "api_docs.openapi_json",
    "api_docs.reference",
}


def _is_api(endpoint: str) -> bool:
    return endpoint.startswith("api_v1.")


def _endpoints(app):
    for rule in app.url_map.iter_rules():
        method = next(m for m in ("GET", "POST", "PATCH", "PUT", "DELETE") if m in rule.methods)
        values = {}
        for arg in rule.arguments:
            numeric = isinstance(rule._converters[arg], IntegerConverter)
            values[arg] = 987654 if numeric else "no-such-thing"
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        yield rule.endpoint, method, url


def _call(client, method, url, headers=None):
    if method == "GET":
        return client.get(url, headers=headers)
    if method == "POST":
        return client.post(url, data={}, headers=headers)
    return client.open(url, method=method, json={}, headers=headers)


def test_every_view_declares_its_access(app):
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not is_public(view) and permission_of(view) is None
    ]
    assert undeclared == [], f"views without @requires or @public: {undeclared}"


def test_public_pages_are_exactly_the_listed_ones(app):
    public = {e for e, v in app.view_functions.items() if e == "static" or is_public(v)}
    assert public == PUBLIC_ENDPOINTS


def test_anonymous_users_are_sent_to_login(app, client):
    checked = 0
    for endpoint, method, url in _endpoints(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = _call(client, method, url)
        if _is_api(endpoint):  # a token is asked for, as a problem document
            assert response.status_code == 401, (endpoint, response.status_code)
            assert response.content_type == "application/problem+json", endpoint
            continue
        assert response.status_code == 302, (endpoint, response.status_code)
        assert "/login" in response.headers["Location"], endpoint
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_403_exactly_where_it_lacks_permission(app, client, make_user, login, role):
    from crm.api.tokens import create

    user = make_user(role)
    _token, raw = create(None, user, name="access walk", read_only=False, days=1)
    bearer = {"Authorization": f"Bearer {raw}"}
    allowed = ROLE_PERMISSIONS[role]
    for endpoint, method, url in _endpoints(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        login(user)  # again each time: a POST may have logged out or changed the session
        api = _is_api(endpoint)
        response = _call(client, method, url, headers=bearer if api else None)
        needed = permission_of(app.view_functions[endpoint])
        if needed in allowed:
            assert response.status_code != 403, (role, endpoint)
            assert response.status_code < 500, (role, endpoint, response.status_code)
        else:
            assert response.status_code == 403, (role, endpoint, response.status_code)
            assert b"Not allowed" in response.data or (
                api and response.content_type == "application/problem+json"
            )


def test_the_jobs_pages_are_for_admins_only(app):
    """The walk above covers /jobs/ like every URL; this says who the table lets in."""
    from crm.core.access import Permission

    assert {r for r, perms in ROLE_PERMISSIONS.items() if Permission.JOBS in perms} == {Role.ADMIN}
    endpoints = {e for e in app.view_functions if e.startswith("jobs.")}
    assert endpoints == {"jobs.index", "jobs.detail", "jobs.retry_job", "jobs.cancel_job"}
    assert all(permission_of(app.view_functions[e]) is Permission.JOBS for e in endpoints)


def test_a_viewer_sees_the_report_and_nothing_else(client, as_role, make_org):
    org = make_org("Visible Org")
    as_role("viewer")
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/reports/")
    assert client.get("/reports/").status_code == 200
    for url in ("/contacts/", f"/organizations/{org.id}", "/organizations/", "/pledges/",
                "/champions/", "/events/", "/library/", "/work/"):  # fmt: skip
        assert client.get(url).status_code == 403, url


def test_champion_and_representative_cannot_browse_stakeholders(client, as_role):
    for role in ("champion", "org_rep"):
        as_role(role)
        assert client.get("/contacts/").status_code == 403
        assert client.get("/organizations/").status_code == 403
        assert client.get("/champions/").status_code == 403
        assert client.get("/events/").status_code == 403
        home = client.get("/")
        if role == "champion":  # their home is their own champion page
            assert home.status_code == 302
            assert home.headers["Location"].endswith("/me/champion/")
        elif role == "org_rep":  # and a representative's, their organization's pledge
            assert home.status_code == 302
            assert home.headers["Location"].endswith("/me/pledge/")
        else:
            assert home.status_code == 200
