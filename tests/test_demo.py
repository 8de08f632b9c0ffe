from __future__ import annotations

import sqlalchemy as sa

from config import BaseConfig
from crm.auth.models import Role, User
from crm.contacts.models import Contact
from crm.engagements.models import Engagement
from crm.organizations.models import Organization


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_bootstrap_creates_admin_and_demo_data_once(app, runner, db, monkeypatch):
    # CRM_ADMIN_EMAIL and CRM_ADMIN_PASSWORD unset
    monkeypatch.setitem(app.config, "ADMIN_EMAIL", BaseConfig.ADMIN_EMAIL.default)
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", None)
    result = runner.invoke(args=["crm", "bootstrap"])
    assert result.exit_code == 0, result.output
    assert "Admin login: admin@example.org" in result.output
    password = result.output.split("Password:")[1].split()[0]
    admin = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
    assert admin.role == Role.ADMIN and admin.check_password(password)
    assert {u.role for u in db.session.scalars(sa.select(User))} == set(Role)
    assert count(db, Organization) >= 150 and count(db, Contact) >= 300
    assert count(db, Engagement) >= 300
    countries = db.session.scalar(sa.select(sa.func.count(sa.distinct(Contact.country))))
    kinds = db.session.scalar(sa.select(sa.func.count(sa.distinct(Organization.kind))))
    assert countries >= 20 and kinds == 10
    # Champion and representative demo accounts are linked to their records.
    champion = db.session.scalar(sa.select(User).where(User.role == Role.CHAMPION))
    rep = db.session.scalar(sa.select(User).where(User.role == Role.ORG_REP))
    assert champion.contact_id and rep.organization_id

    again = runner.invoke(args=["crm", "bootstrap"])
    assert "nothing to do" in again.output
    assert count(db, User) == 6


def test_bootstrap_uses_the_given_admin_login(app, runner, db, monkeypatch):
    monkeypatch.setitem(app.config, "ADMIN_EMAIL", "boss@example.org")  # CRM_ADMIN_EMAIL
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", "a chosen kettle tune")
    result = runner.invoke(args=["crm", "bootstrap"])
    assert result.exit_code == 0
    assert "Password:" not in result.output
    admin = db.session.scalar(sa.select(User).where(User.email == "boss@example.org"))
    assert admin.check_password("a chosen kettle tune")


def test_demo_data_pages_render(runner, db, client, login):
    runner.invoke(args=["crm", "bootstrap"])
    lead = db.session.scalar(sa.select(User).where(User.role == Role.LEAD))
    login(lead)
    contact_id = db.session.scalar(sa.select(Contact.id).limit(1))
    org_id = db.session.scalar(sa.select(Organization.id).limit(1))
    for url in (
        "/",
        "/contacts/",
        f"/contacts/{contact_id}",
        "/organizations/",
        f"/organizations/{org_id}",
        "/engagements/",
        "/engagements/follow-ups",
    ):
        assert client.get(url).status_code == 200, url


def test_bootstrap_refuses_a_weak_admin_password_clearly(app, runner, db, monkeypatch):
    monkeypatch.setitem(app.config, "ADMIN_PASSWORD", "short")  # CRM_ADMIN_PASSWORD
    result = runner.invoke(args=["crm", "bootstrap"])
    assert result.exit_code != 0
    assert "CRM_ADMIN_PASSWORD" in result.output and "at least" in result.output
    assert count(db, User) == 0
