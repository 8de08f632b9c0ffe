"""Merging keeps every linked record, resolves or refuses clashes, and is audited."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.campaigns.models import OutboxMessage, Purpose, TopicOptOut
from crm.champions.models import Champion, Endorsement, EndorsementKind, Stage, StageChange
from crm.consultations.models import Response
from crm.contacts.models import ConsentStatus, Contact
from crm.core.errors import ConflictError, OperationError
from crm.duplicates.models import DuplicateDismissal, DuplicateKind, DuplicateMerge
from crm.duplicates.operations import contact_merge, dismissals, merging, organization_merge
from crm.engagements.models import Engagement, engagement_contact
from crm.events.models import Participation, ParticipationStatus
from crm.events.operations import places as place_ops
from crm.library.models import CaseStudy, Outcome, ReviewStatus, Technology
from crm.organizations.models import Organization
from crm.pledges.models import Pledge
from crm.pledges.operations import lifecycle as pledge_ops
from crm.tags.models import Tag
from crm.workgroups.models import Task


def engagement(db, contacts, org=None, summary="Met at the factory"):
    e = Engagement(
        kind="meeting",
        occurred_on=date(2026, 3, 1),
        summary=summary,
        contacts=list(contacts),
        organization_id=org.id if org else None,
    )
    db.session.add(e)
    db.session.flush()
    return e


def tag(db, name):
    t = db.session.scalar(sa.select(Tag).where(Tag.name == name)) or Tag(name=name)
    db.session.add(t)
    return t


def audit_for(db, object_type, object_id):
    return db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.object_type == object_type, AuditEntry.object_id == object_id
        )
    ).all()


def test_contact_merge_keeps_every_linked_record(
    db, ctx, make_user, make_org, make_contact, make_event, make_consultation, make_campaign,
    make_champion, current,
):  # fmt: skip
    lead = make_user("lead")
    org = make_org("Golden Thread Garments")
    survivor = make_contact(
        "Farhana", "Rahman", email="farhana@example.org", organization_id=org.id
    )
    other = make_contact(
        "Farhana", "Rahmen", email="f.rahman@example.org", phone="+880 171 555 0101",
        title="Compliance Officer", organization_id=org.id,
    )  # fmt: skip
    survivor.tags = [tag(db, "pilot")]
    other.tags = [tag(db, "pilot"), tag(db, "dhaka")]
    only_other = engagement(db, [other])
    shared = engagement(db, [survivor, other], summary="Both were there")
    event_only_other, event_both = make_event("Only other"), make_event("Both")
    place_ops.register(None, event_only_other, other)
    mine, _ = place_ops.register(None, event_both, survivor)
    theirs, _ = place_ops.register(None, event_both, other)
    place_ops.check_in(None, theirs)  # attended beats registered
    champion = make_champion(other, Stage.ENGAGED, bio="Writes about wages")
    endorsement = Endorsement(
        champion_id=champion.id, kind=EndorsementKind.POST, made_on=date(2026, 2, 1), title="Post"
    )
    db.session.add(endorsement)
    response = Response(
        consultation_id=make_consultation().id, contact_id=other.id, source="public", name="F R"
    )
    db.session.add(response)
    pledge = pledge_ops.create_pledge(
        None, org, current, signatory_id=other.id, signed_on=date(2026, 1, 5)
    )
    outbox = OutboxMessage(
        campaign_id=make_campaign().id, contact_id=other.id, email=other.email,
        message_key=secrets.token_hex(8),
    )  # fmt: skip
    db.session.add_all([outbox, TopicOptOut(contact_id=other.id, topic=Purpose.NEWSLETTER)])
    account = make_user("champion", contact_id=other.id)
    task = Task(title="Call Farhana", record_type="contact", record_id=other.id)
    db.session.add(task)
    db.session.commit()
    other_id = other.id

    moved = contact_merge.merge_contacts(
        lead, survivor, other, {"phone": "other", "title": "other", "last_name": "survivor"}
    )
    db.session.commit()

    assert db.session.get(Contact, other_id) is None
    survivor = db.session.get(Contact, survivor.id)
    assert (survivor.last_name, survivor.email) == ("Rahman", "farhana@example.org")
    assert (survivor.phone, survivor.title) == ("+880 171 555 0101", "Compliance Officer")
    assert survivor.tag_names == "dhaka, pilot"
    links = db.session.scalars(
        sa.select(engagement_contact.c.engagement_id).where(
            engagement_contact.c.contact_id == survivor.id
        )
    ).all()
    assert sorted(links) == sorted([only_other.id, shared.id])
    participations = db.session.scalars(
        sa.select(Participation).where(Participation.contact_id == survivor.id)
    ).all()
    assert len(participations) == 2
    kept = next(p for p in participations if p.event_id == event_both.id)
    assert kept.status is ParticipationStatus.ATTENDED and kept.id == theirs.id
    assert db.session.get(Participation, mine.id) is None
    assert db.session.get(Champion, champion.id).contact_id == survivor.id
    assert db.session.get(Endorsement, endorsement.id).champion_id == champion.id
    assert db.session.get(Response, response.id).contact_id == survivor.id
    assert db.session.get(Pledge, pledge.id).signatory_id == survivor.id
    assert db.session.get(OutboxMessage, outbox.id).contact_id == survivor.id
    assert db.session.get(TopicOptOut, (survivor.id, Purpose.NEWSLETTER)) is not None
    assert account.contact_id == survivor.id
    assert db.session.get(Task, task.id).record_id == survivor.id
    # Nothing anywhere still points at the merged contact.
    for table, column in merging.CONTACT_LINKS:
        t = db.metadata.tables[table]
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(t).where(t.c[column] == other_id)
        )
        assert count == 0, (table, column)
    assert moved.counts["engagements"] == 1 and moved.counts["pledges signed"] == 1  # 1 shared
    # Audited on both sides, and the merge remembered.
    (gone,) = audit_for(db, "contact", other_id)  # the rest of its history moved along
    assert gone.summary == f"Merged into contact #{survivor.id}" and gone.changes is None
    kept_entry = next(e for e in audit_for(db, "contact", survivor.id) if "Merged" in e.summary)
    assert kept_entry.actor_id == lead.id
    assert kept_entry.changes["phone"] == [None, "+880 171 555 0101"]
    assert kept_entry.changes[f"#{other_id} email"] == ["f.rahman@example.org", None]
    assert "attended" in kept_entry.changes["resolved"][1]
    merge = db.session.scalar(sa.select(DuplicateMerge))
    assert (merge.kind, merge.survivor_id, merge.merged_id) == (
        DuplicateKind.CONTACT, survivor.id, other_id,
    )  # fmt: skip


def test_organization_merge_keeps_every_linked_record(
    db, ctx, make_user, make_org, make_contact, make_champion, current
):
    lead = make_user("lead")
    survivor = make_org("Acme Garments Ltd", website="https://acme.example")
    other = make_org("ACME Garments", country="BD", sector="Apparel")
    survivor.tags = [tag(db, "brand")]
    other.tags = [tag(db, "brand"), tag(db, "pilot")]
    person = make_contact(organization_id=other.id)
    met = engagement(db, [], org=other)
    pledge = pledge_ops.create_pledge(None, other, current)
    referrer = make_champion(make_contact())
    referral = Endorsement(
        champion_id=referrer.id, kind=EndorsementKind.REFERRAL, made_on=date(2026, 2, 1),
        title="Brought Acme", referred_organization_id=other.id,
    )  # fmt: skip
    study = CaseStudy(
        title="Helpline", technology=Technology.HELPLINE, outcome=Outcome.WORKED,
        what_happened="x", lessons="y", status=ReviewStatus.PUBLISHED, organizations=[other],
    )  # fmt: skip
    both_study = CaseStudy(
        title="Both", technology=Technology.HELPLINE, outcome=Outcome.WORKED,
        what_happened="x", lessons="y", status=ReviewStatus.PUBLISHED,
        organizations=[survivor, other],
    )  # fmt: skip
    db.session.add_all([referral, study, both_study])
    rep = make_user("org_rep", organization_id=other.id)
    task = Task(title="Follow up", record_type="organization", record_id=other.id)
    db.session.add(task)
    db.session.commit()
    other_id = other.id

    organization_merge.merge_organizations(
        lead, survivor, other, {"country": "other", "sector": "other"}
    )
    db.session.commit()

    assert db.session.get(Organization, other_id) is None
    survivor = db.session.get(Organization, survivor.id)
    assert (survivor.name, survivor.country, survivor.sector) == (
        "Acme Garments Ltd", "BD", "Apparel",
    )  # fmt: skip
    assert survivor.website == "https://acme.example"
    assert survivor.tag_names == "brand, pilot"
    assert db.session.get(Contact, person.id).organization_id == survivor.id
    assert db.session.get(Engagement, met.id).organization_id == survivor.id
    assert db.session.get(Pledge, pledge.id).organization_id == survivor.id
    assert db.session.get(Endorsement, referral.id).referred_organization_id == survivor.id
    assert [o.id for o in db.session.get(CaseStudy, study.id).organizations] == [survivor.id]
    assert [o.id for o in db.session.get(CaseStudy, both_study.id).organizations] == [survivor.id]
    assert rep.organization_id == survivor.id
    assert db.session.get(Task, task.id).record_id == survivor.id
    for table, column in merging.ORGANIZATION_LINKS:
        t = db.metadata.tables[table]
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(t).where(t.c[column] == other_id)
        )
        assert count == 0, (table, column)
    assert [e.summary for e in audit_for(db, "organization", other_id)] == [
        f"Merged into Acme Garments Ltd (#{survivor.id})"
    ]
    assert any("Merged ACME" in e.summary for e in audit_for(db, "organization", survivor.id))


def test_both_champions_keep_the_further_profile_with_all_endorsements(
    db, ctx, make_user, make_contact, make_champion
):
    owner = make_user("lead")
    survivor, other = make_contact("Ana", "Lima"), make_contact("Ana", "Lima")
    early = make_champion(survivor, Stage.APPROACHED, bio="From the survivor")
    far = make_champion(other, Stage.ACTIVE, owner_id=owner.id, channels=["LinkedIn"])
    for champion in (early, far):
        db.session.add(
            Endorsement(
                champion_id=champion.id,
                kind=EndorsementKind.POST,
                made_on=date(2026, 1, 1),
                title=f"Post {champion.id}",
            )  # fmt: skip
        )
    db.session.commit()
    moves = db.session.scalar(sa.select(sa.func.count()).select_from(StageChange))

    moved = contact_merge.merge_contacts(None, survivor, other)
    db.session.commit()

    champions = db.session.scalars(sa.select(Champion)).all()
    assert [(c.id, c.contact_id, c.stage) for c in champions] == [
        (far.id, survivor.id, Stage.ACTIVE)
    ]
    kept = champions[0]
    assert kept.bio == "From the survivor"  # blank on the kept profile: filled from the other
    assert len(kept.endorsements) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StageChange)) == moves
    assert any("both were champions" in n for n in moved.notes)


@pytest.mark.parametrize(
    ("survivor_consent", "other_consent", "expected"),
    [
        ("granted", "withdrawn", "withdrawn"),
        ("withdrawn", "granted", "withdrawn"),
        ("unknown", "granted", "granted"),
        ("granted", "unknown", "granted"),
        ("unknown", "unknown", "unknown"),
    ],
)
def test_consent_withdrawn_beats_agreed_and_agreed_is_never_invented(
    db, ctx, make_contact, survivor_consent, other_consent, expected
):
    at = datetime(2025, 5, 1, tzinfo=UTC)
    survivor = make_contact(consent_status=survivor_consent, consent_source="s", consent_at=at)
    other = make_contact(consent_status=other_consent, consent_source="o", consent_at=at)
    winner = "s" if survivor_consent == expected else "o"
    contact_merge.merge_contacts(None, survivor, other)
    db.session.commit()
    assert survivor.consent_status == ConsentStatus(expected)
    assert survivor.consent_source == winner


def test_the_other_email_can_be_kept(db, ctx, make_contact):
    survivor = make_contact(email="old@example.org")
    other = make_contact(email="new@example.org")
    contact_merge.merge_contacts(None, survivor, other, {"email": "other", "notes": "both"})
    db.session.commit()
    assert db.session.get(Contact, survivor.id).email == "new@example.org"


def test_an_engagement_on_both_records_is_said_to_stay_once(db, ctx, make_contact):
    """The merge page counts a shared engagement on both sides; the message says why it did
    not 'move' instead of 'no linked records'."""
    survivor, other = make_contact("Sarah"), make_contact("Sarah")
    shared = engagement(db, [survivor, other])
    moved = contact_merge.merge_contacts(None, survivor, other, {})
    db.session.commit()
    assert moved.counts["engagements"] == 0
    assert "1 engagement was already on both records and stay once." not in moved.notes
    assert "1 engagement was already on both records and stays once." in moved.notes
    linked = db.session.scalars(
        sa.select(engagement_contact.c.contact_id).where(
            engagement_contact.c.engagement_id == shared.id
        )
    ).all()
    assert linked == [survivor.id]


def test_notes_can_keep_both(db, ctx, make_contact):
    survivor, other = make_contact(notes="Met in Dhaka"), make_contact(notes="Prefers calls")
    contact_merge.merge_contacts(None, survivor, other, {"notes": "both"})
    assert survivor.notes == "Met in Dhaka\n\nPrefers calls"


def _nothing_changed(db, *contacts):
    for contact in contacts:
        assert db.session.get(Contact, contact.id) is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DuplicateMerge)) == 0


def test_bad_merges_are_refused_and_lose_nothing(db, ctx, make_contact, make_consultation):
    a, b = make_contact("Ana"), make_contact("Ana")
    with pytest.raises(OperationError, match="cannot be merged into itself"):
        contact_merge.merge_contacts(None, a, a)
    with pytest.raises(OperationError, match="no longer exists"):
        contact_merge.merge_contacts(None, a, None)
    with pytest.raises(ConflictError):
        contact_merge.merge_contacts(None, a, b, expected_versions=(a.version, b.version + 1))
    with pytest.raises(OperationError, match="not a field"):
        contact_merge.merge_contacts(None, a, b, {"password": "other"})
    with pytest.raises(OperationError, match="Only notes"):
        contact_merge.merge_contacts(None, a, b, {"email": "both"})
    consultation = make_consultation("Wages review")
    db.session.add_all(
        [
            Response(consultation_id=consultation.id, contact_id=c.id, source="public", name="A")
            for c in (a, b)
        ]
    )
    db.session.commit()
    with pytest.raises(OperationError, match="Both answered the consultation “Wages review”"):
        contact_merge.merge_contacts(None, a, b)
    db.session.rollback()
    _nothing_changed(db, a, b)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 2


def test_erased_contacts_are_not_merged(db, ctx, make_contact):
    a, b = make_contact(), make_contact(erased_at=datetime.now(UTC))
    with pytest.raises(OperationError, match="erased"):
        contact_merge.merge_contacts(None, a, b)


def test_both_organizations_with_a_live_pledge_for_one_version_are_refused(
    db, ctx, make_org, current
):
    a, b = make_org("Acme"), make_org("Acme Ltd")
    for org in (a, b):
        pledge_ops.create_pledge(None, org, current)
    db.session.commit()
    with pytest.raises(OperationError, match=f"live pledge for standard {current.version}"):
        organization_merge.merge_organizations(None, a, b)
    db.session.rollback()
    assert db.session.get(Organization, b.id) is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 2


def test_a_withdrawn_pledge_moves_beside_a_live_one(db, ctx, make_org, current):
    a, b = make_org("Acme"), make_org("Acme Ltd")
    pledge_ops.create_pledge(None, a, current)
    old = pledge_ops.create_pledge(None, b, current, signatory_id=None, signed_on=None)
    pledge_ops.transition(None, old, "withdrawn", reason="Changed plans")
    db.session.commit()
    organization_merge.merge_organizations(None, a, b)
    db.session.commit()
    assert {p.organization_id for p in db.session.scalars(sa.select(Pledge))} == {a.id}


def test_a_merge_forgets_dismissals_of_the_merged_record(db, ctx, make_contact):
    a, b, c = make_contact("Ana"), make_contact("Ana"), make_contact("Ana")
    dismissals.dismiss_pair(None, DuplicateKind.CONTACT, a.id, c.id)
    dismissals.dismiss_pair(None, DuplicateKind.CONTACT, b.id, c.id)
    contact_merge.merge_contacts(None, a, b)
    pairs = db.session.execute(sa.select(DuplicateDismissal.low_id, DuplicateDismissal.high_id))
    assert [tuple(p) for p in pairs] == [(a.id, c.id)]


def test_dismissing_twice_or_a_missing_record(db, ctx, make_contact):
    a, b = make_contact(), make_contact()
    assert dismissals.dismiss_pair(None, "contact", b.id, a.id) is True
    assert dismissals.dismiss_pair(None, "contact", a.id, b.id) is False
    with pytest.raises(OperationError, match="no longer exists"):
        dismissals.dismiss_pair(None, "contact", a.id, 987654)
    with pytest.raises(OperationError, match="same as itself"):
        dismissals.dismiss_pair(None, "contact", a.id, a.id)


def test_the_merged_history_joins_the_survivor_and_erasure_clears_it(db, ctx, make_user):
    from crm.contacts import operations as contact_ops

    lead = make_user("lead")
    a = contact_ops.create_contact(lead, contact_ops.ContactFields("Ana", "Lima"))
    b = contact_ops.create_contact(
        lead, contact_ops.ContactFields("Ana", "Lima", email="ana@example.org")
    )
    b_id = b.id
    contact_merge.merge_contacts(lead, a, b)
    trail = audit_for(db, "contact", a.id)
    assert any(e.summary == "Created Ana Lima" for e in trail if e.id != trail[0].id)
    assert len([e for e in trail if e.summary.startswith("Created")]) == 2
    contact_ops.erase_contact(lead, a)
    assert all("ana@example.org" not in str(e.changes) for e in audit_for(db, "contact", a.id))
    assert all("ana@example.org" not in (e.summary or "") for e in audit_for(db, "contact", b_id))
    assert db.session.scalar(sa.select(DuplicateMerge.merged_label)) == "(erased)"
