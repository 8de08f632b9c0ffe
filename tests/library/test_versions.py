"""Case studies tagged with the principles of a version that a newer one has replaced."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from markupsafe import escape

from crm.library import operations
from crm.standards import operations as standards
from crm.standards.models import Principle, Standard


def principle(db, version: str, code: str) -> Principle:
    return db.session.scalar(
        sa.select(Principle)
        .join(Standard)
        .where(Standard.version == version, Principle.code == code)
    )


@pytest.fixture
def old_case(db, make_user):
    """A case study tagged P1 and P3 of 1.0, then 2.0 becomes current."""
    lead = make_user("lead")
    v1 = db.session.scalar(sa.select(Standard).where(Standard.version == "1.0"))
    case = operations.contribute(
        lead,
        operations.CaseStudyFields(
            title="Helpline in Dhaka", technology="helpline", outcome="worked",
            what_happened="x", lessons="y", shareable=True,
            principle_ids=[principle(db, "1.0", "P1").id, principle(db, "1.0", "P3").id],
        ),
        publish=True,
    )  # fmt: skip
    for p in v1.principles:
        p.text = f"Text of {p.code}."
    admin = make_user("admin")
    new = standards.supersede(admin, v1, "2.0", "WEST Principles")
    standards.set_status(admin, new, "current")
    db.session.commit()
    return case


def test_editing_an_old_case_study_keeps_its_principles(client, as_role, db, old_case):
    as_role("lead")
    old_p1, old_p3 = principle(db, "1.0", "P1"), principle(db, "1.0", "P3")
    page = client.get(f"/library/{old_case.id}/edit").get_data(as_text=True)
    # Offered, labelled with their version, and ticked; the current version's too, unticked.
    assert escape(f"{old_p1.label} (version 1.0)") in page
    assert escape(f"{old_p3.label} (version 1.0)") in page
    boxes = {int(v): attrs for attrs, v in re.findall(r'<input([^>]*?)value="(\d+)"', page)}
    assert "checked" in boxes[old_p1.id] and "checked" in boxes[old_p3.id]
    assert "checked" not in boxes[principle(db, "2.0", "P1").id]
    # Saved as the browser sends the form back, with no change: the links stay.
    data = {
        "title": old_case.title, "technology": "helpline", "outcome": "worked",
        "what_happened": "x", "lessons": "y", "shareable": "y", "version": old_case.version,
        "principle_ids": [old_p1.id, old_p3.id],
    }  # fmt: skip
    assert client.post(f"/library/{old_case.id}/edit", data=data).status_code == 302
    db.session.refresh(old_case)
    assert [(p.standard.version, p.code) for p in old_case.principles] == [
        ("1.0", "P1"), ("1.0", "P3")
    ]  # fmt: skip
    # Unticking one drops only that one; the new version's principle can be added.
    data.update(version=old_case.version, principle_ids=[old_p1.id, principle(db, "2.0", "P2").id])
    client.post(f"/library/{old_case.id}/edit", data=data)
    db.session.refresh(old_case)
    assert sorted((p.standard.version, p.code) for p in old_case.principles) == [
        ("1.0", "P1"), ("2.0", "P2")
    ]  # fmt: skip
    assert "(version 1.0)" in client.get(f"/library/{old_case.id}").get_data(as_text=True)


def test_a_principle_filter_matches_its_code_in_every_version(client, db, make_user, old_case):
    lead = make_user("lead")
    operations.contribute(
        lead,
        operations.CaseStudyFields(
            title="Wages in Hanoi", technology="digital_wages", outcome="failed",
            what_happened="x", lessons="y", shareable=True,
            principle_ids=[principle(db, "2.0", "P1").id],
        ),
        publish=True,
    )  # fmt: skip
    db.session.commit()

    def titles(query: str) -> set[str]:
        page = client.get("/learn/?" + query).get_data(as_text=True)
        return {t for t in ("Helpline in Dhaka", "Wages in Hanoi") if t in page}

    assert titles("principle=P1") == {"Helpline in Dhaka", "Wages in Hanoi"}
    assert titles("principle=P3") == {"Helpline in Dhaka"}
    assert titles("principle=P2") == set()
    # A link made when the filter took a principle's id: the new P1 finds the older ones too.
    assert titles(f"principle={principle(db, '2.0', 'P1').id}") == {
        "Helpline in Dhaka", "Wages in Hanoi"
    }  # fmt: skip
    page = client.get("/learn/?principle=P1").get_data(as_text=True)
    # One choice per code, naming the versions it stands for, and selected.
    p1_title = escape(principle(db, "2.0", "P1").title)
    assert page.count('<option value="P1"') == 1
    assert f'<option value="P1" selected>P1 · {p1_title} (1.0, 2.0)</option>' in page
    assert f"P1 · {p1_title}" in page and '<option value="P8" >P8 · ' in page
