"""Demo champions with their stage history and endorsements, and events with participants."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crm.auth.models import User
from crm.champions.models import (
    FUNNEL,
    Champion,
    Endorsement,
    EndorsementKind,
    Region,
    Stage,
    StageChange,
    Verification,
)
from crm.contacts.models import Contact
from crm.core.db import utcnow
from crm.demo import names
from crm.events.models import (
    Event,
    EventKind,
    Hosting,
    ParticipantRole,
    Participation,
    ParticipationStatus,
)
from crm.extensions import db
from crm.organizations.models import Organization
from crm.standards.models import Principle

REGION_OF = {
    "south_asia": Region.SOUTH_ASIA,
    "east_asia": Region.ASIA_PACIFIC,
    "southeast_asia": Region.ASIA_PACIFIC,
    "africa": Region.AFRICA,
    "europe": Region.EUROPE,
    "latin_america": Region.LATIN_AMERICA,
    "north_america": Region.NORTH_AMERICA,
    "middle_east": Region.MIDDLE_EAST,
}

CHANNELS = ["LinkedIn", "X", "Newsletter", "Podcast", "Conference talks", "Blog", "Union meetings"]

ENDORSEMENTS = [
    (EndorsementKind.TALK, "Keynote on worker voice tools at the Responsible Sourcing Forum"),
    (EndorsementKind.POST, "LinkedIn post on why grievance apps must be worker-owned"),
    (EndorsementKind.ARTICLE, "Op-ed: technology that listens to the people who make our clothes"),
    (EndorsementKind.STATEMENT, "Board statement endorsing the WEST Principles"),
    (EndorsementKind.MEDIA, "Radio interview on digital wage payments"),
    (EndorsementKind.TALK, "Panel on data security for worker helplines"),
    (EndorsementKind.POST, "Thread sharing the P3 trust checklist"),
    (EndorsementKind.ARTICLE, "Case study: survey tools co-designed with factory committees"),
]

EVENTS = [
    # name, kind, hosting, days from today, hours, zone, venue, online, country, capacity, public
    (
        "WEST Principles 2.0 listening roundtable",
        EventKind.ROUNDTABLE,
        Hosting.HOSTED,
        12,
        3,
        "Asia/Dhaka",
        "Gulshan Club, Dhaka",
        None,
        "BD",
        30,
        True,
    ),
    (
        "Webinar: worker voice technology that works",
        EventKind.WEBINAR,
        Hosting.HOSTED,
        20,
        1,
        "Europe/London",
        None,
        "https://meet.example.org/west-webinar",
        None,
        12,
        True,
    ),
    (
        "Responsible Sourcing Forum",
        EventKind.CONFERENCE,
        Hosting.ATTENDED,
        40,
        8,
        "Europe/Berlin",
        "Messe Berlin",
        None,
        "DE",
        None,
        False,
    ),
    (
        "Supplier workshop: secure grievance channels",
        EventKind.WORKSHOP,
        Hosting.HOSTED,
        -30,
        4,
        "Asia/Ho_Chi_Minh",
        "Ho Chi Minh City",
        None,
        "VN",
        25,
        False,
    ),
    (
        "Community call: lessons from helpline pilots",
        EventKind.WEBINAR,
        Hosting.HOSTED,
        -75,
        1,
        "America/New_York",
        None,
        "https://meet.example.org/west-call",
        None,
        None,
        True,
    ),
]


def load(rng: random.Random, contacts: list[Contact], staff: list[User]) -> str:
    champions = _champions(rng, contacts, staff)
    events = _events(rng, contacts, staff)
    return f"{champions} champions, {events} events"


def _champions(rng: random.Random, contacts: list[Contact], staff: list[User]) -> int:
    principles = list(db.session.scalars(sa.select(Principle).order_by(Principle.position)))
    orgs = list(db.session.scalars(sa.select(Organization).limit(50)))
    now = utcnow()
    chosen = [contacts[0], *rng.sample(contacts[1:], 44)]
    for i, contact in enumerate(chosen):
        # contacts[0] is the demo champion account: active, with endorsements of every status.
        final = Stage.ACTIVE if i == 0 else rng.choices(list(Stage), [9, 8, 8, 7, 10, 3])[0]
        path = FUNNEL[: FUNNEL.index(final) + 1] if final is not Stage.LAPSED else FUNNEL[:4]
        if final is Stage.LAPSED:
            path = [*path, Stage.LAPSED]
        when = now - timedelta(days=rng.randint(200, 420))
        owner = rng.choice(staff)
        champion = Champion(
            contact_id=contact.id,
            stage=path[-1],
            owner_id=owner.id
            if path[-1] in (Stage.COMMITTED, Stage.ACTIVE) or rng.random() < 0.6
            else None,
            region=REGION_OF.get(_region_of(contact), Region.GLOBAL),
            audience_reach=rng.choice([800, 2_500, 6_000, 15_000, 40_000, 120_000]),
            channels=", ".join(rng.sample(CHANNELS, 2)),
            next_step=rng.choice(
                [
                    "Invite to speak at the Dhaka roundtable",
                    "Send the 2.0 consultation draft",
                    "Ask for a referral to their sourcing network",
                    "Thank-you call after the webinar",
                    None,
                ]
            ),
            created_by_id=owner.id,
        )
        if champion.next_step:
            champion.next_step_due = (now + timedelta(days=rng.randint(-20, 40))).date()
        db.session.add(champion)
        db.session.flush()
        previous = None
        for stage in path:
            db.session.add(
                StageChange(
                    champion_id=champion.id,
                    from_stage=previous,
                    to_stage=stage,
                    at=when,
                    by_id=owner.id,
                    note="Met at a listening session" if previous is None else None,
                )
            )
            champion.stage_since = when
            previous = stage
            when = min(now, when + timedelta(days=rng.randint(10, 70)))
        if path[-1] in (Stage.COMMITTED, Stage.ACTIVE, Stage.LAPSED):
            count = 4 if i == 0 else rng.randint(0, 4 if path[-1] is Stage.ACTIVE else 2)
            for n in range(count):
                kind, title = rng.choice(ENDORSEMENTS)
                made = (now - timedelta(days=rng.randint(5, 300 if i else 120))).date()
                status = (
                    [Verification.VERIFIED, Verification.PENDING, Verification.REJECTED][n % 3]
                    if i == 0
                    else rng.choices(list(Verification), [3, 6, 1])[0]
                )
                endorsement = Endorsement(
                    champion_id=champion.id,
                    kind=kind,
                    made_on=made,
                    title=title,
                    link="https://www.example.org/posts/" + str(rng.randint(1000, 9999)),
                    audience_reach=rng.choice([60, 150, 400, 1_200, 5_000, 22_000]),
                    status=status,
                    reviewed_by_id=owner.id if status is not Verification.PENDING else None,
                    reviewed_at=now if status is not Verification.PENDING else None,
                    rejection_reason="The link does not mention the principles; please add one "
                    "that does."
                    if status is Verification.REJECTED
                    else None,
                    created_by_id=owner.id,
                )
                endorsement.principles = rng.sample(principles, rng.randint(1, 3))
                if kind is EndorsementKind.TALK and rng.random() < 0.3 and orgs:
                    endorsement.kind = EndorsementKind.REFERRAL
                    endorsement.title = "Introduced the team to a sourcing director"
                    endorsement.referred_organization_id = rng.choice(orgs).id
                db.session.add(endorsement)
    db.session.flush()
    return len(chosen)


def _region_of(contact: Contact) -> str:
    for region, countries in names.COUNTRIES.items():
        if contact.country in countries:
            return region
    return "global"


def _events(rng: random.Random, contacts: list[Contact], staff: list[User]) -> int:
    now = utcnow()
    today = now.date()
    for (name, kind, hosting, days, hours, zone, venue, online, country, capacity,
         is_public) in EVENTS:  # fmt: skip
        tz = ZoneInfo(zone)
        start = datetime.combine(today + timedelta(days=days), time(10, 0), tzinfo=tz)
        event = Event(
            name=name,
            kind=kind,
            hosting=hosting,
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            timezone=zone,
            venue=venue,
            online_url=online,
            country=country,
            capacity=capacity,
            description="Part of the WEST Principles community's programme: hearing from workers, "
            "suppliers, brands and technology providers on how worker-engagement technology "
            "can include workers, keep them secure and benefit them.",
            is_public=is_public,
            registration_open=True,
            created_by_id=staff[0].id,
        )
        db.session.add(event)
        db.session.flush()
        past = days < 0
        size = (capacity or 40) + (3 if capacity and capacity <= 12 else 0)
        people = rng.sample(contacts, min(size, len(contacts)))
        for n, contact in enumerate(people):
            seated = capacity is None or n < capacity
            if past:
                status = rng.choices(
                    [ParticipationStatus.ATTENDED, ParticipationStatus.NO_SHOW,
                     ParticipationStatus.CANCELLED], [7, 2, 1])[0]  # fmt: skip
            elif not seated:
                status = ParticipationStatus.WAITLISTED
            elif capacity and capacity > 12 and n >= capacity - 4:
                status = ParticipationStatus.INVITED if n % 2 else ParticipationStatus.REGISTERED
            else:
                status = ParticipationStatus.REGISTERED
            role = ParticipantRole.ATTENDEE
            if n < 2:
                role = ParticipantRole.SPEAKER
            elif n == 2:
                role = ParticipantRole.ORGANIZER
            registered = start - timedelta(days=rng.randint(3, 30), minutes=n)
            db.session.add(
                Participation(
                    event_id=event.id,
                    contact_id=contact.id,
                    role=role,
                    status=status,
                    source=rng.choice(["staff", "public form"]) if is_public else "staff",
                    waitlisted_at=registered if status is ParticipationStatus.WAITLISTED else None,
                    checked_in_at=start if status is ParticipationStatus.ATTENDED else None,
                    status_changed_at=registered,
                    created_by_id=staff[0].id,
                )
            )
    db.session.flush()
    return len(EVENTS)
