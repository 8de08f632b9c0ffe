"""Links in emails, from a request, the worker or the CLI: CRM_BASE_URL when set,
else the development address, and the worker says which on start-up."""

from __future__ import annotations

from crm.core.http import DEVELOPMENT_BASE_URL, external_url


def test_a_link_outside_a_request_starts_with_crm_base_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "SERVER_NAME_FOR_LINKS", "http://127.0.0.1:5101/")
    with app.app_context():
        assert external_url("public_pledges.sign") == "http://127.0.0.1:5101/pledge/"


def test_without_crm_base_url_a_link_outside_a_request_uses_the_development_address(
    app, monkeypatch
):
    monkeypatch.setitem(app.config, "SERVER_NAME_FOR_LINKS", None)
    with app.app_context():
        assert external_url("public_pledges.sign") == f"{DEVELOPMENT_BASE_URL}/pledge/"


def test_the_worker_says_where_links_point(app, runner, monkeypatch):
    monkeypatch.setitem(app.config, "SERVER_NAME_FOR_LINKS", "https://crm.example.org")
    output = runner.invoke(args=["crm", "worker", "--once"]).output
    assert "Links in emails point to https://crm.example.org." in output

    monkeypatch.setitem(app.config, "SERVER_NAME_FOR_LINKS", None)
    output = runner.invoke(args=["crm", "worker", "--once"]).output
    assert f"Links in emails point to {DEVELOPMENT_BASE_URL} (CRM_BASE_URL is not set" in output


def test_a_link_made_in_a_request_never_follows_the_visitors_host_header(app, monkeypatch):
    # A public consultation form mails its personal link from the request: a forged Host
    # header must not send that link to the attacker's site, in any configuration.
    for configured, expected in ((None, DEVELOPMENT_BASE_URL), ("https://crm.example.org", None)):
        monkeypatch.setitem(app.config, "SERVER_NAME_FOR_LINKS", configured)
        with app.test_request_context("/", base_url="http://evil.example"):
            link = external_url("public_pledges.sign")
        assert link == f"{expected or configured}/pledge/"
        assert "evil.example" not in link
