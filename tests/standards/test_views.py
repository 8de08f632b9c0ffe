"""The admin pages for versions and principles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.standards import operations
from crm.standards.models import Principle, Standard, StandardStatus


def page(response) -> str:
    return response.get_data(as_text=True)


def count_standards(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Standard))


@pytest.mark.parametrize("role", ["lead", "volunteer", "viewer", "champion", "org_rep"])
def test_only_admins_manage_the_standard(client, as_role, v1, role):
    as_role(role)
    assert client.get("/standards/").status_code == 403
    assert client.get(f"/standards/{v1.id}").status_code == 403
    assert client.post(f"/standards/{v1.id}/status", data={"status": "retired"}).status_code == 403


def test_the_list_shows_status_and_use(client, as_role, v1, make_standard, make_pledge):
    as_role("admin")
    make_standard("2.0", "consultation")
    make_pledge(v1)
    text = page(client.get("/standards/"))
    assert text.index(">2.0<") < text.index(">1.0<")  # newest first
    assert "Consultation" in text and "Current" in text
    assert "1 pledge" in text and "Not in use" in text


def test_the_version_page_shows_principles_and_edit_controls(client, as_role, v1, db):
    as_role("admin")
    v1.principles[0].text = "Start from what workers need.\nThen build."
    db.session.commit()
    text = page(client.get(f"/standards/{v1.id}"))
    assert "Start with Integrity &amp; Purpose" in text
    assert "Collaborate &amp; Share Learnings" in text
    assert "Start from what workers need." in text
    assert text.count("No text yet.") == 7
    assert f"/standards/{v1.id}/principles/{v1.principles[0].id}/edit" in text
    assert "Add principle" in text and "Edit title" in text
    assert 'id="frozen"' not in text


def test_an_in_use_version_shows_why_and_offers_only_supersede(
    client, as_role, v1, make_pledge, db
):
    as_role("admin")
    for principle in v1.principles:  # written: only a missing text could still be added
        principle.text = "As published."
    make_pledge(v1)
    p1 = v1.principles[0]
    text = page(client.get(f"/standards/{v1.id}"))
    assert "in use (1 pledge), so it cannot be edited" in text
    assert "/edit" not in text and "Add principle" not in text
    assert "New version from 1.0" in text
    # The edit pages send the admin back with the reason.
    response = client.get(f"/standards/{v1.id}/principles/{p1.id}/edit", follow_redirects=True)
    assert "cannot be edited" in page(response)
    # And a post made anyway changes nothing.
    for url, data in [
        (f"/standards/{v1.id}/principles/{p1.id}/edit", {"code": "P1", "title": "Changed"}),
        (f"/standards/{v1.id}/principles/new", {"code": "P9", "title": "New"}),
        (f"/standards/{v1.id}/edit", {"title": "Changed"}),
    ]:
        response = client.post(url, data=data, follow_redirects=True)
        assert "cannot be edited" in page(response)
    for url in (
        f"/standards/{v1.id}/principles/{p1.id}/delete",
        f"/standards/{v1.id}/principles/{v1.principles[1].id}/move",
    ):
        response = client.post(url, data={"direction": "up"}, follow_redirects=True)
        assert "cannot be edited" in page(response)
    v1 = db.session.get(Standard, v1.id)
    assert v1.title == "WEST Principles" and len(v1.principles) == 8
    assert [p.code for p in v1.principles][:2] == ["P1", "P2"]
    assert v1.principles[0].title == "Start with Integrity & Purpose"


def test_edit_a_principle(client, as_role, v1, db):
    as_role("admin")
    p3 = v1.principles[2]
    url = f"/standards/{v1.id}/principles/{p3.id}/edit"
    form = page(client.get(url))
    assert 'value="Build Trust with Workers"' in form
    version = operations.principle_fingerprint(p3)
    response = client.post(
        url,
        data={
            "code": "P3",
            "title": "Build Trust with Workers",
            "text": "Workers know who sees what they say.",
            "version": version,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/standards/{v1.id}#principle-{p3.id}")
    assert db.session.get(Principle, p3.id).text == "Workers know who sees what they say."
    text = page(client.get(f"/standards/{v1.id}"))
    assert "Workers know who sees what they say." in text
    assert "Changed principle P3 · Build Trust with Workers" in text  # the audit trail


def test_bad_principle_input_shows_inline_errors_keeps_input_and_saves_nothing(
    client, as_role, v1, db
):
    as_role("admin")
    p1 = v1.principles[0]
    url = f"/standards/{v1.id}/principles/{p1.id}/edit"
    cases = [
        ({"code": "P2"}, "already has a principle P2"),
        ({"code": ""}, "This field is required"),
        ({"code": "P 1"}, "is not a code"),
        ({"title": ""}, "This field is required"),
        ({"title": "t" * 201}, "Field cannot be longer than 200 characters"),
    ]
    for overrides, message in cases:
        data = {"code": "P1", "title": "Start with Integrity", "text": "Typed text stays."}
        data.update(overrides)
        response = client.post(url, data=data)
        text = page(response)
        assert response.status_code == 422, (overrides, response.status_code)
        assert message in text, message
        assert "invalid-feedback" in text and "Please correct the highlighted fields" in text
        assert "Typed text stays." in text
    p1 = db.session.get(Principle, p1.id)
    assert (p1.code, p1.title, p1.text) == ("P1", "Start with Integrity & Purpose", None)


def test_a_stale_principle_form_is_refused_and_keeps_the_input(client, as_role, v1, db):
    as_role("admin")
    p1 = v1.principles[0]
    url = f"/standards/{v1.id}/principles/{p1.id}/edit"
    loaded = operations.principle_fingerprint(p1)
    first = client.post(url, data={"code": "P1", "title": "First", "version": loaded})
    assert first.status_code == 302
    second = client.post(url, data={"code": "P1", "title": "Second", "version": loaded})
    assert second.status_code == 409
    assert "Someone else saved this record" in page(second)
    assert 'value="Second"' in page(second)
    assert db.session.get(Principle, p1.id).title == "First"


def test_add_move_and_remove_principles(client, as_role, make_standard, db):
    as_role("admin")
    standard = make_standard("2.0")
    assert 'value="P4"' in page(client.get(f"/standards/{standard.id}/principles/new"))
    response = client.post(
        f"/standards/{standard.id}/principles/new",
        data={"code": "P4", "title": "Share data back", "text": "Workers see the results."},
    )
    assert response.status_code == 302
    duplicate = client.post(
        f"/standards/{standard.id}/principles/new", data={"code": "p4", "title": "Again"}
    )
    assert duplicate.status_code == 422 and "already has a principle P4" in page(duplicate)
    p4 = db.session.scalar(sa.select(Principle).where(Principle.title == "Share data back"))
    client.post(f"/standards/{standard.id}/principles/{p4.id}/move", data={"direction": "up"})
    standard = db.session.get(Standard, standard.id)
    assert [p.code for p in standard.principles] == ["P1", "P2", "P4", "P3"]
    response = client.post(
        f"/standards/{standard.id}/principles/{standard.principles[0].id}/move",
        data={"direction": "up"},
        follow_redirects=True,
    )
    assert "P1 is already first" in page(response)
    response = client.post(
        f"/standards/{standard.id}/principles/{standard.principles[1].id}/delete",
        follow_redirects=True,
    )
    assert "P2 · Principle 2 is removed from version 2.0" in page(response)
    standard = db.session.get(Standard, standard.id)
    assert [(p.code, p.position) for p in standard.principles] == [
        ("P1", 1),
        ("P4", 2),
        ("P3", 3),
    ]


def test_a_principle_of_another_version_is_not_found(client, as_role, v1, make_standard):
    as_role("admin")
    other = make_standard("2.0")
    url = f"/standards/{v1.id}/principles/{other.principles[0].id}/edit"
    assert client.get(url).status_code == 404


def test_edit_the_title(client, as_role, make_standard, db):
    as_role("admin")
    standard = make_standard("2.0")
    url = f"/standards/{standard.id}/edit"
    assert client.post(url, data={"title": ""}).status_code == 422
    response = client.post(url, data={"title": "WEST Principles 2.0"})
    assert response.status_code == 302
    assert db.session.get(Standard, standard.id).title == "WEST Principles 2.0"


def test_supersede_from_the_version_page(client, as_role, v1, make_pledge, db):
    as_role("admin")
    make_pledge(v1)
    url = f"/standards/{v1.id}/supersede"
    form = page(client.get(url))
    assert 'value="2.0"' in form and 'value="WEST Principles"' in form
    before = count_standards(db)
    for version, message in [
        ("two", "“two” is not a version number"),
        ("1.0", "needs a higher number than 1.0"),
        ("", "This field is required"),
    ]:
        response = client.post(url, data={"version": version, "title": "WEST Principles 2.0"})
        text = page(response)
        assert response.status_code == 422, version
        assert message in text and "invalid-feedback" in text
        assert 'value="WEST Principles 2.0"' in text  # what was typed stays
    assert count_standards(db) == before
    response = client.post(url, data={"version": "2.0", "title": "WEST Principles 2.0"})
    assert response.status_code == 302
    new = db.session.scalar(sa.select(Standard).where(Standard.version == "2.0"))
    assert new.status == StandardStatus.DRAFT and len(new.principles) == 8
    text = page(client.get(response.headers["Location"]))
    assert "Draft version 2.0 is created from 1.0" in text
    assert "Add principle" in text  # the draft is editable
    # The next proposal skips the number taken; taking it anyway is refused on the field.
    assert 'value="3.0"' in page(client.get(url))
    again = client.post(url, data={"version": "2.0", "title": "Again"})
    assert again.status_code == 422 and "Version 2.0 already exists (draft)" in page(again)
    assert count_standards(db) == before + 1


def test_status_changes_from_the_version_page(client, as_role, v1, db):
    as_role("admin")
    for p in v1.principles:
        p.text = "Text."
    db.session.commit()
    new = operations.supersede(None, v1, "2.0", "WEST Principles")
    db.session.commit()
    text = page(client.get(f"/standards/{new.id}"))
    assert 'value="consultation"' in text and "retires the current version" in text
    response = client.post(
        f"/standards/{new.id}/status", data={"status": "consultation"}, follow_redirects=True
    )
    assert "Version 2.0 is now open for consultation." in page(response)
    response = client.post(
        f"/standards/{new.id}/status", data={"status": "current"}, follow_redirects=True
    )
    assert "Version 2.0 is now current; version 1.0 is retired." in page(response)
    assert db.session.get(Standard, v1.id).status == StandardStatus.RETIRED
    text = page(client.get(f"/standards/{v1.id}"))
    assert "Retired: version 2.0 is now current" in text
    assert 'id="status-form"' not in text  # retired is final: nothing to change to
    response = client.post(
        f"/standards/{v1.id}/status", data={"status": "current"}, follow_redirects=True
    )
    assert "Status not changed: Version 1.0 is retired; retirement is final." in page(response)
    assert db.session.get(Standard, v1.id).status == StandardStatus.RETIRED
    assert db.session.get(Standard, new.id).status == StandardStatus.CURRENT


def test_a_draft_without_texts_cannot_go_to_consultation(client, as_role, make_standard, db):
    as_role("admin")
    draft = make_standard("2.0", texts=False)
    assert "P1, P2, P3 have none yet" in page(client.get(f"/standards/{draft.id}"))
    response = client.post(
        f"/standards/{draft.id}/status", data={"status": "consultation"}, follow_redirects=True
    )
    assert "Write the text of P1, P2, P3 before it goes to consultation" in page(response)
    assert db.session.get(Standard, draft.id).status == StandardStatus.DRAFT


def test_unknown_versions_are_not_found(client, as_role):
    as_role("admin")
    assert client.get("/standards/987654").status_code == 404
    assert client.get("/standards/987654/supersede").status_code == 404
