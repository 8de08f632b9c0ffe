from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.champions import queries
from crm.champions.models import Champion, Stage, StageChange
from crm.champions.operations import endorsements as endorsement_ops
from crm.champions.operations import pipeline as champion_ops
from crm.core.errors import OperationError


def test_a_lead_adds_a_contact_to_the_pipeline(client, as_role, make_contact, db):
    lead = as_role("lead")
    contact = make_contact("Farida", "Yasmin")
    page = client.get(f"/champions/new?contact={contact.id}").get_data(as_text=True)
    assert f'value="{contact.id}" checked' in page
    response = client.post(
        "/champions/new",
        data={
            "contact_ids": [contact.id],
            "stage": "approached",
            "note": "Spoke at the Dhaka roundtable",
            "owner_id": str(lead.id),
            "region": "south_asia",
            "audience_reach": "12000",
            "channels": "LinkedIn, podcast, linkedin",
            "next_step": "Send the 2.0 draft",
            "next_step_due": (date.today() + timedelta(days=7)).isoformat(),
        },
    )
    assert response.status_code == 302
    champion = db.session.scalar(sa.select(Champion).where(Champion.contact_id == contact.id))
    assert champion.stage is Stage.APPROACHED
    assert champion.channels == "LinkedIn, podcast"  # duplicates of any case dropped
    assert champion.audience_reach == 12000
    move = champion.moves[0]
    assert move.from_stage is None and move.to_stage is Stage.APPROACHED
    assert move.by_id == lead.id and move.note == "Spoke at the Dhaka roundtable"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Farida Yasmin" in page and "Send the 2.0 draft" in page
    # The contact's page links to the champion record and shows the move on its timeline.
    contact_page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert f"/champions/{champion.id}" in contact_page
    assert "Entered the pipeline as approached" in contact_page


def test_a_contact_enters_the_pipeline_once(client, as_role, make_champion, db):
    as_role("lead")
    champion = make_champion("engaged")
    response = client.post(
        "/champions/new", data={"contact_ids": [champion.contact_id], "stage": "identified"}
    )
    assert response.status_code == 422
    assert "already in the pipeline (engaged)" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Champion)) == 1


def test_new_champion_needs_exactly_one_contact(client, as_role, db):
    as_role("lead")
    response = client.post("/champions/new", data={"stage": "identified"})
    assert response.status_code == 422
    assert "Choose the one contact to add." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Champion)) == 0


def test_each_move_is_recorded_with_who_when_and_a_note(client, as_role, make_champion, db):
    lead = as_role("lead")
    champion = make_champion("approached", owner=lead)
    response = client.post(
        f"/champions/{champion.id}/move",
        data={
            "stage": "engaged",
            "note": "Agreed to review the draft",
            "version": champion.version,
        },
    )
    assert response.status_code == 302
    db.session.refresh(champion)
    assert champion.stage is Stage.ENGAGED
    latest = champion.moves[0]
    assert (latest.from_stage, latest.to_stage) == (Stage.APPROACHED, Stage.ENGAGED)
    assert latest.by_id == lead.id and latest.note == "Agreed to review the draft"
    assert champion.stage_since == latest.at
    page = client.get(f"/champions/{champion.id}").get_data(as_text=True)
    assert "Agreed to review the draft" in page and "Engaged since" in page


@pytest.mark.parametrize(
    ("start", "target", "message"),
    [
        ("identified", "active", "cannot go from identified straight to active"),
        ("identified", "lapsed", "Someone only identified cannot lapse"),
        ("approached", "lapsed", "Only engaged, committed or active champions can lapse"),
        ("active", "engaged", "move back one stage at a time"),
        ("engaged", "engaged", "is already engaged"),
        ("engaged", "nowhere", "is not a pipeline stage"),
    ],
)
def test_moves_that_make_no_sense_are_refused(make_user, make_champion, db, start, target, message):
    champion = make_champion(start, owner=make_user("lead"))
    moves_before = len(champion.moves)
    with pytest.raises(OperationError, match=message):
        champion_ops.move(None, champion, target, note="because")
    db.session.rollback()
    db.session.refresh(champion)
    assert champion.stage is Stage(start)
    assert len(champion.moves) == moves_before


def test_committed_without_an_owner_is_refused_with_a_clear_message(
    client, as_role, make_champion, db
):
    as_role("lead")
    champion = make_champion("engaged")  # nobody owns the relationship
    response = client.post(
        f"/champions/{champion.id}/move", data={"stage": "committed", "version": champion.version}
    )
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Give " in text and "an owner on the team before marking them committed" in text
    db.session.refresh(champion)
    assert champion.stage is Stage.ENGAGED


def test_removing_the_owner_of_a_committed_champion_is_refused(make_user, make_champion, db):
    champion = make_champion("committed", owner=make_user("lead"))
    with pytest.raises(OperationError, match="committed champion needs an owner"):
        champion_ops.update_champion(None, champion, champion_ops.ChampionFields(owner_id=None))


def test_moving_back_or_lapsing_needs_a_note(make_user, make_champion, db):
    champion = make_champion("active", owner=make_user("lead"))
    with pytest.raises(OperationError, match="Say why"):
        champion_ops.move(None, champion, "lapsed")
    champion_ops.move(None, champion, "lapsed", note="Changed jobs")
    assert champion.stage is Stage.LAPSED
    # And back again from lapsed.
    champion_ops.move(None, champion, "engaged")
    assert champion.stage is Stage.ENGAGED


def test_bad_profile_values_are_refused_and_nothing_changes(client, as_role, make_champion, db):
    lead = as_role("lead")
    champion = make_champion("approached", owner=lead, next_step="Call")
    base = {"owner_id": str(lead.id), "region": "", "version": champion.version}
    cases = [
        ({"audience_reach": "-5"}, "Give a number of people."),
        ({"next_step": "", "next_step_due": "2027-01-01"}, "Say what the next step is"),
        ({"owner_id": "987654"}, "The owner must be an active staff member."),
        ({"channels": "x" * 41}, "too long"),
        ({"region": "atlantis"}, "“atlantis” is not a region."),
    ]
    for overrides, message in cases:
        response = client.post(f"/champions/{champion.id}/edit", data={**base, **overrides})
        assert response.status_code == 422, overrides
        assert message in response.get_data(as_text=True), overrides
    db.session.refresh(champion)
    assert champion.next_step == "Call" and champion.audience_reach is None


def test_two_leads_editing_the_same_champion(client, as_role, make_champion, db):
    lead = as_role("lead")
    champion = make_champion("approached", owner=lead)
    stale = champion.version
    champion_ops.update_champion(
        None, champion, champion_ops.ChampionFields(owner_id=lead.id, next_step="Theirs")
    )
    db.session.commit()
    response = client.post(
        f"/champions/{champion.id}/edit",
        data={"owner_id": str(lead.id), "next_step": "Mine", "version": stale},
    )
    assert response.status_code == 409
    db.session.refresh(champion)
    assert champion.next_step == "Theirs"


def test_board_has_a_column_per_stage_with_counts(client, as_role, make_champion, make_user):
    as_role("volunteer")  # volunteers read the pipeline
    owner = make_user("lead")
    for stage in ("identified", "identified", "active", "lapsed"):
        make_champion(stage, owner=owner)
    columns = {c.stage: c for c in queries.board()}
    assert [c.stage for c in queries.board()] == list(Stage)
    assert columns[Stage.IDENTIFIED].count == 2
    assert columns[Stage.ACTIVE].count == 1 and columns[Stage.ENGAGED].count == 0
    page = client.get("/champions/").get_data(as_text=True)
    for stage in Stage:
        assert f'aria-label="{stage.label}"' in page
    assert "Add a champion" not in page  # volunteers cannot edit the pipeline


def test_list_filters_stage_owner_region_and_overdue(client, as_role, make_champion, make_user):
    lead = as_role("lead")
    other = make_user("lead", name="Other Lead")
    yesterday = date.today() - timedelta(days=1)
    mine = make_champion(
        "engaged", owner=lead, region="africa", next_step="Call", next_step_due=yesterday
    )
    theirs = make_champion("engaged", owner=other, region="europe")
    identified = make_champion("identified", owner=lead, region="africa")

    def names(query: str) -> set[int]:
        page = client.get("/champions/list?" + query).get_data(as_text=True)
        return {c.id for c in (mine, theirs, identified) if f'/champions/{c.id}"' in page}

    assert names("stage=engaged") == {mine.id, theirs.id}
    assert names("owner=me") == {mine.id, identified.id}
    assert names(f"owner={other.id}") == {theirs.id}
    assert names("region=africa") == {mine.id, identified.id}
    assert names("overdue=1") == {mine.id}
    assert names("stage=engaged&region=africa&overdue=1") == {mine.id}


def _backdate(db, champion, days: int) -> None:
    then = datetime.now(UTC) - timedelta(days=days)
    champion.stage_since = then
    for move in champion.moves:
        move.at = then
    db.session.commit()


def test_a_champion_without_recent_endorsements_is_flagged_lapsing(
    app, client, as_role, make_champion, make_user, db
):
    lead = as_role("lead")
    quiet = make_champion("active", owner=lead)
    busy = make_champion("active", owner=lead)
    new = make_champion("active", owner=lead)  # just became active: not lapsing yet
    _backdate(db, quiet, 400)
    _backdate(db, busy, 400)
    endorsement_ops.record_endorsement(
        lead,
        busy,
        endorsement_ops.EndorsementFields(
            kind="post", made_on=date.today() - timedelta(days=10), title="Recent post"
        ),
        verified=False,
    )
    db.session.commit()
    months = app.config["CHAMPION_LAPSING_MONTHS"]
    flagged = queries.lapsing_ids([quiet.id, busy.id, new.id], date.today(), months)
    assert flagged == {quiet.id}
    page = client.get("/champions/list?lapsing=1").get_data(as_text=True)
    assert f'/champions/{quiet.id}"' in page and f'/champions/{busy.id}"' not in page
    assert "No endorsement from" in client.get(f"/champions/{quiet.id}").get_data(as_text=True)
    # The number of months is configurable.
    assert queries.lapsing_ids([quiet.id], date.today(), 24) == set()


def test_a_rejected_endorsement_does_not_keep_a_champion_active(make_champion, make_user, db):
    lead = make_user("lead")
    champion = make_champion("active", owner=lead)
    _backdate(db, champion, 400)
    endorsement = endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(kind="post", made_on=date.today(), title="Off-topic"),
        verified=False,
    )
    endorsement_ops.reject(lead, endorsement, "Not about the principles")
    assert queries.lapsing_ids([champion.id], date.today(), 6) == {champion.id}


def test_conversion_counts_moves_to_the_next_stage_and_days_taken(make_champion, make_user, db):
    owner = make_user("lead")
    start = datetime(2026, 1, 10, 9, tzinfo=UTC)
    a = make_champion("identified", owner=owner)
    b = make_champion("identified", owner=owner)
    c = make_champion("identified", owner=owner)
    for champion in (a, b, c):
        champion.stage_since = champion.moves[0].at = start
    db.session.flush()
    champion_ops.move(None, a, "approached", at=start + timedelta(days=10))
    champion_ops.move(None, a, "engaged", at=start + timedelta(days=30))
    champion_ops.move(None, b, "approached", at=start + timedelta(days=20))
    db.session.commit()
    rows = {r.stage: r for r in queries.conversion(date(2026, 1, 1), date(2026, 12, 31))}
    identified = rows[Stage.IDENTIFIED]
    assert (identified.entered, identified.moved_on) == (3, 2)
    assert identified.median_days == 15.0  # 10 and 20 days
    assert round(identified.rate, 2) == 0.67
    approached = rows[Stage.APPROACHED]
    assert (approached.entered, approached.moved_on, approached.median_days) == (2, 1, 20.0)
    # A period before it all happened sees nothing.
    early = {r.stage: r for r in queries.conversion(date(2025, 1, 1), date(2025, 12, 31))}
    assert early[Stage.IDENTIFIED].entered == 0


def test_figures_page_shows_conversion_and_leaderboard(client, as_role, make_champion, db):
    lead = as_role("lead")
    champion = make_champion("active", owner=lead)
    endorsement_ops.record_endorsement(
        lead,
        champion,
        endorsement_ops.EndorsementFields(
            kind="talk", made_on=date.today(), title="Keynote", audience_reach=900
        ),
        verified=True,
    )
    db.session.commit()
    page = client.get("/champions/figures").get_data(as_text=True)
    assert "Identified → Approached" in page
    assert champion.name in page and "900" in page
    # A mangled period falls back to the default with a message, not an error.
    response = client.get("/champions/figures?start=yesterday")
    assert response.status_code == 200
    assert "not a pair of dates" in response.get_data(as_text=True)


def test_remove_from_pipeline_only_without_endorsements(make_champion, make_user, db):
    champion = make_champion("active", owner=make_user("lead"))
    endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(kind="post", made_on=date.today(), title="A post"),
        verified=False,
    )
    with pytest.raises(OperationError, match="mark them lapsed instead"):
        champion_ops.remove_from_pipeline(None, champion)
    fresh = make_champion("identified")
    champion_ops.remove_from_pipeline(None, fresh)
    assert db.session.get(Champion, fresh.id) is None
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(StageChange)
            .where(StageChange.champion_id == fresh.id)
        )
        == 0
    )


def test_moves_and_reviews_are_in_the_audit_trail(make_champion, make_user, db):
    from crm.audit.models import AuditEntry

    lead = make_user("lead")
    champion = make_champion("engaged", owner=lead)
    champion_ops.move(lead, champion, "committed", note="Signed up")
    entries = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.object_type == "champion", AuditEntry.object_id == champion.id
        )
    ).all()
    moved = [e for e in entries if e.changes == {"stage": ["engaged", "committed"]}]
    assert moved and moved[0].actor_id == lead.id
