"""Importing contacts: validated like the form, matched on email then on name within the
organization, written in bulk (a row at a time through the ORM would be 50 times slower)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from crm.auth.models import User
from crm.contacts.models import ConsentStatus, Contact, search_text_for, sort_name_for
from crm.core.bulk import among, insert_many, lookup, update_rows
from crm.core.db import utcnow
from crm.core.search_ddl import search_index_in_bulk
from crm.core.text import fold
from crm.extensions import db
from crm.imports import cell_values
from crm.imports.column_mapping import ORGANIZATION_IN_OTHER_LANGUAGES, Field, Spec
from crm.imports.importers.base import BulkImporter
from crm.imports.importers.organizations import OrganizationResolver
from crm.imports.models import ExistingPolicy
from crm.imports.rows import CREATE, FAIL, SKIP, UPDATE, Row
from crm.tags.models import contact_tag

SPEC = Spec(
    [
        Field(
            "first_name",
            "First name",
            synonyms=("first", "given name", "forename", "prenom", "vorname", "nombre"),
        ),
        Field(
            "last_name",
            "Last name",
            synonyms=("last", "surname", "family name", "nom", "nachname", "apellido"),
        ),
        Field(
            "full_name",
            "Full name",
            synonyms=("name", "contact name", "attendee name", "participant", "person"),
            help="split into first and last name when those columns are absent",
        ),
        Field(
            "email",
            "Email",
            synonyms=("e-mail", "email address", "e-mail address", "mail", "work email"),
        ),
        Field("phone", "Phone", synonyms=("telephone", "tel", "mobile", "phone number", "cell")),
        Field("title", "Title", synonyms=("job title", "position", "job", "designation")),
        Field(
            "organization",
            "Organization",
            synonyms=(
                "organisation",
                "company",
                "employer",
                "org",
                "organization name",
                "company name",
                "affiliation",
                "organisation name",
                *ORGANIZATION_IN_OTHER_LANGUAGES,
            ),
        ),
        Field("country", "Country", synonyms=("country code", "nation", "pays", "land")),
        Field("languages", "Languages", synonyms=("language", "langs")),
        Field("tags", "Tags", synonyms=("tag", "labels", "groups")),
        Field(
            "consent",
            "Email consent",
            synonyms=("consent", "consent status", "opt in", "optin", "subscribed", "newsletter"),
        ),
        Field("consent_source", "Consent source", synonyms=("source of consent",)),
        Field("owner", "Owner", synonyms=("owner email", "account owner", "assigned to")),
        Field("notes", "Notes", synonyms=("note", "comments", "comment", "remarks")),
    ],
    one_of=[("first_name", "full_name")],
)

_fold = lru_cache(maxsize=100_000)(fold)
# (key, label, most characters) of the fields taken as they are.
_TEXT_FIELDS = (
    ("first_name", "First name", 100),
    ("last_name", "Last name", 100),
    ("phone", "Phone", 50),
    ("title", "Title", 150),
    ("notes", "Notes", 10_000),
    ("consent_source", "Consent source", 100),
    ("organization", "Organization", 200),
)
_CONSENT = {None: None, True: ConsentStatus.GRANTED, False: ConsentStatus.WITHDRAWN}

# Columns an import may set, in the order they are compared for an update.
COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "organization_id",
    "country",
    "languages",
    "owner_id",
    "notes",
)
# The columns of a new contact, in the order `_insert` gives them.
_INSERT_COLUMNS = (
    *COLUMNS,
    "consent_status",
    "consent_source",
    "consent_at",
    "sort_name",
    "search_text",
    "created_at",
    "updated_at",
    "version",
    "created_by_id",
    "updated_by_id",
)


class ContactImporter(BulkImporter):
    spec = SPEC
    table_name = "contact"
    tag_links, tag_owner = contact_tag, "contact_id"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.orgs = OrganizationResolver(ctx)
        self.emails_seen: dict[str, int] = {}
        self.names_seen: dict[tuple[str, str], int] = {}  # (sort name, organization key)
        self.owners: dict[str, int | None] = {}

    # Checking ----------------------------------------------------------------------------------
    def _clean(self, row: Row) -> None:
        v = row.values
        c = row.cleaned
        # Plain text: empty is None, too long is the row's error (one loop, not a call each:
        # this runs 100,000 times a file).
        for key, label, limit in _TEXT_FIELDS:
            value = v.get(key)
            if not value:
                c[key] = None
            elif len(value) > limit:
                row.fail(key, f"{label} is too long ({len(value)} characters; at most {limit})")
                c[key] = None
            else:
                c[key] = value
        first, last = c.pop("first_name"), c.pop("last_name") or ""
        first, last = first and cell_values.name(first), cell_values.name(last)
        if not first and v.get("full_name"):
            first, _, last = cell_values.name(v["full_name"]).rpartition(" ")
            if not first:
                first, last = last, ""
            if len(first) > 100 or len(last) > 100:
                row.fail("full_name", "Full name is too long")
        if not first:
            row.fail("first_name" if "first_name" in v else "full_name", "the name is empty")
        c["first_name"], c["last_name"] = first, last
        organization = c.pop("organization")
        c["organization_name"] = organization and cell_values.name(organization)
        c["email"] = cell_values.checked(row, "email", cell_values.email)
        c["country"] = cell_values.checked(row, "country", cell_values.country)
        c["languages"] = cell_values.checked(row, "languages", cell_values.languages)
        c["tags"] = cell_values.checked(row, "tags", cell_values.tags) or ()
        c["consent"] = _CONSENT[cell_values.yes_no(row, "consent")]
        c["owner_id"] = self._owner(row) if v.get("owner") else None
        # Folded once, word by word through a cache (a file repeats its first names), exactly
        # as sort_name_for and search_text_for fold the whole.
        folded_first, folded_last = _fold(first or ""), _fold(last)
        c["sort_name"] = f"{folded_last} {folded_first}".strip()[:201]
        c["search_text"] = " ".join(
            part for part in (folded_first, folded_last, fold(c["email"] or "")) if part
        )[:460]

    def _owner(self, row: Row) -> int | None:
        value = row.values.get("owner", "").lower()
        if not value:
            return None
        if value not in self.owners:
            self.owners[value] = db.session.scalar(
                sa.select(User.id).where(
                    sa.or_(User.email == value, sa.func.lower(User.name) == value)
                )
            )
        owner = self.owners[value]
        if owner is None:
            row.fail("owner", f"no user “{row.values['owner']}” (give their email)")
        return owner

    def check(self, rows: list[Row]) -> None:
        for row in rows:
            self._clean(row)
        live = [r for r in rows if r.action != FAIL]
        self.orgs.resolve(
            [r.cleaned["organization_name"] for r in live if r.cleaned["organization_name"]]
        )
        for row in live:
            name = row.cleaned["organization_name"]
            row.cleaned["organization_id"] = self.orgs.id_for(name) if name else None
        self._match(live)

    def _match(self, rows: list[Row]) -> None:
        by_email = lookup(
            Contact.__table__.c.email,
            Contact.__table__.c.id,
            [r.cleaned["email"] for r in rows if r.cleaned["email"]],
        )
        keys = {
            (
                r.cleaned["sort_name"],
                r.cleaned["organization_id"],
            )
            for r in rows
            if r.cleaned["organization_id"]
            and not (r.cleaned["email"] and r.cleaned["email"] in by_email)
        }
        by_name: dict[tuple[str, int], int] = {}
        for sort_name, org_id, contact_id in _by_name_and_organization(list(keys)):
            by_name.setdefault((sort_name, org_id), contact_id)
        for row in rows:
            c = row.cleaned
            email = c["email"]
            organization = c["organization_name"]
            # Inside the file the organization is known by its name's key, as the resolver
            # knows it: one the file is about to create has no id yet.
            seen_key = (c["sort_name"], self.orgs.key_for(organization)) if organization else None
            if email and email in self.emails_seen:
                row.fail("email", f"the same email as line {self.emails_seen[email]} of this file")
                continue
            if seen_key and seen_key in self.names_seen:
                # As against the database: a person is matched by email, else by name in the
                # organization; a second file would make this row update the first.
                row.fail(
                    "row", f"the same person and organization as line {self.names_seen[seen_key]}"
                )
                continue
            if email:
                self.emails_seen[email] = row.line
            if seen_key:
                self.names_seen.setdefault(seen_key, row.line)
            existing = by_email.get(email) if email else None
            how = "email"
            if existing is None and c["organization_id"]:
                existing = by_name.get((c["sort_name"], c["organization_id"]))
                how = "name and organization"
            if existing is None:
                row.action = CREATE
                continue
            c["matched_by_email"] = how == "email"
            row.record_id = existing
            row.note = f"matches contact #{existing} by {how}"
            row.action = SKIP if self.ctx.policy is ExistingPolicy.SKIP else UPDATE

    def recheck(self, rows: list[Row]) -> None:
        """What others may have created since the check: an organization the file names, a
        contact with an email (or a name in an organization) the file took for new. Such a
        row is matched as it would be now, rather than written twice or refused by the
        unique email. Only contacts created or changed since the check began can be such a
        match: two lookups among those (an index on the time of the last change), however
        large the file and the database."""
        self.orgs.recheck_pending()
        # On SQLite the file is rechecked a part at a time (`crm.imports.staged`), by the
        # part's own keys; the parts written before it have changed since the check as well.
        sqlite = db.session.get_bind().dialect.name == "sqlite"
        since = None if sqlite else self.ctx.changed_since
        emails = [
            r.cleaned["email"]
            for r in rows
            if r.cleaned["email"] and not r.cleaned.get("matched_by_email")
        ]
        table = Contact.__table__
        recent = table.c.updated_at >= since if since is not None else None
        by_email = lookup(table.c.email, table.c.id, emails, recent)
        new = [r for r in rows if r.action == CREATE and r.cleaned["email"] not in by_email]
        for row in new:
            if name := row.cleaned["organization_name"]:
                row.cleaned["organization_id"] = self.orgs.id_for(name)
        keys = {
            (r.cleaned["sort_name"], r.cleaned["organization_id"])
            for r in new
            if r.cleaned["organization_id"]
        }
        by_name: dict[tuple[str, int], int] = {}
        for sort_name, org_id, contact_id in _by_name_and_organization(list(keys), since):
            by_name.setdefault((sort_name, org_id), contact_id)
        if not by_email and not by_name:
            return
        taken = {r.record_id: r.line for r in rows if r.record_id is not None}
        for row in rows:
            c = row.cleaned
            found, how = by_email.get(c["email"]) if c["email"] else None, "email"
            if found is None and row.action == CREATE and c["organization_id"]:
                found, how = by_name.get((c["sort_name"], c["organization_id"])), "name"
            if found is None or found == row.record_id:
                continue
            if found in taken:
                row.fail("row", f"matches contact #{found}, made while this ran, as line "
                                f"{taken[found]} does")  # fmt: skip
                continue
            taken[found] = row.line
            c["matched_by_email"] = how == "email"
            row.record_id = found
            row.note = f"matches contact #{found} by {how} (made while this ran)"
            row.action = SKIP if self.ctx.policy is ExistingPolicy.SKIP else UPDATE

    # Writing -----------------------------------------------------------------------------------
    def write(self, rows: list[Row]) -> None:
        self.orgs.create_pending()
        for row in rows:
            name = row.cleaned["organization_name"]
            if name and row.cleaned["organization_id"] is None:
                row.cleaned["organization_id"] = self.orgs.id_for(name)
        super().write(rows)

    def _insert(self, rows: list[Row]) -> None:
        now = utcnow()
        actor = self.ctx.actor_id
        source = f"import: {self.ctx.file_name}"[:100]
        unknown = ConsentStatus.UNKNOWN.value
        values = []
        for row in rows:
            c = row.cleaned
            consent = c["consent"]
            values.append(
                (
                    c["first_name"],
                    c["last_name"],
                    c["email"],
                    c["phone"],
                    c["title"],
                    c["organization_id"],
                    c["country"],
                    c["languages"],
                    c["owner_id"],
                    c["notes"],
                    consent.value if consent else unknown,
                    (c["consent_source"] or source) if consent else None,
                    now if consent else None,
                    c["sort_name"],
                    c["search_text"],
                    now,
                    now,
                    1,
                    actor,
                    actor,
                )
            )
        with search_index_in_bulk(db.session, "contact") as indexed:
            ids = insert_many(Contact.__table__, values, _INSERT_COLUMNS)
            indexed.extend(ids)
        for row, new_id in zip(rows, ids, strict=True):
            row.record_id = new_id
        self.ctx.created("contact", ids)
        self.ctx.audit_created("contact", ids)

    def _update(self, rows: list[Row]) -> None:
        table = Contact.__table__
        ids = [r.record_id for r in rows]
        current = {
            r.id: r
            for r in db.session.execute(
                sa.select(
                    table.c.id,
                    *(table.c[c] for c in COLUMNS),
                    table.c.consent_status,
                    table.c.consent_source,
                    table.c.consent_at,
                ).where(among(table.c.id, ids))
            )
        }
        overwrite = self.ctx.policy is ExistingPolicy.OVERWRITE
        now = utcnow()
        updated: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            old = current.get(row.target_id)
            if old is None:
                row.fail("row", f"contact #{row.record_id} was deleted while this ran")
                row.record_id = None
                continue
            c = row.cleaned
            changes: dict[str, Any] = {}
            for column in COLUMNS:
                new = c.get(column)
                if new in (None, "") or new == getattr(old, column):
                    continue  # an empty cell never blanks a field
                if overwrite or getattr(old, column) in (None, ""):
                    changes[column] = new
            consent = c["consent"]
            old_consent = ConsentStatus(old.consent_status)
            # A list can withdraw consent; it never re-grants consent someone withdrew.
            if (
                consent is ConsentStatus.WITHDRAWN
                and old_consent is not ConsentStatus.WITHDRAWN
                or (consent is ConsentStatus.GRANTED and old_consent is ConsentStatus.UNKNOWN)
            ):
                changes["consent_status"] = consent.value
                changes["consent_source"] = (
                    c["consent_source"] or f"import: {self.ctx.file_name}"
                )[:100]
                changes["consent_at"] = now
            if not changes:
                if not c["tags"]:
                    row.action = SKIP
                    row.note += "; nothing to change"
                continue
            if {"first_name", "last_name", "email"} & changes.keys():
                first = changes.get("first_name", old.first_name)
                last = changes.get("last_name", old.last_name)
                changes["sort_name"] = sort_name_for(first, last)
                changes["search_text"] = search_text_for(
                    first, last, changes.get("email", old.email)
                )
            before = {}
            for column, new in changes.items():
                if column in ("sort_name", "search_text", "consent_at"):
                    continue
                old_value = getattr(old, column, None)
                before[column] = [_plain(old_value), _plain(new)]
            row.changes = before
            # The trail has what an edit on the form records: the same fields (plain values
            # already), and the consent's time, which undo leaves alone.
            row.audit = dict(before)
            if "consent_at" in changes:
                row.audit["consent_at"] = [_iso(old.consent_at), now.isoformat()]
            self.ctx.updated("contact", row.target_id, before)
            changes.update(updated_at=now, updated_by_id=self.ctx.actor_id)
            updated.append((row.target_id, changes))
        update_rows(table, updated)
        db.session.flush()
        db.session.expire_all()


def _by_name_and_organization(
    keys: list[tuple[str, int]], since: datetime | None = None
) -> list[tuple[str, int, int]]:
    """Contacts with any of these (sort name, organization) pairs, in one statement; with
    `since`, only those changed at or after it.

    The pairs travel as one parameter (a JSON array on SQLite, two arrays on PostgreSQL) and
    are joined to the (organization, name) index, the pairs first: SQLite would answer
    `(a, b) IN (...)` by reading the whole table, and CROSS JOIN is how it is told the order.
    """
    if not keys:
        return []
    if db.session.get_bind().dialect.name == "sqlite":
        sql = (
            "SELECT json_extract(k.value, '$[0]'), json_extract(k.value, '$[1]'), c.id "
            "FROM json_each(:keys) AS k CROSS JOIN contact AS c "
            "ON c.organization_id = json_extract(k.value, '$[1]') "
            "AND c.sort_name = json_extract(k.value, '$[0]') WHERE c.erased_at IS NULL"
        )
        params: dict[str, Any] = {"keys": json.dumps(keys)}
    else:
        sql = (
            "SELECT k.sort_name, k.organization_id, c.id "
            "FROM unnest(CAST(:names AS text[]), CAST(:orgs AS integer[])) "
            "AS k(sort_name, organization_id) "
            "JOIN contact c ON c.organization_id = k.organization_id "
            "AND c.sort_name = k.sort_name WHERE c.erased_at IS NULL"
        )
        params = {"names": [name for name, _ in keys], "orgs": [org for _, org in keys]}
    statement = sa.text(sql)
    if since is not None:
        statement = sa.text(sql + " AND c.updated_at >= :since").bindparams(
            sa.bindparam("since", type_=Contact.__table__.c.updated_at.type)
        )
        params["since"] = since
    return [tuple(row) for row in db.session.execute(statement, params)]


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
