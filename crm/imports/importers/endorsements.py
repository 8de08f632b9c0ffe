"""Importing endorsements: each row names a champion by email and is recorded through the
champions' own operation, with the endorsement form's rules."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from crm.champions.models import Champion, Endorsement, EndorsementKind
from crm.champions.operations import endorsements as endorsement_ops
from crm.champions.operations import pipeline as champion_ops
from crm.contacts.models import Contact
from crm.extensions import db
from crm.imports import cell_values
from crm.imports.column_mapping import Field, Spec
from crm.imports.importers.base import RowByRowImporter
from crm.imports.rows import CREATE, FAIL, SKIP, Row
from crm.standards.models import Principle, Standard, StandardStatus


class EndorsementImporter(RowByRowImporter):
    spec = Spec(
        [
            Field(
                "champion",
                "Champion email",
                required=True,
                synonyms=("champion", "email", "e-mail", "by"),
            ),
            Field("kind", "Kind", required=True, synonyms=("type", "endorsement type", "channel")),
            Field(
                "made_on",
                "Date",
                required=True,
                synonyms=("made on", "when", "published", "date made"),
            ),
            Field(
                "title",
                "Title",
                required=True,
                synonyms=("headline", "what", "subject", "description"),
            ),
            Field("link", "Link", synonyms=("url", "web link")),
            Field(
                "audience_reach",
                "Audience reach",
                synonyms=("reach", "audience", "views", "followers"),
            ),
            Field(
                "principles", "Principles", synonyms=("principle", "principles referenced", "codes")
            ),
            Field(
                "referred_organization",
                "Referred organization",
                synonyms=("referral", "referred org"),
            ),
            Field("notes", "Notes", synonyms=("note", "comments")),
        ]
    )
    table_name = "endorsement"
    KIND_ALIASES = {
        "statement": "statement",
        "social": "post",
        "social post": "post",
        "blog": "article",
        "speech": "talk",
        "presentation": "talk",
        "interview": "media",
        "press": "media",
    }

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        standard = db.session.scalar(
            sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
        )
        self.principles = (
            {
                p.code.lower(): p.id
                for p in db.session.scalars(
                    sa.select(Principle).where(Principle.standard_id == standard.id)
                )
            }
            if standard
            else {}
        )

    def check_row(self, row: Row) -> None:
        c = row.cleaned
        email = cell_values.checked(row, "champion", cell_values.email)
        champion = None
        if email:
            champion = db.session.scalar(
                sa.select(Champion).join(Contact).where(Contact.email == email)
            )
            if champion is None:
                row.fail("champion", f"{email} is not a champion in the pipeline")
        else:  # an empty cell (a mistyped email has failed already): none without its champion
            row.fail("champion", "Champion email is empty")
        c["champion"] = champion
        c["kind"] = cell_values.choice(row, "kind", "Kind", EndorsementKind, self.KIND_ALIASES)
        c["made_on"] = made_on = cell_values.a_date(row, "made_on", "Date")
        # The endorsement form's rules, so a row the operation would refuse shows in the
        # preview: nothing in the future (recorded once it happened), nothing mistyped.
        if made_on and made_on > date.today() + timedelta(days=1):
            row.fail("made_on", f"Date {made_on:%Y-%m-%d} is in the future; record an "
                     "endorsement once it has happened")  # fmt: skip
        elif made_on and made_on < champion_ops.EARLIEST:
            row.fail("made_on", f"Date {made_on:%Y-%m-%d} looks mistyped")
        c["title"] = cell_values.text(row, "title", "Title", 300, required=True)
        c["reach"] = cell_values.whole_number(
            row, "audience_reach", "Audience reach", most=champion_ops.MAX_REACH
        )
        codes = [
            p.strip().lower()
            for p in row.values.get("principles", "").replace(";", ",").split(",")
            if p.strip()
        ]
        unknown = [code.upper() for code in codes if code not in self.principles]
        if unknown:
            row.fail("principles", f"no principle {', '.join(unknown)} in the current version")
        c["principle_ids"] = [self.principles[code] for code in codes if code in self.principles]
        if row.action == FAIL:
            return
        assert champion is not None, "a row without its champion has failed"
        existing = db.session.scalar(
            sa.select(Endorsement.id).where(
                Endorsement.champion_id == champion.id,
                Endorsement.kind == c["kind"],
                Endorsement.made_on == c["made_on"],
                sa.func.lower(Endorsement.title) == c["title"].lower(),
            )
        )
        if existing:
            row.record_id, row.action, row.note = existing, SKIP, f"already recorded (#{existing})"
        else:
            row.action = CREATE

    def write_row(self, row: Row) -> None:
        c = row.cleaned
        endorsement = endorsement_ops.record_endorsement(
            self.ctx.actor,
            c["champion"],
            endorsement_ops.EndorsementFields(
                kind=c["kind"],
                made_on=c["made_on"],
                title=c["title"],
                link=row.values.get("link") or None,
                audience_reach=c["reach"],
                principle_ids=c["principle_ids"],
                notes=row.values.get("notes") or None,
                referred_organization=row.values.get("referred_organization") or None,
            ),
            verified=True,  # recorded by staff, as a lead's own entries are
        )
        row.record_id = endorsement.id
        self.ctx.created("endorsement", [endorsement.id])
