"""Importing pledges: each row names an organization the CRM has, and the pledge is made
through the pledges' own operation (one live pledge per organization)."""

from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.extensions import db
from crm.imports import cell_values
from crm.imports.column_mapping import Field, Spec
from crm.imports.importers.base import RowByRowImporter
from crm.imports.rows import CREATE, FAIL, SKIP, Row
from crm.organizations.models import Organization
from crm.organizations.operations import name_key
from crm.pledges.operations import lifecycle as pledge_ops
from crm.standards.models import Standard, StandardStatus


class PledgeImporter(RowByRowImporter):
    spec = Spec(
        [
            Field(
                "organization",
                "Organization",
                required=True,
                synonyms=("organisation", "company", "signatory organization"),
            ),
            Field("version", "Version", synonyms=("standard", "standard version")),
            Field(
                "signatory",
                "Signatory email",
                synonyms=("signatory", "signed by", "email", "contact email"),
            ),
            Field(
                "signed_on", "Signed on", synonyms=("signed", "date signed", "signing date", "date")
            ),
            Field(
                "listed",
                "Listed publicly",
                synonyms=("listed", "public", "show in directory", "publish"),
            ),
        ]
    )
    table_name = "pledge"

    def check_row(self, row: Row) -> None:
        c = row.cleaned
        name = cell_values.text(row, "organization", "Organization", 200, required=True)
        org = (
            db.session.scalar(
                sa.select(Organization).where(Organization.name_key == name_key(name))
            )
            if name
            else None
        )
        if name and org is None:
            row.fail("organization", f"no organization “{name}”; import or add it first")
        version = row.values.get("version", "")
        query = (
            sa.select(Standard).where(Standard.version == version)
            if version
            else sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
        )
        standard = db.session.scalar(query)
        if standard is None:
            row.fail(
                "version",
                f"no standard version “{version}”" if version else "no standard version is current",
            )
        email = cell_values.checked(row, "signatory", cell_values.email)
        signatory = (
            db.session.scalar(sa.select(Contact).where(Contact.email == email)) if email else None
        )
        if email and signatory is None:
            row.fail("signatory", f"no contact with the email {email}")
        c.update(
            org=org,
            standard=standard,
            signatory=signatory,
            signed_on=cell_values.a_date(row, "signed_on", "Signed on"),
            listed=cell_values.yes_no(row, "listed"),
        )
        if row.action == FAIL:
            return
        assert org is not None, "a row without its organization has failed (a required text)"
        live = pledge_ops.live_pledge(org.id)
        if live is not None:
            row.record_id, row.action = live.id, SKIP
            row.note = f"already has a pledge ({live.status.label.lower()})"
        else:
            row.action = CREATE

    def write_row(self, row: Row) -> None:
        c = row.cleaned
        pledge = pledge_ops.create_pledge(
            self.ctx.actor,
            c["org"],
            c["standard"],
            signatory_id=c["signatory"].id if c["signatory"] else None,
            signed_on=c["signed_on"],
            listed=bool(c["listed"]),
            source="import",
        )
        row.record_id = pledge.id
        self.ctx.created("pledge", [pledge.id])
