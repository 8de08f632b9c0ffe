"""What a segment's criteria mean: one SELECT of contact ids, the same on both engines.

Criteria combine with AND; the values inside one criterion with OR (tags "brand" or "union").
Erased contacts never match.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from crm.champions.models import Champion, Stage
from crm.contacts.models import ConsentStatus, Contact
from crm.core.countries import normalize_country
from crm.core.errors import OperationError
from crm.core.regions import COUNTRIES_BY_REGION, countries_in
from crm.events.models import Event, Participation, ParticipationStatus
from crm.extensions import db
from crm.organizations.models import Organization, OrganizationKind
from crm.pledges.models import LIVE, Pledge, Standing
from crm.pledges.queries import schedules
from crm.tags.models import Tag, contact_tag

NO_PLEDGE = "none"  # "their organization has no live pledge"

# How someone took part in the chosen event.
EVENT_PARTICIPATION = {
    "attended": (ParticipationStatus.ATTENDED,),
    "registered": (
        ParticipationStatus.REGISTERED,
        ParticipationStatus.ATTENDED,
        ParticipationStatus.NO_SHOW,
    ),
    "any": tuple(s for s in ParticipationStatus if s is not ParticipationStatus.CANCELLED),
}
EVENT_PARTICIPATION_LABELS = {
    "registered": "Registered (had a place)",
    "attended": "Attended",
    "any": "Invited, registered or waitlisted",
}


@dataclass
class Criteria:
    tags: list[str] = field(default_factory=list)
    organization_kinds: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)  # crm.core.regions: world regions
    champion_stages: list[str] = field(default_factory=list)
    pledge_statuses: list[str] = field(default_factory=list)
    event_id: int | str | None = None  # as typed; an int once checked
    event_participation: str = "registered"
    consent_only: bool = True  # only those who agreed to email

    @classmethod
    def from_dict(cls, data: dict | None) -> Criteria:
        data = data or {}
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def empty(self) -> bool:
        return not (
            self.tags
            or self.organization_kinds
            or self.countries
            or self.regions
            or self.champion_stages
            or self.pledge_statuses
            or self.event_id
        )


def _strings(values, field_name: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    if not isinstance(values, list | tuple):
        raise OperationError("That is not a list of values.", field=field_name)
    return sorted({str(v).strip() for v in values if str(v).strip()})


def _members_of(enum_cls, values: list[str], field_name: str, what: str) -> list[str]:
    allowed = {m.value for m in enum_cls}
    for value in values:
        if value not in allowed:
            raise OperationError(f"“{value}” is not {what}.", field=field_name)
    return values


def clean_criteria(raw: Criteria | dict) -> Criteria:
    """Checked and normalized criteria, or an OperationError naming the field."""
    c = raw if isinstance(raw, Criteria) else Criteria.from_dict(raw)
    tags = _strings(c.tags, "tags")
    if tags:
        known = set(db.session.scalars(sa.select(Tag.name).where(Tag.name.in_(tags))))
        missing = [t for t in tags if t not in known]
        if missing:
            raise OperationError(
                f"There is no tag named {', '.join('“' + t + '”' for t in missing)}.",
                field="tags",
            )
    countries = []
    for value in _strings(c.countries, "countries"):
        code = normalize_country(value)
        if code is None:
            raise OperationError(
                f"“{value}” is not a country we know (ISO 3166-1).", field="countries"
            )
        countries.append(code)
    pledge_statuses = _strings(c.pledge_statuses, "pledge_statuses")
    for value in pledge_statuses:
        if value != NO_PLEDGE and value not in {s.value for s in Standing}:
            raise OperationError(f"“{value}” is not a pledge status.", field="pledge_statuses")
    regions = _strings(c.regions, "regions")
    for value in regions:
        if value not in COUNTRIES_BY_REGION:
            raise OperationError(f"“{value}” is not a region.", field="regions")
    event_id = c.event_id
    if event_id in ("", None):
        event_id = None
    else:
        try:
            event_id = int(event_id)
        except (TypeError, ValueError):
            raise OperationError("Pick an event from the list.", field="event_id") from None
        if db.session.get(Event, event_id) is None:
            raise OperationError("That event does not exist.", field="event_id")
    if c.event_participation not in EVENT_PARTICIPATION:
        raise OperationError(
            "Choose registered, attended or any participation.", field="event_participation"
        )
    return Criteria(
        tags=tags,
        organization_kinds=_members_of(
            OrganizationKind,
            _strings(c.organization_kinds, "organization_kinds"),
            "organization_kinds",
            "a kind of organization",
        ),
        countries=sorted(set(countries)),
        regions=regions,
        champion_stages=_members_of(
            Stage, _strings(c.champion_stages, "champion_stages"), "champion_stages", "a stage"
        ),
        pledge_statuses=pledge_statuses,
        event_id=event_id,
        event_participation=c.event_participation,
        consent_only=bool(c.consent_only),
    )


def conditions(c: Criteria) -> list[sa.ColumnElement]:
    where: list[sa.ColumnElement] = [Contact.erased_at.is_(None)]
    if c.tags:
        where.append(
            Contact.id.in_(
                sa.select(contact_tag.c.contact_id)
                .join(Tag, Tag.id == contact_tag.c.tag_id)
                .where(Tag.name.in_(c.tags))
            )
        )
    if c.organization_kinds:
        where.append(
            Contact.organization_id.in_(
                sa.select(Organization.id).where(Organization.kind.in_(c.organization_kinds))
            )
        )
    for codes in (c.countries, countries_in(c.regions)):
        if not codes:
            continue
        # A person's own country, or else their organization's.
        where.append(
            sa.or_(
                Contact.country.in_(codes),
                sa.and_(
                    Contact.country.is_(None),
                    Contact.organization_id.in_(
                        sa.select(Organization.id).where(Organization.country.in_(codes))
                    ),
                ),
            )
        )
    if c.champion_stages:
        where.append(
            Contact.id.in_(
                sa.select(Champion.contact_id).where(Champion.stage.in_(c.champion_stages))
            )
        )
    if c.pledge_statuses:
        wanted = [s for s in c.pledge_statuses if s != NO_PLEDGE]
        either: list[sa.ColumnElement[bool]] = []
        if wanted:
            # Standings as shown (non-reporting and lapsed follow from the report dates).
            either.append(Contact.organization_id.in_(organizations_with_standing(wanted)))
        if NO_PLEDGE in c.pledge_statuses:
            either.append(
                sa.or_(
                    Contact.organization_id.is_(None),
                    Contact.organization_id.not_in(
                        sa.select(Pledge.organization_id).where(Pledge.status.in_(LIVE))
                    ),
                )
            )
        where.append(sa.or_(*either))
    if c.event_id:
        where.append(
            Contact.id.in_(
                sa.select(Participation.contact_id).where(
                    Participation.event_id == c.event_id,
                    Participation.status.in_(EVENT_PARTICIPATION[c.event_participation]),
                )
            )
        )
    if c.consent_only:
        where.append(Contact.consent_status == ConsentStatus.GRANTED)
    return where


def organizations_with_standing(wanted: list[str]) -> list[int]:
    """Organizations with a pledge in one of these standings today (pledges are hundreds)."""
    pledges = list(db.session.scalars(sa.select(Pledge)))
    standing = schedules(pledges)
    return sorted({p.organization_id for p in pledges if standing[p.id].standing in wanted})


def member_ids(c: Criteria) -> sa.Select:
    return sa.select(Contact.id).where(*conditions(c))


def count(c: Criteria, cap: int | None = None) -> int:
    """How many people match; with `cap`, counted up to cap + 1 at most (a preview of a big
    segment reads no more than that)."""
    ids = member_ids(c)
    if cap is not None:
        ids = ids.limit(cap + 1)
    return db.session.execute(sa.select(sa.func.count()).select_from(ids.subquery())).scalar_one()


def sample(c: Criteria, limit: int = 10) -> list[Contact]:
    stmt = (
        sa.select(Contact)
        .where(*conditions(c))
        .order_by(Contact.sort_name, Contact.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def mailable_count(c: Criteria, cap: int | None = None) -> int:
    """Members with an address and consent (a send also drops suppressed and invalid ones);
    with `cap`, counted up to cap + 1 at most."""
    ids = sa.select(Contact.id).where(
        *conditions(c), Contact.email.is_not(None), Contact.consent_status == ConsentStatus.GRANTED
    )
    if cap is not None:
        ids = ids.limit(cap + 1)
    return db.session.execute(sa.select(sa.func.count()).select_from(ids.subquery())).scalar_one()
