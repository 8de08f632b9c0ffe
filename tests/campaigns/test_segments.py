"""Segments: each criterion, their combination, bad input refused, and the builder page."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from crm.campaigns import segments
from crm.campaigns.models import Segment
from crm.campaigns.operations import saved_segments as segment_ops
from crm.contacts.models import ConsentStatus
from crm.core.errors import OperationError


def ids(criteria: dict) -> set[int]:
    from crm.extensions import db

    c = segments.clean_criteria(criteria)
    return set(db.session.scalars(segments.member_ids(c)))


@pytest.fixture
def people(db, person, make_org, make_contact):
    from crm.champions.models import Champion, Stage
    from crm.organizations.models import OrganizationKind
    from crm.tags.models import Tag

    brand = make_org("Brand Co", kind=OrganizationKind.BRAND, country="BD")
    union = make_org("Garment Union", kind=OrganizationKind.WORKER_ORGANIZATION, country="KH")
    tag = Tag(name="newsletter")
    db.session.add(tag)
    a = person("Amina", organization_id=brand.id)  # country from the organization: BD
    b = person("Boris", organization_id=union.id, country="DE")
    c = person("Chen", country="KH")
    d = make_contact("Dara", country="KH", consent_status=ConsentStatus.UNKNOWN)
    erased = person("Erased", country="KH")
    erased.erased_at = erased.created_at
    a.tags.append(tag)
    c.tags.append(tag)
    db.session.add(Champion(contact_id=b.id, stage=Stage.ENGAGED))
    db.session.commit()
    return {"a": a, "b": b, "c": c, "d": d, "brand": brand, "union": union}


def test_each_criterion(people, db):
    p = {k: v.id for k, v in people.items()}
    assert ids({}) == {p["a"], p["b"], p["c"]}  # consent only by default; erased never
    assert ids({"consent_only": False}) == {p["a"], p["b"], p["c"], p["d"]}
    assert ids({"tags": ["newsletter"]}) == {p["a"], p["c"]}
    assert ids({"organization_kinds": ["worker_organization"]}) == {p["b"]}
    assert ids({"countries": ["KH"]}) == {p["c"]}  # Boris lives in DE, his union is in KH
    assert ids({"countries": ["Bangladesh"]}) == {p["a"]}  # by name, from the organization
    assert ids({"champion_stages": ["engaged"]}) == {p["b"]}
    assert ids({"tags": ["newsletter"], "countries": ["KH"]}) == {p["c"]}  # AND across


def test_pledge_status_and_event_participation(ctx, people, db, make_contact):
    from crm.events.models import Event, EventKind, Hosting, Participation, ParticipationStatus
    from crm.pledges.models import Pledge, PledgeStatus
    from crm.standards.models import Standard

    standard = db.session.scalar(sa.select(Standard).limit(1))
    if standard is None:
        standard = Standard(version="1.0", title="WEST Principles", status="current")
        db.session.add(standard)
        db.session.flush()
    db.session.add(
        Pledge(
            organization_id=people["brand"].id,
            standard_id=standard.id,
            status=PledgeStatus.ACTIVE,
            signed_on=date(2026, 1, 5),
        )
    )
    start = people["a"].created_at
    event = Event(
        name="Dhaka roundtable",
        kind=EventKind.ROUNDTABLE,
        hosting=Hosting.HOSTED,
        starts_at=start,
        ends_at=start,
    )
    db.session.add(event)
    db.session.flush()
    for contact, status in (
        (people["b"], ParticipationStatus.ATTENDED),
        (people["c"], ParticipationStatus.REGISTERED),
        (people["a"], ParticipationStatus.CANCELLED),
    ):
        db.session.add(
            Participation(event_id=event.id, contact_id=contact.id, role="attendee", status=status)
        )
    db.session.commit()
    p = {k: v.id for k, v in people.items()}
    assert ids({"pledge_statuses": ["active"]}) == {p["a"]}
    assert ids({"pledge_statuses": ["none"]}) == {p["b"], p["c"]}
    assert ids({"event_id": event.id, "event_participation": "attended"}) == {p["b"]}
    assert ids({"event_id": event.id, "event_participation": "registered"}) == {p["b"], p["c"]}


@pytest.mark.parametrize(
    "criteria, field",
    [
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"countries": ["Atlantis"]}, "countries"),
        ({"organization_kinds": ["pirate"]}, "organization_kinds"),
        ({"champion_stages": ["famous"]}, "champion_stages"),
        ({"pledge_statuses": ["maybe"]}, "pledge_statuses"),
        ({"event_id": "x"}, "event_id"),
        ({"event_id": 987654}, "event_id"),
        ({"event_participation": "spoke"}, "event_participation"),
    ],
)
def test_bad_criteria_are_refused_and_nothing_is_saved(db, criteria, field):
    with pytest.raises(OperationError) as exc:
        segment_ops.create_segment(None, segment_ops.SegmentFields(name="Bad", criteria=criteria))
    assert exc.value.field == field
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Segment)) == 0


def test_a_segment_needs_a_name(db):
    with pytest.raises(OperationError) as exc:
        segment_ops.create_segment(None, segment_ops.SegmentFields(name="  "))
    assert exc.value.field == "name"


def test_builder_shows_the_count_and_a_sample_then_saves(client, as_role, people, db):
    as_role("lead")
    page = client.post(
        "/campaigns/segments/new",
        data={"tags": ["newsletter"], "consent_only": "y", "action": "preview"},
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="segment-count">2<' in text
    assert people["a"].full_name in text and people["c"].full_name in text
    assert people["b"].full_name not in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Segment)) == 0

    missing_name = client.post(
        "/campaigns/segments/new", data={"tags": ["newsletter"], "action": "save"}
    )
    assert missing_name.status_code == 422 and "Name is required" in missing_name.get_data(
        as_text=True
    )
    saved = client.post(
        "/campaigns/segments/new",
        data={"tags": ["newsletter"], "consent_only": "y", "name": "Newsletter", "action": "save"},
    )
    assert saved.status_code == 302
    segment = db.session.scalar(sa.select(Segment))
    assert segment.criteria["tags"] == ["newsletter"]
    detail = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Newsletter" in detail and people["a"].full_name in detail

    bad = client.post(
        f"/campaigns/segments/{segment.id}/edit",
        data={"countries": ["Atlantis"], "name": "Newsletter", "action": "save"},
    )
    assert bad.status_code == 422 and "Atlantis" in bad.get_data(as_text=True)
    db.session.refresh(segment)
    assert segment.criteria["countries"] == []


def test_volunteers_see_segments_but_cannot_build_them(client, as_role, make_segment):
    segment = make_segment()
    as_role("volunteer")
    assert client.get(f"/campaigns/segments/{segment.id}").status_code == 200
    assert client.get("/campaigns/segments/new").status_code == 403


def test_a_segment_in_use_is_kept(db, make_campaign):
    campaign = make_campaign()
    with pytest.raises(OperationError):
        segment_ops.delete_segment(None, campaign.segment)


def test_segments_by_region_and_by_computed_pledge_standing(ctx, db, make_org, make_contact):
    from crm.pledges.models import Pledge, PledgeStatus
    from crm.standards.models import Standard

    standard = db.session.scalar(sa.select(Standard).limit(1))
    late = make_org("Late Co", country="BD")  # south Asia
    fine = make_org("Fine Co", country="DE")  # Europe
    db.session.add_all([
        Pledge(organization_id=late.id, standard_id=standard.id, status=PledgeStatus.ACTIVE,
               signed_on=date(2025, 1, 5), activated_on=date(2025, 1, 10)),
        Pledge(organization_id=fine.id, standard_id=standard.id, status=PledgeStatus.ACTIVE,
               signed_on=date.today(), activated_on=date.today()),
    ])  # fmt: skip
    at_late = make_contact("Lata", organization_id=late.id)
    at_fine = make_contact("Fina", organization_id=fine.id, country="FR")
    db.session.commit()

    def members(**raw):
        criteria = segments.clean_criteria({"consent_only": False, **raw})
        return set(db.session.scalars(segments.member_ids(criteria)))

    assert members(pledge_statuses=["lapsed"]) == {at_late.id}  # no report for well over a year
    assert members(pledge_statuses=["active"]) == {at_fine.id}
    assert at_late.id in members(regions=["south_asia"])
    assert at_fine.id in members(regions=["europe"]) and at_late.id not in members(
        regions=["europe"]
    )
    with pytest.raises(OperationError, match="is not a region"):
        segments.clean_criteria({"regions": ["atlantis"]})


def test_a_big_segments_preview_counts_no_further_than_the_cap(
    app, client, as_role, people, monkeypatch
):
    """The preview of a segment bigger than the lists' cap says "more than" and reads at most
    cap + 1 rows (the whole table counted on a request is what the cap is there to stop)."""
    as_role("lead")
    monkeypatch.setitem(app.config, "COUNT_CAP", 1)
    text = client.get("/campaigns/segments/new").get_data(as_text=True)
    assert 'data-testid="segment-count">more than 1<' in text
