"""The standard's versions and principles, through the operations."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.core.errors import ConflictError, OperationError
from crm.standards import operations
from crm.standards.models import Principle, Standard, StandardStatus
from crm.standards.operations import PrincipleFields
from crm.standards.queries import Usage, usage_by_standard, usage_of
from crm.standards.seed import published_principles


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def codes(standard) -> list[str]:
    return [p.code for p in standard.principles]


def trail(db, standard) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.object_type == "standard", AuditEntry.object_id == standard.id)
            .order_by(AuditEntry.id)
        )
    )


def refused(call, *args, field=None, match="", **kwargs) -> OperationError:
    with pytest.raises(OperationError, match=match) as info:
        call(*args, **kwargs)
    assert info.value.field == field, info.value.message
    return info.value


# --- the seed -----------------------------------------------------------------------------------


def test_the_seeded_principles_are_the_published_ones(db, v1):
    published = published_principles()
    assert len(published) == 8
    assert published[0] == ("P1", "Start with Integrity & Purpose")
    seeded = db.session.execute(
        sa.select(Principle.code, Principle.title)
        .where(Principle.standard_id == v1.id)
        .order_by(Principle.position)
    ).all()
    assert [tuple(row) for row in seeded] == published
    assert v1.status == StandardStatus.CURRENT
    assert [p.position for p in v1.principles] == list(range(1, 9))


# --- editing a version's content ----------------------------------------------------------------


def test_update_the_title(db, admin, make_standard):
    standard = make_standard("2.0")
    operations.update_standard(admin, standard, "  WEST Principles, second edition ")
    db.session.commit()
    assert standard.title == "WEST Principles, second edition"
    (entry,) = trail(db, standard)
    assert entry.changes == {"title": ["WEST Principles", "WEST Principles, second edition"]}
    refused(operations.update_standard, admin, standard, " ", field="title", match="required")
    refused(operations.update_standard, admin, standard, "x" * 201, field="title", match="long")


def test_admins_write_the_texts_of_1_0_while_nothing_uses_it(db, admin, v1):
    p3 = v1.principles[2]
    operations.update_principle(
        admin,
        p3,
        PrincipleFields(code="P3", title=p3.title, text="Workers trust the channel."),
        expected_version=operations.principle_fingerprint(p3),
    )
    db.session.commit()
    assert db.session.get(Principle, p3.id).text == "Workers trust the channel."
    (entry,) = trail(db, v1)
    assert entry.summary == "Changed principle P3 · Build Trust with Workers"
    assert entry.changes == {"P3 text": [None, "Workers trust the channel."]}


def test_edit_a_principles_code_and_title(db, admin, make_standard):
    standard = make_standard("2.0")
    p2 = standard.principles[1]
    operations.update_principle(
        admin, p2, PrincipleFields(code="P2a", title="A new title", text=p2.text)
    )
    db.session.commit()
    assert (p2.code, p2.title) == ("P2a", "A new title")
    (entry,) = trail(db, standard)
    assert entry.changes == {
        "P2 code": ["P2", "P2a"],
        "P2 title": ["Principle 2", "A new title"],
    }


def test_saving_unchanged_fields_records_nothing(db, admin, make_standard):
    standard = make_standard("2.0")
    p1 = standard.principles[0]
    operations.update_principle(admin, p1, PrincipleFields(p1.code, p1.title, p1.text))
    assert trail(db, standard) == []


def test_principle_checks(db, admin, make_standard):
    standard = make_standard("2.0")
    p1 = standard.principles[0]
    cases = [
        (PrincipleFields("p2", "Title"), "code", "already has a principle P2"),  # any case
        (PrincipleFields("", "Title"), "code", "Code is required"),
        (PrincipleFields("P 1", "Title"), "code", "not a code"),
        (PrincipleFields("P12345678901", "Title"), "code", "too long"),
        (PrincipleFields("P1", "  "), "title", "Title is required"),
        (PrincipleFields("P1", "t" * 201), "title", "too long"),
        (PrincipleFields("P1", "Title", "x" * 20_001), "text", "too long"),
    ]
    for fields, field, message in cases:
        refused(operations.update_principle, admin, p1, fields, field=field, match=message)
        db.session.rollback()
        refused(operations.add_principle, admin, standard, fields, field=field, match=message)
        db.session.rollback()
    assert codes(db.session.get(Standard, standard.id)) == ["P1", "P2", "P3"]
    assert db.session.get(Principle, p1.id).title == "Principle 1"
    assert trail(db, standard) == []


def test_a_stale_form_is_refused(db, admin, make_standard):
    standard = make_standard("2.0")
    p1 = standard.principles[0]
    loaded = operations.principle_fingerprint(p1)
    operations.update_principle(admin, p1, PrincipleFields("P1", "First save", p1.text))
    db.session.commit()
    with pytest.raises(ConflictError):
        operations.update_principle(
            admin, p1, PrincipleFields("P1", "Second save", p1.text), expected_version=loaded
        )
    db.session.rollback()
    assert db.session.get(Principle, p1.id).title == "First save"
    with pytest.raises(ConflictError):
        operations.update_standard(admin, standard, "Other", expected_version=loaded)


def test_add_a_principle_at_the_end(db, admin, make_standard):
    standard = make_standard("2.0")
    principle = operations.add_principle(
        admin, standard, PrincipleFields(" P9 ", " Share data back with workers ", "Text.")
    )
    db.session.commit()
    assert (principle.code, principle.title, principle.position) == (
        "P9",
        "Share data back with workers",
        4,
    )
    assert codes(db.session.get(Standard, standard.id)) == ["P1", "P2", "P3", "P9"]
    (entry,) = trail(db, standard)
    assert entry.summary == "Added principle P9 · Share data back with workers"


def test_remove_a_principle_renumbers_the_rest(db, admin, make_standard):
    standard = make_standard("2.0", n=4)
    operations.remove_principle(admin, standard.principles[1])
    db.session.commit()
    standard = db.session.get(Standard, standard.id)
    assert codes(standard) == ["P1", "P3", "P4"]
    assert [p.position for p in standard.principles] == [1, 2, 3]
    (entry,) = trail(db, standard)
    assert entry.summary == "Removed principle P2 · Principle 2"
    assert entry.changes == {"order": ["P1, P2, P3, P4", "P1, P3, P4"]}


def test_a_principle_an_endorsement_names_cannot_be_removed(db, admin, v1, make_contact):
    from crm.champions.operations import endorsements as endorsement_ops
    from crm.champions.operations import pipeline as champion_ops

    champion = champion_ops.enter_pipeline(None, make_contact(), champion_ops.ChampionFields())
    endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(
            kind="post", made_on=date.today(), title="A post", principle_ids=[v1.principles[0].id]
        ),
        verified=True,
    )
    db.session.commit()
    refused(operations.remove_principle, admin, v1.principles[0], match="1 endorsement")
    db.session.rollback()
    assert len(db.session.get(Standard, v1.id).principles) == 8


def test_move_principles_up_and_down(db, admin, make_standard):
    standard = make_standard("2.0")
    operations.move_principle(admin, standard.principles[2], "up")
    db.session.commit()
    standard = db.session.get(Standard, standard.id)
    assert codes(standard) == ["P1", "P3", "P2"]
    operations.move_principle(admin, standard.principles[0], "down")
    db.session.commit()
    standard = db.session.get(Standard, standard.id)
    assert codes(standard) == ["P3", "P1", "P2"]
    assert [p.position for p in standard.principles] == [1, 2, 3]
    refused(operations.move_principle, admin, standard.principles[0], "up", match="already first")
    refused(operations.move_principle, admin, standard.principles[2], "down", match="last")
    refused(operations.move_principle, admin, standard.principles[1], "sideways", match="up or")
    assert [e.summary for e in trail(db, standard)] == ["Moved P3 up", "Moved P1 down"]
    assert trail(db, standard)[1].changes == {"order": ["P1, P3, P2", "P3, P1, P2"]}


# --- in use: only superseded --------------------------------------------------------------------


def _every_edit(admin, standard):
    """Each content change, as a call that should be refused."""
    p1 = standard.principles[0]
    return [
        lambda: operations.update_standard(admin, standard, "New title"),
        lambda: operations.update_principle(admin, p1, PrincipleFields("P1", "New", "New")),
        lambda: operations.add_principle(admin, standard, PrincipleFields("P9", "New")),
        lambda: operations.remove_principle(admin, p1),
        lambda: operations.move_principle(admin, standard.principles[1], "up"),
    ]


def _assert_unchanged(db, standard_id):
    standard = db.session.get(Standard, standard_id)
    assert standard.title == "WEST Principles"
    assert [(p.code, p.title) for p in standard.principles][:2] == [
        ("P1", "Principle 1"),
        ("P2", "Principle 2"),
    ]
    assert len(standard.principles) == 3


def test_a_version_a_pledge_uses_cannot_be_edited(db, admin, make_standard, make_pledge):
    standard = make_standard("2.0", "current")
    make_pledge(standard)
    make_pledge(standard, status="withdrawn")  # any pledge, whatever its status
    assert usage_of(standard) == Usage(pledges=2)
    for edit in _every_edit(admin, standard):
        with pytest.raises(OperationError, match=r"in use \(2 pledges\).*Supersede it"):
            edit()
        db.session.rollback()
    _assert_unchanged(db, standard.id)
    assert trail(db, standard) == []


def test_a_version_a_pledge_was_first_made_against_stays_frozen(
    db, admin, make_standard, make_pledge
):
    old = make_standard("1.5", "retired")
    new = make_standard("2.0", "draft")
    make_pledge(new, first_standard_id=old.id)
    assert usage_of(old) == Usage(pledges=1)
    assert usage_of(new) == Usage(pledges=1)
    # A retired version stays as published anyway; its draft successor is frozen by the pledge.
    for edit in _every_edit(admin, new):
        with pytest.raises(OperationError, match="in use"):
            edit()
        db.session.rollback()
    _assert_unchanged(db, new.id)


def test_progress_reports_and_assessments_freeze_their_version(
    db, admin, make_standard, make_pledge
):
    from crm.pledges.models import Assessment, ProgressReport

    pledged = make_standard("2.0", "current")
    assessed = make_standard("2.1", "draft")
    pledge = make_pledge(pledged)
    report = ProgressReport(
        pledge_id=pledge.id, standard_id=pledged.id, year=2026, quarter=3, status="draft"
    )
    db.session.add(report)
    db.session.flush()
    # An assessment of a principle of another version (a report never does; the rule holds).
    db.session.add(
        Assessment(report_id=report.id, principle_id=assessed.principles[0].id, level="planning")
    )
    db.session.commit()
    usage = usage_by_standard()
    assert usage[pledged.id] == Usage(pledges=1, reports=1)
    assert usage[assessed.id] == Usage(assessments=1)
    assert usage_of(pledged).label == "1 pledge, 1 progress report"
    for edit in _every_edit(admin, assessed):
        with pytest.raises(OperationError, match=r"in use \(1 assessment\)"):
            edit()
        db.session.rollback()
    _assert_unchanged(db, assessed.id)


def test_a_retired_version_stays_as_published(db, admin, make_standard):
    retired = make_standard("0.9", "retired")
    for edit in _every_edit(admin, retired):
        with pytest.raises(OperationError, match="retired"):
            edit()
        db.session.rollback()
    _assert_unchanged(db, retired.id)


# --- superseding --------------------------------------------------------------------------------


def test_supersede_copies_the_principles_into_a_draft(db, admin, v1, make_pledge):
    make_pledge(v1)  # superseding is exactly what an in-use version is for
    v1.principles[0].text = "Purpose first."
    db.session.commit()
    new = operations.supersede(admin, v1, " 2.0 ", "WEST Principles 2.0 draft")
    db.session.commit()
    new = db.session.get(Standard, new.id)
    assert (new.version, new.title, new.status) == (
        "2.0",
        "WEST Principles 2.0 draft",
        StandardStatus.DRAFT,
    )
    assert [(p.code, p.title, p.position) for p in new.principles] == [
        (code, title, n) for n, (code, title) in enumerate(published_principles(), start=1)
    ]
    assert new.principles[0].text == "Purpose first."
    assert {p.id for p in new.principles}.isdisjoint({p.id for p in v1.principles})
    assert db.session.get(Standard, v1.id).status == StandardStatus.CURRENT
    assert [e.summary for e in trail(db, new)] == [
        "Created version 2.0 from 1.0, copying its 8 principles"
    ]
    assert trail(db, v1)[-1].summary == "Superseded by draft version 2.0"
    # The copy is free to change while the original stays frozen.
    operations.update_principle(admin, new.principles[0], PrincipleFields("P1", "Changed"))
    assert db.session.get(Standard, v1.id).principles[0].title == "Start with Integrity & Purpose"


@pytest.mark.parametrize(
    "version, message",
    [
        ("", "Version is required"),
        ("2", "not a version number"),
        ("v2.0", "not a version number"),
        ("two", "not a version number"),
        ("2.0-beta", "not a version number"),
        ("2.0.0.1", "not a version number"),
        ("2..0", "not a version number"),
        ("1.0", "higher number than 1.0"),
        ("0.9", "higher number than 1.0"),
    ],
)
def test_supersede_needs_a_new_higher_version_number(db, admin, v1, version, message):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Standard))
    refused(operations.supersede, admin, v1, version, "Title", field="version", match=message)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Standard)) == before


def test_a_version_number_is_used_once(db, admin, v1, make_standard):
    make_standard("2.0", "consultation")
    refused(
        operations.supersede,
        admin,
        v1,
        "2.0",
        "Title",
        field="version",
        match=r"Version 2.0 already exists \(consultation\)",
    )
    refused(operations.supersede, admin, v1, "1.1", " ", field="title", match="Title is required")
    assert operations.supersede(admin, v1, "1.10", "Title").version == "1.10"  # 1.10 > 1.9


# --- status -------------------------------------------------------------------------------------


def test_draft_to_consultation_to_current_retires_the_previous_current(db, admin, v1):
    for p in v1.principles:
        p.text = f"Text of {p.code}."
    new = operations.supersede(admin, v1, "2.0", "WEST Principles")
    db.session.commit()
    assert operations.allowed_moves(new) == (StandardStatus.CONSULTATION, StandardStatus.CURRENT)
    operations.set_status(admin, new, "consultation")
    db.session.commit()
    assert new.status == StandardStatus.CONSULTATION
    assert db.session.get(Standard, v1.id).status == StandardStatus.CURRENT
    operations.set_status(admin, new, StandardStatus.CURRENT)
    db.session.commit()
    assert db.session.get(Standard, new.id).status == StandardStatus.CURRENT
    assert db.session.get(Standard, v1.id).status == StandardStatus.RETIRED
    current = db.session.scalars(
        sa.select(Standard.version).where(Standard.status == StandardStatus.CURRENT)
    ).all()
    assert current == ["2.0"]
    assert trail(db, v1)[-1].summary == "Retired: version 2.0 is now current"
    assert trail(db, v1)[-1].changes == {"status": ["current", "retired"]}
    assert [e.changes for e in trail(db, new)][1:] == [
        {"status": ["draft", "consultation"]},
        {"status": ["consultation", "current"]},
    ]
    from crm.standards.queries import current_principles

    assert {p.standard_id for p in current_principles()} == {new.id}


def test_a_consultation_can_go_back_to_draft(db, admin, make_standard):
    standard = make_standard("2.0", "consultation")
    operations.set_status(admin, standard, "draft")
    assert standard.status == StandardStatus.DRAFT


def test_retired_is_final(db, admin, make_standard):
    retired = make_standard("0.9", "retired")
    assert operations.allowed_moves(retired) == ()
    for status in ("draft", "consultation", "current"):
        refused(operations.set_status, admin, retired, status, field="status", match="final")
    assert db.session.get(Standard, retired.id).status == StandardStatus.RETIRED


def test_the_current_version_is_retired_only_by_another(db, admin, v1):
    for status in ("retired", "draft", "consultation"):
        refused(operations.set_status, admin, v1, status, field="status", match="making another")
    refused(operations.set_status, admin, v1, "archived", field="status", match="not a status")
    assert db.session.get(Standard, v1.id).status == StandardStatus.CURRENT


def test_a_draft_cannot_be_retired_directly(db, admin, make_standard):
    draft = make_standard("2.0")
    refused(operations.set_status, admin, draft, "retired", field="status", match="directly")


def test_consultation_and_current_need_every_text(db, admin, v1, make_standard):
    without = make_standard("2.0", texts=False)
    for status in ("consultation", "current"):
        refused(operations.set_status, admin, without, status, field="status", match="P1, P2, P3")
    empty = make_standard("3.0", n=0)
    refused(operations.set_status, admin, empty, "current", field="status", match="no princ")
    db.session.rollback()
    assert db.session.get(Standard, v1.id).status == StandardStatus.CURRENT
    assert db.session.get(Standard, without.id).status == StandardStatus.DRAFT
