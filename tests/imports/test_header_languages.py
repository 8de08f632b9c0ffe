"""Headers in French, Spanish, German and Portuguese are read as the fields they name."""

from __future__ import annotations

import pytest

from crm.imports.column_mapping import auto_map
from crm.imports.importers.contacts import SPEC as CONTACTS
from crm.imports.importers.organizations import SPEC as ORGANIZATIONS


def test_a_french_contacts_file():
    headers = ["Prénom", "Nom", "Courriel", "Langues", "Ville"]
    assert auto_map(headers, CONTACTS) == {
        "Prénom": "first_name",
        "Nom": "last_name",  # in a contacts file, the last name
        "Courriel": "email",
        "Langues": "languages",
    }


@pytest.mark.parametrize(
    ("header", "key"),
    [("Correo", "email"), ("Correo electrónico", "email"), ("E-Mail", "email"),
     ("E-Mail-Adresse", "email"), ("Idiomas", "languages"), ("Sprachen", "languages"),
     ("Nombre", "first_name"), ("Apellido", "last_name")],
)  # fmt: skip
def test_contact_headers_in_other_languages(header, key):
    assert auto_map([header], CONTACTS) == {header: key}


def test_a_french_organizations_file():
    headers = ["Nom", "Secteur", "Pays", "Site web"]
    assert auto_map(headers, ORGANIZATIONS) == {
        "Nom": "name",
        "Secteur": "sector",
        "Pays": "country",
        "Site web": "website",
    }


@pytest.mark.parametrize(
    ("header", "key"),
    [("Nombre", "name"), ("Nome", "name"), ("Sector", "sector"), ("Sektor", "sector"),
     ("Branche", "sector"), ("Setor", "sector")],
)  # fmt: skip
def test_organization_headers_in_other_languages(header, key):
    assert auto_map([header], ORGANIZATIONS) == {header: key}


def test_a_french_organizations_file_imports(run_import, db):
    from crm.organizations.models import Organization

    run = run_import("organizations", "Nom,Secteur\nAtelier Soleil,Textile\n")
    assert run.created_count == 1
    org = db.session.query(Organization).one()
    assert (org.name, org.sector) == ("Atelier Soleil", "Textile")
