"""JSON from outside is parsed with limits: too deep or too long is a 400, never a 500."""

from __future__ import annotations

import pytest

from crm.core import safe_json
from tests.campaigns.test_webhook import URL, key, signed  # noqa: F401 (key is a fixture)


def test_a_signed_webhook_body_nested_fifty_thousand_deep_is_refused_with_400(client, key):  # noqa: F811
    body = "[" * 50_000 + "]" * 50_000
    response = client.post(
        URL, data=body, headers=signed(key, body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.get_data(as_text=True)


def test_a_document_deeper_than_the_limit_but_parseable_is_refused():
    just_deep = "[" * (safe_json.MAX_DEPTH + 1) + "]" * (safe_json.MAX_DEPTH + 1)
    with pytest.raises(safe_json.JSONRefused, match="nested more than"):
        safe_json.loads(just_deep)
    fine = "[" * safe_json.MAX_DEPTH + "]" * safe_json.MAX_DEPTH
    assert safe_json.depth(safe_json.loads(fine)) == safe_json.MAX_DEPTH


def test_length_and_syntax_are_refused_with_a_reason():
    with pytest.raises(safe_json.JSONRefused, match="larger than 10 bytes"):
        safe_json.loads('{"a": "0123456789"}', max_length=10)
    with pytest.raises(safe_json.JSONRefused, match="not JSON"):
        safe_json.loads("{nope")
    assert safe_json.loads('[{"event": "delivered"}]') == [{"event": "delivered"}]


def test_any_json_request_body_nested_too_deep_is_a_400(app):
    # The request class every view gets: an API view calling get_json() is covered too.
    body = "{" + '"a":{' * 5_000 + "}" * 5_001
    with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
        from flask import request
        from werkzeug.exceptions import BadRequest

        with pytest.raises(BadRequest, match="nested more than"):
            request.get_json()
        assert request.get_json(silent=True) is None
