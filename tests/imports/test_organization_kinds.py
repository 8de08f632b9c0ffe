"""An organization's kind: words people write in French and Spanish are understood, and an
unknown one is refused with the kinds as the forms name them."""

from __future__ import annotations

import sqlalchemy as sa

from crm.organizations.models import Organization, OrganizationKind


def test_kinds_in_french_and_spanish(run_import, db):
    run = run_import(
        "organizations",
        "Nom,Type\nAmis du Monde,ONG\nTejidos SA,Proveedor\nCGT Textile,Syndicat\n"
        "Ministerio,Gobierno\nUniversité Sud,Université\n",
    )
    assert run.created_count == 5, run.error_file
    kinds = dict(db.session.execute(sa.select(Organization.name, Organization.kind)).all())
    assert kinds == {
        "Amis du Monde": OrganizationKind.NGO,
        "Tejidos SA": OrganizationKind.SUPPLIER,
        "CGT Textile": OrganizationKind.WORKER_ORGANIZATION,
        "Ministerio": OrganizationKind.GOVERNMENT,
        "Université Sud": OrganizationKind.ACADEMIC,
    }


def test_an_unknown_kind_lists_the_kinds_as_users_see_them(run_import):
    run = run_import("organizations", "name,kind\nStarship Co,spaceship\n")
    assert run.failed_count == 1
    assert (
        "Kind “spaceship” is not one of: Brand / retailer, Supplier, Technology provider, NGO, "
        "Worker organization / union, Multi-stakeholder initiative, Investor, Government, "
        "Academic, Other"
    ) in run.error_file
    assert "technology_provider" not in run.error_file
