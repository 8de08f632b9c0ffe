"""Importing organizations: matched on the folded name, then the website's domain; names that
are only similar (rapidfuzz) are listed for review, never merged blindly."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from rapidfuzz import fuzz, process

from crm.core.bulk import among, insert_many, lookup, update_rows
from crm.core.db import utcnow
from crm.core.search_ddl import search_index_in_bulk
from crm.extensions import db
from crm.imports import cell_values
from crm.imports.column_mapping import ORGANIZATION_IN_OTHER_LANGUAGES, Field, Spec
from crm.imports.importers.base import BulkImporter, Context
from crm.imports.models import ExistingPolicy
from crm.imports.rows import CREATE, FAIL, SKIP, UPDATE, Row
from crm.organizations.models import Organization, OrganizationKind
from crm.organizations.operations import name_key
from crm.tags.models import organization_tag

SPEC = Spec(
    [
        Field(
            "name",
            "Name",
            required=True,
            synonyms=(
                "organization",
                "organisation",
                "company",
                "organization name",
                "company name",
                "org",
                "name of organization",
                "organisation name",
                "name of organisation",
                *ORGANIZATION_IN_OTHER_LANGUAGES,
                # "Name" in French, Spanish, Portuguese, Italian and Dutch: in an organizations
                # file it is the organization's (in a contacts file "Nom" is the last name).
                "nom",
                "nom de l'organisation",
                "nom de l'organisme",
                "nombre",
                "nombre de la organización",
                "nome",
                "nome da organização",
                "naam",
            ),
        ),
        Field(
            "kind", "Kind", synonyms=("type", "organization type", "category", "stakeholder type")
        ),
        Field("sector", "Sector", synonyms=("industry",)),
        Field("country", "Country", synonyms=("country code", "hq country", "headquarters")),
        Field(
            "website", "Website", synonyms=("url", "web", "homepage", "site", "web site", "domain")
        ),
        Field("tags", "Tags", synonyms=("tag", "labels")),
        Field("notes", "Notes", synonyms=("note", "comments", "description")),
    ]
)

KIND_ALIASES = {
    "brand": "brand",
    "retailer": "brand",
    "brand retailer": "brand",
    "tech provider": "technology_provider",
    "technology": "technology_provider",
    "tech": "technology_provider",
    "union": "worker_organization",
    "trade union": "worker_organization",
    "worker org": "worker_organization",
    "msi": "multi_stakeholder_initiative",
    "multi stakeholder": "multi_stakeholder_initiative",
    "university": "academic",
    "research": "academic",
    "ngo": "ngo",
    "non profit": "ngo",
    "nonprofit": "ngo",
    "charity": "ngo",
    "government agency": "government",
    "public sector": "government",
    "fund": "investor",
    # In French, Spanish, Portuguese and German (compared folded: no accents, lower case).
    "ong": "ngo",  # fr, es, pt
    "organisation non gouvernementale": "ngo",
    "organizacion no gubernamental": "ngo",
    "organizacao nao governamental": "ngo",
    "nro": "ngo",  # de: Nichtregierungsorganisation
    "nichtregierungsorganisation": "ngo",
    "marque": "brand",
    "marca": "brand",
    "marke": "brand",
    "detaillant": "brand",
    "minorista": "brand",
    "fournisseur": "supplier",
    "proveedor": "supplier",
    "fornecedor": "supplier",
    "lieferant": "supplier",
    "fabricant": "supplier",
    "fabricante": "supplier",
    "fournisseur de technologie": "technology_provider",
    "proveedor de tecnologia": "technology_provider",
    "fornecedor de tecnologia": "technology_provider",
    "syndicat": "worker_organization",
    "sindicato": "worker_organization",
    "gewerkschaft": "worker_organization",
    "initiative multipartite": "multi_stakeholder_initiative",
    "iniciativa multiactor": "multi_stakeholder_initiative",
    "investisseur": "investor",
    "inversor": "investor",
    "inversionista": "investor",
    "investidor": "investor",
    "gouvernement": "government",
    "gobierno": "government",
    "governo": "government",
    "regierung": "government",
    "universite": "academic",
    "universidad": "academic",
    "universidade": "academic",
    "universitat": "academic",
    "academique": "academic",
    "academico": "academic",
    "recherche": "academic",
    "investigacion": "academic",
    "autre": "other",
    "otro": "other",
    "otra": "other",
    "outro": "other",
    "andere": "other",
}
_ORGS = Organization.__table__  # lookups by name key, as one statement

COLUMNS = ("name", "kind", "sector", "country", "website", "notes")


def domain(url: str | None) -> str | None:
    if not url:
        return None
    host = (urlsplit(url if "://" in url else f"https://{url}").hostname or "").lower()
    return host.removeprefix("www.") or None


class _Known:
    """Existing organizations' names and domains, loaded once per run when first needed (a
    hundred thousand names load in a fraction of a second), for exact and fuzzy matching."""

    def __init__(self) -> None:
        self._domains: dict[str, int] | None = None
        # {first letter: [(folded name, organization id, or the row of this file it is new in)]}
        self._names: dict[str, list[tuple[str, int | Row]]] | None = None

    def by_domain(self, host: str) -> int | None:
        if self._domains is None:
            self._domains = {}
            for org_id, url in db.session.execute(
                sa.select(Organization.id, Organization.website).where(
                    Organization.website.is_not(None)
                )
            ):
                if d := domain(url):
                    self._domains.setdefault(d, org_id)
        return self._domains.get(host)

    def similar(self, key: str, threshold: int) -> tuple[int | Row, str, float] | None:
        """The most similar known name above `threshold`: (organization id, or the row of this
        file it is new in, name as written, score)."""
        if self._names is None:
            self._names = {}
            for org_id, known in db.session.execute(
                sa.select(Organization.id, Organization.name_key)
            ):
                self._names.setdefault(known[:1], []).append((known, org_id))
        # Names that start differently are rarely the same organization; comparing within the
        # first letter keeps this fast at a hundred thousand organizations.
        candidates = self._names.get(key[:1], [])
        if not candidates:
            return None
        found = process.extractOne(
            key,
            [name for name, _ in candidates],
            scorer=fuzz.token_sort_ratio,
            score_cutoff=threshold,
        )
        if found is None:
            return None
        _key, score, index = found
        target = candidates[index][1]
        if isinstance(target, Row):
            if target.record_id is None:  # new in this chunk: not written yet
                return target, target.cleaned["name"], score
            target = target.record_id
        # Shown to people: the name as written, not the folded key it was compared by.
        name = db.session.scalar(sa.select(Organization.name).where(Organization.id == target))
        return target, name or _key, score

    def add(self, key: str, row: Row) -> None:
        """A new organization of this file, compared with the rows after it (its id comes
        when its chunk is written)."""
        if self._names is not None:
            self._names.setdefault(key[:1], []).append((key, row))


def _insert_organizations(ctx: Context, values: list[dict[str, Any]]) -> list[int]:
    """Insert new organizations (`values`: their own columns), made now by the run's actor,
    indexed for search and noted as the run's on their trail; their ids, in order."""
    now, actor = utcnow(), ctx.actor_id
    made = {
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "created_by_id": actor,
        "updated_by_id": actor,
    }
    with search_index_in_bulk(db.session, "organization") as indexed:
        ids = insert_many(Organization.__table__, [v | made for v in values])
        indexed.extend(ids)
    ctx.created("organization", list(ids))
    ctx.audit_created("organization", ids)
    return ids


class OrganizationResolver:
    """Organization names in a contacts (or other) file, as ids: those we know, and those to
    create (as kind "other") the first time a row needs them."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.ids: dict[str, int] = {}
        self.pending: dict[str, str] = {}  # key -> name as first written
        self.keys: dict[str, str] = {}  # name as written -> key: a file repeats its names

    def key_for(self, name: str) -> str:
        """The name as organizations are matched: "ACME Ltd." and "acme ltd" are one."""
        return self._key(name)

    def _key(self, name: str) -> str:
        key = self.keys.get(name)
        if key is None:
            key = self.keys[name] = name_key(name)
        return key

    def resolve(self, names: list[str]) -> None:
        keys = {self._key(n): n for n in names}
        unknown = [k for k in keys if k not in self.ids and k not in self.pending]
        self.ids.update(lookup(_ORGS.c.name_key, _ORGS.c.id, unknown))
        for key, name in keys.items():
            if key not in self.ids:
                self.pending.setdefault(key, name)

    def id_for(self, name: str) -> int | None:
        return self.ids.get(self._key(name))

    def recheck_pending(self) -> None:
        """Organizations to create that someone has created since they were looked up: used,
        not made twice."""
        found = lookup(_ORGS.c.name_key, _ORGS.c.id, list(self.pending))
        self.ids.update(found)
        for key in found:
            del self.pending[key]

    def create_pending(self) -> None:
        if not self.pending:
            return
        keys = list(self.pending)
        values = [
            {
                "name": self.pending[k][:200],
                "name_key": k[:200],
                "kind": OrganizationKind.OTHER.value,
            }
            for k in keys
        ]
        ids = _insert_organizations(self.ctx, values)
        self.ids.update(zip(keys, ids, strict=True))
        self.ctx.extra_created["organizations"] = self.ctx.extra_created.get(
            "organizations", 0
        ) + len(ids)
        self.pending.clear()


class OrganizationImporter(BulkImporter):
    spec = SPEC
    table_name = "organization"
    tag_links, tag_owner = organization_tag, "organization_id"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.known = _Known()
        self.seen: dict[str, int] = {}  # name key -> line
        self.seen_domains: dict[str, int] = {}  # website domain -> line

    def _clean(self, row: Row) -> None:
        c = row.cleaned
        c["name"] = cell_values.text(row, "name", "Name", 200, required=True)
        if c["name"]:
            c["name"] = cell_values.name(c["name"])
        c["kind"] = cell_values.choice(row, "kind", "Kind", OrganizationKind, KIND_ALIASES)
        c["sector"] = cell_values.text(row, "sector", "Sector", 100)
        c["country"] = cell_values.checked(row, "country", cell_values.country)
        c["website"] = cell_values.checked(row, "website", cell_values.website)
        c["notes"] = cell_values.text(row, "notes", "Notes", 10_000)
        c["tags"] = cell_values.checked(row, "tags", cell_values.tags) or []
        c["name_key"] = name_key(c["name"]) if c["name"] else ""

    def check(self, rows: list[Row]) -> None:
        for row in rows:
            self._clean(row)
        live = [r for r in rows if r.action != FAIL]
        keys = list({r.cleaned["name_key"] for r in live})
        by_key: dict[str, int] = lookup(_ORGS.c.name_key, _ORGS.c.id, keys)
        for row in live:
            c = row.cleaned
            key = c["name_key"]
            if key in self.seen:
                row.fail("name", f"the same organization as line {self.seen[key]} of this file")
                continue
            host = domain(c["website"])
            if host and host in self.seen_domains:
                # As against the database: matched by name, else by the website's domain.
                row.fail(
                    "website",
                    f"the same website as line {self.seen_domains[host]} of this file",
                )
                continue
            self.seen[key] = row.line
            if host:
                self.seen_domains[host] = row.line
            existing, how = by_key.get(key), "name"
            if existing is None and host:
                existing, how = self.known.by_domain(host), "website"
            if existing is not None:
                row.record_id = existing
                row.note = f"matches organization #{existing} by {how}"
                row.action = SKIP if self.ctx.policy is ExistingPolicy.SKIP else UPDATE
                continue
            row.action = CREATE
            similar = self.known.similar(key, self.ctx.fuzzy_threshold)
            self.known.add(key, row)
            if similar:
                target, known_name, score = similar
                if isinstance(target, Row):
                    row.note = (
                        f"new, but looks like “{known_name}” on line {target.line} of this file "
                        f"({score:.0f}% similar)"
                    )
                else:
                    row.note = (
                        f"new, but looks like organization #{target} “{known_name}” "
                        f"({score:.0f}% similar)"
                    )
                row.cleaned["similar"] = {
                    "record": target,
                    "known_name": known_name,
                    "score": round(score),
                }

    def recheck(self, rows: list[Row]) -> None:
        """Organizations to create that someone has created since: matched, as they would be
        now, rather than made twice."""
        new = [r for r in rows if r.action == CREATE]
        by_key = lookup(_ORGS.c.name_key, _ORGS.c.id, [r.cleaned["name_key"] for r in new])
        for row in new:
            existing = by_key.get(row.cleaned["name_key"])
            if existing is not None:
                row.record_id = existing
                row.note = f"matches organization #{existing} by name (made while this ran)"
                row.cleaned.pop("similar", None)
                row.action = SKIP if self.ctx.policy is ExistingPolicy.SKIP else UPDATE

    def _insert(self, rows: list[Row]) -> None:
        values = [
            {
                "name": r.cleaned["name"],
                "name_key": r.cleaned["name_key"],
                "kind": (r.cleaned["kind"] or OrganizationKind.OTHER).value,
                "sector": r.cleaned["sector"],
                "country": r.cleaned["country"],
                "website": r.cleaned["website"],
                "notes": r.cleaned["notes"],
            }
            for r in rows
        ]
        ids = _insert_organizations(self.ctx, values)
        for row, new_id in zip(rows, ids, strict=True):
            row.record_id = new_id
        for row in rows:
            if similar := row.cleaned.get("similar"):
                target = similar["record"]
                self.ctx.review.append(
                    {
                        "line": row.line,
                        "created_id": row.record_id,
                        "name": row.cleaned["name"],
                        "record_id": target.record_id if isinstance(target, Row) else target,
                        "known_name": similar["known_name"],
                        "score": similar["score"],
                    }
                )

    def _update(self, rows: list[Row]) -> None:
        table = Organization.__table__
        ids = [r.record_id for r in rows]
        current = {
            r.id: r
            for r in db.session.execute(
                sa.select(table.c.id, *(table.c[c] for c in COLUMNS)).where(among(table.c.id, ids))
            )
        }
        overwrite = self.ctx.policy is ExistingPolicy.OVERWRITE
        now = utcnow()
        updated: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            old = current.get(row.target_id)
            if old is None:
                row.fail("row", f"organization #{row.record_id} was deleted while this ran")
                row.record_id = None
                continue
            changes: dict[str, Any] = {}
            for column in COLUMNS:
                new = row.cleaned.get(column)
                new = getattr(new, "value", new)
                if column == "name" or new in (None, "") or new == getattr(old, column):
                    continue  # the name is what matched; renaming is done on the record
                if (
                    overwrite
                    or getattr(old, column) in (None, "")
                    or (column == "kind" and old.kind == "other")
                ):
                    changes[column] = new
            if not changes:
                if not row.cleaned["tags"]:
                    row.action = SKIP
                    row.note += "; nothing to change"
                continue
            before = {c: [_plain(getattr(old, c)), v] for c, v in changes.items()}
            row.changes = before
            row.audit = dict(before)  # plain values, as the trail keeps them
            self.ctx.updated("organization", row.target_id, before)
            changes.update(updated_at=now, updated_by_id=self.ctx.actor_id)
            updated.append((row.target_id, changes))
        update_rows(table, updated)
        db.session.flush()
        db.session.expire_all()


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
