from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.champions.models import Endorsement, Verification
from crm.champions.operations import endorsements as endorsement_ops
from crm.standards.models import Principle

TODAY = date.today()


def endorsement_form(**overrides):
    data = {
        "kind": "talk",
        "made_on": TODAY.isoformat(),
        "title": "Keynote at the Responsible Sourcing Forum",
        "link": "https://forum.example.org/keynote",
        "audience_reach": "450",
        "principle_ids": [],
        "referred_organization": "",
        "notes": "",
    }
    data.update(overrides)
    return data


def principle_ids(db, *codes):
    rows = db.session.scalars(sa.select(Principle).where(Principle.code.in_(codes)))
    return [p.id for p in rows]


def test_principles_of_version_1_0_are_seeded(db):
    codes = list(db.session.scalars(sa.select(Principle.code).order_by(Principle.position)))
    assert codes == [f"P{n}" for n in range(1, 9)]


def test_a_champion_records_an_endorsement_and_sees_the_outcome(
    client, login, champion_user, make_user, db
):
    lead = make_user("lead")
    user, champion = champion_user(owner=lead)
    login(user)
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Record an endorsement" in home
    response = client.post(
        "/me/champion/endorsements/new",
        data=endorsement_form(principle_ids=principle_ids(db, "P2", "P5")),
    )
    assert response.status_code == 302
    endorsement = db.session.scalar(sa.select(Endorsement))
    assert endorsement.champion_id == champion.id
    assert endorsement.status is Verification.PENDING  # a lead reviews it
    assert [p.code for p in endorsement.principles] == ["P2", "P5"]
    assert endorsement.audience_reach == 450
    assert "Awaiting review" in client.get("/me/champion/").get_data(as_text=True)

    login(lead)
    assert "Keynote at the Responsible Sourcing Forum" in client.get(
        "/champions/endorsements/review"
    ).get_data(as_text=True)
    client.post(
        f"/champions/endorsements/{endorsement.id}/reject",
        data={"reason": "The link is broken; please fix it", "version": endorsement.version},
    )
    db.session.refresh(endorsement)
    assert endorsement.status is Verification.REJECTED
    assert endorsement.reviewed_by_id == lead.id

    login(user)
    page = client.get("/me/champion/").get_data(as_text=True)
    assert "Not accepted" in page and "The link is broken; please fix it" in page

    # Fixing it sends it back to review; the lead verifies.
    client.post(
        f"/me/champion/endorsements/{endorsement.id}/edit",
        data=endorsement_form(
            link="https://forum.example.org/keynote-video", version=endorsement.version
        ),
    )
    db.session.refresh(endorsement)
    assert endorsement.status is Verification.PENDING and endorsement.rejection_reason is None
    login(lead)
    client.post(
        f"/champions/endorsements/{endorsement.id}/verify", data={"version": endorsement.version}
    )
    db.session.refresh(endorsement)
    assert endorsement.status is Verification.VERIFIED
    login(user)
    assert "Verified" in client.get("/me/champion/").get_data(as_text=True)


def test_rejecting_needs_a_reason(client, as_role, make_champion, db):
    as_role("lead")
    champion = make_champion("active")
    endorsement = endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(kind="post", made_on=TODAY, title="A post"),
        verified=False,
    )
    db.session.commit()
    response = client.post(
        f"/champions/endorsements/{endorsement.id}/reject",
        data={"reason": "  ", "version": endorsement.version},
    )
    assert "The reason is required." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    db.session.refresh(endorsement)
    assert endorsement.status is Verification.PENDING


def test_a_stale_review_is_refused(client, as_role, make_champion, db):
    lead = as_role("lead")
    champion = make_champion("active")
    endorsement = endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(kind="post", made_on=TODAY, title="A post"),
        verified=False,
    )
    db.session.commit()
    loaded = endorsement.version
    endorsement_ops.reject(lead, endorsement, "Off topic")
    db.session.commit()
    client.post(f"/champions/endorsements/{endorsement.id}/verify", data={"version": loaded})
    db.session.refresh(endorsement)
    assert endorsement.status is Verification.REJECTED  # the later click did not overwrite it


def test_a_champion_sees_only_their_own_records(
    client, login, champion_user, make_contact, make_org, make_user, db
):
    me, mine = champion_user(email="me@example.org")
    _other_user, theirs = champion_user(email="them@example.org")
    other = endorsement_ops.record_endorsement(
        None,
        theirs,
        endorsement_ops.EndorsementFields(
            kind="article", made_on=TODAY, title="Their secret article"
        ),
        verified=False,
    )
    stranger = make_contact("Private", "Person")
    org = make_org("Private Org")
    db.session.commit()
    login(me)
    page = client.get("/me/champion/").get_data(as_text=True)
    assert mine.name in page
    assert theirs.name not in page and "Their secret article" not in page
    # Another champion's endorsement: answered like a missing one, and not changed.
    assert client.get(f"/me/champion/endorsements/{other.id}/edit").status_code == 404
    response = client.post(
        f"/me/champion/endorsements/{other.id}/edit", data=endorsement_form(title="Hijacked")
    )
    assert response.status_code == 404
    assert client.post(f"/me/champion/endorsements/{other.id}/delete").status_code == 404
    db.session.refresh(other)
    assert other.title == "Their secret article"
    # No staff page with anyone's data is open to a champion.
    for url in (
        f"/champions/{theirs.id}",
        f"/champions/{mine.id}",
        "/champions/",
        "/champions/list",
        "/champions/figures",
        f"/champions/endorsements/{other.id}",
        "/champions/endorsements/review",
        f"/contacts/{stranger.id}",
        f"/contacts/{theirs.contact_id}",
        "/contacts/",
        "/contacts/lookup?q=Private",
        f"/organizations/{org.id}",
        "/organizations/lookup?q=Private",
        "/events/",
        "/engagements/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/champions/endorsements/{other.id}/verify").status_code == 403
    assert client.post(f"/champions/{mine.id}/move", data={"stage": "lapsed"}).status_code == 403


def test_a_champion_edits_only_their_profile_fields(client, login, champion_user, make_user, db):
    lead = make_user("lead")
    user, champion = champion_user(owner=lead)
    login(user)
    response = client.post(
        "/me/champion/profile",
        data={
            "audience_reach": "3000",
            "channels": "Podcast",
            "bio": "Union organizer",
            "owner_id": "",  # not theirs to change: ignored
            "next_step": "Hacked",
            "version": champion.version,
        },
    )
    assert response.status_code == 302
    db.session.refresh(champion)
    assert (champion.audience_reach, champion.channels, champion.bio) == (
        3000,
        "Podcast",
        "Union organizer",
    )
    assert champion.owner_id == lead.id and champion.next_step is None


def test_a_champion_account_without_a_champion_record(client, as_role):
    as_role("champion")
    page = client.get("/me/champion/").get_data(as_text=True)
    assert "not set up yet" in page
    assert client.get("/me/champion/endorsements/new").status_code == 404


def test_a_champion_cannot_delete_a_verified_endorsement(client, login, champion_user, db):
    user, champion = champion_user()
    endorsement = endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(kind="post", made_on=TODAY, title="Verified post"),
        verified=True,
    )
    db.session.commit()
    login(user)
    client.post(f"/me/champion/endorsements/{endorsement.id}/delete")
    assert db.session.get(Endorsement, endorsement.id) is not None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "Say what it was."),
        ({"made_on": ""}, "Give the date."),
        ({"made_on": (TODAY + timedelta(days=5)).isoformat()}, "The date is in the future"),
        ({"made_on": "1950-01-01"}, "looks mistyped"),
        ({"link": "not a link"}, "The link must be a web address"),
        ({"audience_reach": "-1"}, "Give a number of people."),
        ({"kind": "rumour"}, "is not a kind of endorsement"),
        ({"kind": "post", "referred_organization": "Some Org"}, "Only a referral names"),
        ({"principle_ids": [987654]}, "One of the principles does not exist."),
        ({"title": "x" * 301}, "Field cannot be longer than 300 characters."),
    ],
)
def test_bad_endorsements_are_refused_and_keep_what_was_typed(
    client, login, champion_user, db, overrides, message
):
    user, _champion = champion_user()
    login(user)
    response = client.post(
        "/me/champion/endorsements/new",
        data=endorsement_form(notes="Kept as typed", **overrides),
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text
    assert "Kept as typed" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Endorsement)) == 0


def test_a_referral_shows_in_the_referred_organizations_timeline(
    client, as_role, make_champion, make_org, db
):
    as_role("lead")
    org = make_org("Northwind Footwear")
    champion = make_champion("active")
    response = client.post(
        f"/champions/{champion.id}/endorsements/new",
        data=endorsement_form(
            kind="referral",
            title="Introduced Northwind's sourcing director",
            referred_organization="northwind footwear",
        ),
    )
    assert response.status_code == 302
    endorsement = db.session.scalar(sa.select(Endorsement))
    assert endorsement.referred_organization_id == org.id
    assert endorsement.status is Verification.VERIFIED  # recorded by a lead
    page = client.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert "Introduced Northwind&#39;s sourcing director" in page
    assert "Referred by a champion" in page


def test_staff_must_pick_a_known_organization_but_a_champion_may_name_a_new_one(
    client, as_role, login, champion_user, make_champion, db
):
    as_role("lead")
    champion = make_champion("active")
    response = client.post(
        f"/champions/{champion.id}/endorsements/new",
        data=endorsement_form(kind="referral", referred_organization="Unknown Textiles"),
    )
    assert response.status_code == 422
    assert "There is no organization named" in response.get_data(as_text=True)
    user, _mine = champion_user()
    login(user)
    response = client.post(
        "/me/champion/endorsements/new",
        data=endorsement_form(kind="referral", referred_organization="Unknown Textiles"),
    )
    assert response.status_code == 302
    endorsement = db.session.scalar(sa.select(Endorsement))
    assert endorsement.referred_organization_id is None
    assert endorsement.referred_organization_name == "Unknown Textiles"


def test_leaderboard_counts_verified_endorsements_in_the_period(make_champion, db):
    from crm.champions.queries import leaderboard

    a = make_champion("active")
    b = make_champion("active")

    def add(champion, days_ago, reach, verified=True):
        endorsement_ops.record_endorsement(
            None,
            champion,
            endorsement_ops.EndorsementFields(
                kind="post",
                made_on=TODAY - timedelta(days=days_ago),
                title="Post",
                audience_reach=reach,
            ),
            verified=verified,
        )

    add(a, 1, 100)
    add(a, 2, 100)
    add(b, 1, 5_000)
    add(b, 3, 0, verified=False)  # pending: does not count
    add(b, 400, 9_999)  # outside the period
    rows = leaderboard(TODAY - timedelta(days=30), TODAY)
    assert [(r.champion.id, r.endorsements, r.reach) for r in rows] == [
        (a.id, 2, 200),
        (b.id, 1, 5_000),
    ]


def test_endorsements_and_champion_data_in_the_personal_data_export_and_erasure(
    ctx, make_champion, make_contact, db
):
    from crm.contacts.operations import erase_contact, export_personal_data

    contact = make_contact("Ayesha", "Siddiqa", email="ayesha@example.org")
    champion = make_champion("active", contact=contact, bio="Ayesha runs a worker podcast")
    endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(
            kind="media",
            made_on=TODAY,
            title="Ayesha Siddiqa on the radio",
            link="https://radio.example.org/ayesha",
            audience_reach=800,
        ),
        verified=True,
    )
    db.session.commit()
    data = export_personal_data(None, contact)
    assert data["champion"]["about"] == "Ayesha runs a worker podcast"
    assert data["champion"]["endorsements"][0]["title"] == "Ayesha Siddiqa on the radio"
    erase_contact(None, contact)
    db.session.commit()
    db.session.refresh(champion)
    endorsement = champion.endorsements[0]
    assert champion.bio is None
    assert "Ayesha" not in endorsement.title and endorsement.link is None
    assert endorsement.audience_reach == 800  # still counts in figures


def test_a_champion_can_keep_their_profile_whatever_the_teams_state(
    client, login, champion_user, make_user, db
):
    owner = make_user("lead")
    user, champion = champion_user(owner=owner)
    owner.active = False  # their contact on the team left
    db.session.commit()
    login(user)
    response = client.post(
        "/me/champion/profile",
        data={"audience_reach": "10", "channels": "Blog", "bio": "", "version": champion.version},
    )
    assert response.status_code == 302
    db.session.refresh(champion)
    assert champion.audience_reach == 10


def test_a_lead_can_edit_an_endorsement_naming_an_organization_not_yet_known(
    client, as_role, login, champion_user, db
):
    user, _champion = champion_user()
    login(user)
    client.post(
        "/me/champion/endorsements/new",
        data=endorsement_form(kind="referral", referred_organization="Unknown Textiles"),
    )
    endorsement = db.session.scalar(sa.select(Endorsement))
    as_role("lead")
    response = client.post(
        f"/champions/endorsements/{endorsement.id}/edit",
        data=endorsement_form(
            kind="referral",
            referred_organization="Unknown Textiles",
            notes="Checked the intro email",
            version=endorsement.version,
        ),
    )
    assert response.status_code == 302
    db.session.refresh(endorsement)
    assert endorsement.referred_organization_name == "Unknown Textiles"
    assert endorsement.notes == "Checked the intro email"


def test_mangled_filters_and_periods_are_not_errors(client, as_role):
    as_role("lead")
    assert client.get("/champions/list?stage=bogus&region=bogus").status_code == 200
    assert client.get("/champions/figures?start=9999-12-31&end=9999-12-31").status_code == 200


def test_editing_an_endorsement_keeps_principles_of_an_older_version(
    client, as_role, login, champion_user, make_user, db
):
    """Tagged P2 and P5 of 1.0, then 2.0 becomes current: the lead's and the champion's edit
    forms still offer (and tick) the 1.0 principles, so saving does not drop them."""
    import re

    from markupsafe import escape

    from crm.standards import operations as standards
    from crm.standards.models import Standard

    user, champion = champion_user()
    v1 = db.session.scalar(sa.select(Standard).where(Standard.version == "1.0"))
    old = {p.code: p for p in v1.principles}
    endorsement = endorsement_ops.record_endorsement(
        None,
        champion,
        endorsement_ops.EndorsementFields(
            kind="talk", made_on=TODAY, title="Keynote", link="https://example.org/k",
            audience_reach=450, principle_ids=[old["P2"].id, old["P5"].id],
        ),
        verified=True,
    )  # fmt: skip
    for p in v1.principles:
        p.text = f"Text of {p.code}."
    admin = make_user("admin")
    v2 = standards.supersede(admin, v1, "2.0", "WEST Principles")
    standards.set_status(admin, v2, "current")
    db.session.commit()
    new_p1 = next(p for p in v2.principles if p.code == "P1")

    for who, url in [
        ("lead", f"/champions/endorsements/{endorsement.id}/edit"),
        ("champion", f"/me/champion/endorsements/{endorsement.id}/edit"),
    ]:
        if who == "lead":
            as_role("lead")
        else:
            login(user)
        page = client.get(url).get_data(as_text=True)
        assert escape(f"{old['P2'].label} (version 1.0)") in page
        boxes = {int(v): attrs for attrs, v in re.findall(r'<input([^>]*?)value="(\d+)"', page)}
        assert "checked" in boxes[old["P2"].id] and "checked" in boxes[old["P5"].id]
        # The lead's save below adds the current version's P1; the champion then sees it ticked.
        assert ("checked" in boxes[new_p1.id]) == (who == "champion")
        # Saved as the browser sends it back, with one of the current version's added.
        response = client.post(
            url,
            data=endorsement_form(
                title="Keynote", link="https://example.org/k", version=endorsement.version,
                principle_ids=[old["P2"].id, old["P5"].id, new_p1.id],
            ),
        )  # fmt: skip
        assert response.status_code == 302, response.get_data(as_text=True)
        db.session.refresh(endorsement)
        assert sorted((p.standard.version, p.code) for p in endorsement.principles) == [
            ("1.0", "P2"), ("1.0", "P5"), ("2.0", "P1")
        ]  # fmt: skip
