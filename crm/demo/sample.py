"""`flask crm demo`: a realistic small dataset for trying the app (a few hundred records)."""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta

import sqlalchemy as sa

from crm.auth.models import User
from crm.contacts.models import ConsentStatus, Contact
from crm.core.access import Role
from crm.core.countries import country_name
from crm.core.db import utcnow
from crm.demo import advocacy, consultations, library, names, pledges, workgroups
from crm.engagements.models import Engagement, EngagementKind
from crm.extensions import db
from crm.organizations.models import Organization, OrganizationKind
from crm.organizations.operations import name_key
from crm.tags.operations import tags_from_names

DEMO_PASSWORD = "west-demo-2017"  # noqa: S105 -- demo accounts only; printed by make run

DEMO_USERS = [
    ("lead@example.org", "Lena Okafor", Role.LEAD),
    ("volunteer@example.org", "Victor Santos", Role.VOLUNTEER),
    ("champion@example.org", "Chipo Moyo", Role.CHAMPION),
    ("rep@example.org", "Ravi Iyer", Role.ORG_REP),
    ("viewer@example.org", "Vera Lindqvist", Role.VIEWER),
]


_FOLD = str.maketrans({"ı": "i", "ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae"})


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum() or ch in ".-")


def _org_name(rng: random.Random, kind: str, country: str, used: set[str]) -> str:
    """A plausible unique name; national bodies carry their country, as real ones do."""
    firsts, seconds = names.ORG_WORDS[kind]
    national = kind in ("government", "worker_organization")
    candidates = []
    for _ in range(30):
        name = f"{rng.choice(firsts)} {rng.choice(seconds)}".strip()
        candidates.append(f"{name} ({country_name(country)})" if national else name)
    candidates += [f"{c} {country_name(country)}" for c in candidates if not national]
    for name in candidates:
        if name_key(name) not in used:
            used.add(name_key(name))
            return name
    name = f"{candidates[0]} {len(used)}"
    used.add(name_key(name))
    return name


FOLLOW_UP_NOTES = [
    "Send the principles one-pager",
    "Share the listening-session summary",
    "Introduce to a champion in the region",
    "Send the pledge form and FAQ",
    "Ask for the survey results",
    "Invite to the next community call",
    "Follow up on the helpline data question",
    "Send the P5 security checklist",
]

_KIND_WORDS = [
    ("listening", EngagementKind.LISTENING_SESSION),
    ("workshop", EngagementKind.WORKSHOP),
    ("survey", EngagementKind.SURVEY),
    ("call", EngagementKind.CALL),
    ("email", EngagementKind.EMAIL),
    ("meeting", EngagementKind.MEETING),
]


def _kind_for(topic: str, rng: random.Random) -> EngagementKind:
    """The kind a topic names ("Survey results review" is a survey); otherwise a likely one."""
    lowered = topic.lower()
    for word, kind in _KIND_WORDS:
        if word in lowered:
            return kind
    return rng.choice([EngagementKind.MEETING, EngagementKind.CALL, EngagementKind.EMAIL])


def load_demo(seed: int = 2017, admin: User | None = None) -> str:
    """Adds demo users, ~200 organizations, ~450 contacts and ~600 engagements. Does not commit."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Organization)):
        return "The database already has organizations; demo data not loaded."
    rng = random.Random(seed)
    regions = list(names.COUNTRIES)
    now = utcnow()

    users = []
    for email, full_name, role in DEMO_USERS:
        existing = db.session.scalar(sa.select(User).where(User.email == email))
        if existing:
            users.append(existing)
            continue
        user = User(email=email, name=full_name, role=role)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        users.append(user)
    db.session.flush()
    staff = [u for u in users if u.role in (Role.LEAD, Role.VOLUNTEER)]
    if admin is not None:
        staff.append(admin)

    used: set[str] = set()
    orgs: list[tuple[Organization, str]] = []
    kinds = list(OrganizationKind)
    weights = [18, 22, 10, 12, 10, 5, 4, 5, 6, 3]
    for _ in range(200):
        region = rng.choice(regions)
        country = rng.choice(names.COUNTRIES[region])
        kind = rng.choices(kinds, weights)[0]
        name = _org_name(rng, kind.value, country, used)
        org = Organization(
            name=name,
            name_key=name_key(name),
            kind=kind,
            sector=rng.choice(names.SECTORS) if kind in ("brand", "supplier") else None,
            country=country,
            website=f"https://www.{ascii_slug(name.split(' (')[0]).replace('.', '')}.example",
            created_by_id=rng.choice(staff).id,
        )
        org.created_at = org.updated_at = now - timedelta(days=rng.randint(30, 700))
        org.tags = tags_from_names(rng.sample(names.TAGS, rng.randint(0, 2)))
        db.session.add(org)
        orgs.append((org, region))
    db.session.flush()

    contacts: list[Contact] = []
    emails: set[str] = set()
    for i in range(450):
        org, region = rng.choice(orgs)
        if rng.random() < 0.25:  # people work across regions too
            region = rng.choice(regions)
        first = rng.choice(names.FIRST_NAMES[region])
        last = rng.choice(names.LAST_NAMES[region])
        assert org.website is not None, "every demo organization has a website"
        domain = org.website.split("www.")[-1]
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}".replace("..", ".")
        if email in emails:
            email = email.replace("@", f"{i}@")
        emails.add(email)
        has_email = rng.random() > 0.05
        # Nobody agrees to email without an address to send to.
        consent = (
            rng.choices(list(ConsentStatus), [30, 60, 10])[0]
            if has_email
            else (ConsentStatus.UNKNOWN)
        )
        contact = Contact(
            first_name=first,
            last_name=last,
            email=email if has_email else None,
            phone=f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            title=rng.choice(
                [
                    "Head of Sustainability",
                    "CSR Manager",
                    "Programme Officer",
                    "Director",
                    "Researcher",
                    "General Secretary",
                    "HR Manager",
                    "Product Lead",
                    "Compliance Officer",
                    "Organizer",
                ]
            ),
            organization_id=org.id,
            country=org.country if rng.random() > 0.2 else rng.choice(names.COUNTRIES[region]),
            languages=",".join(rng.sample(names.LANGUAGES[region], 2)),
            consent_status=consent,
            consent_source=None
            if consent == ConsentStatus.UNKNOWN
            else rng.choice(["event sign-up", "web form", "business card", "pledge form"]),
            consent_at=None
            if consent == ConsentStatus.UNKNOWN
            else now - timedelta(days=rng.randint(1, 400)),
            owner_id=rng.choice(staff).id,
            created_by_id=rng.choice(staff).id,
        )
        contact.created_at = contact.updated_at = now - timedelta(days=rng.randint(1, 600))
        contact.set_search_fields()
        contact.tags = tags_from_names(rng.sample(names.TAGS, rng.randint(0, 2)))
        db.session.add(contact)
        contacts.append(contact)
    db.session.flush()

    # Link demo champion and representative accounts to records.
    by_email = {u.email: u for u in users}
    champion_contact = contacts[0]  # the demo champion's own record: same name and address
    champion_contact.first_name, champion_contact.last_name = "Chipo", "Moyo"
    champion_contact.email = "champion@example.org"
    champion_contact.set_search_fields()
    by_email["champion@example.org"].contact_id = champion_contact.id
    by_email["rep@example.org"].organization_id = contacts[1].organization_id

    today = date.today()
    engagements = 0
    for _ in range(600):
        contact = rng.choice(contacts)
        topic, heard = rng.choice(names.ENGAGEMENT_TOPICS)
        occurred = today - timedelta(days=rng.randint(0, 365))
        owner = rng.choice(staff)
        follow = rng.random() < 0.3
        follow_on = occurred + timedelta(days=rng.randint(3, 30)) if follow else None
        e = Engagement(
            kind=_kind_for(topic, rng),
            occurred_on=occurred,
            summary=topic,
            heard=heard,
            organization_id=contact.organization_id,
            follow_up_on=follow_on,
            follow_up_owner_id=owner.id if follow else None,
            follow_up_note=rng.choice(FOLLOW_UP_NOTES) if follow else None,
            follow_up_done_at=(
                now if follow_on is not None and follow_on < today - timedelta(days=20) else None
            ),
            created_by_id=owner.id,
        )
        others = [c for c in contacts if c.organization_id == contact.organization_id][:2]
        e.contacts = list({c.id: c for c in [contact, *others]}.values())
        db.session.add(e)
        engagements += 1
    db.session.flush()
    advocacy_summary = advocacy.load(rng, contacts, staff)
    rep_org_id = contacts[1].organization_id
    assert rep_org_id is not None, "every demo contact works at an organization"
    pledge_count = pledges.load(rng, contacts, staff, rep_org_id=rep_org_id)
    task_count = workgroups.load(rng, staff)
    case_count = library.load(rng, staff)
    consultations.load(rng, contacts, staff)
    return (
        f"Demo data: {len(users)} users (one per role), {len(orgs)} organizations, "
        f"{len(contacts)} contacts, {engagements} engagements, {advocacy_summary}, "
        f"{pledge_count} pledges, {task_count} working-group tasks, {case_count} case studies."
    )
