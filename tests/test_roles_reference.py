"""The role table in the README and docs/reference/roles.md say what crm/core/access.py does."""

from __future__ import annotations

import pytest

from crm import roles_reference
from crm.core.access import PERMISSION_LABELS, Permission


@pytest.mark.no_db
def test_every_permission_is_worded():
    assert set(PERMISSION_LABELS) == set(Permission)


@pytest.mark.no_db
def test_the_readme_table_and_the_reference_are_up_to_date():
    stale = "out of date: run `python -m crm.roles_reference`"
    readme = roles_reference.README.read_text()
    assert roles_reference.readme_with_table(readme) == readme, f"README.md's role table is {stale}"
    assert roles_reference.REFERENCE.read_text() == roles_reference.reference(), (
        f"docs/reference/roles.md is {stale}"
    )


@pytest.mark.no_db
def test_the_generated_table_follows_the_code(monkeypatch):
    from crm.core import access

    table = dict(access.ROLE_PERMISSIONS)
    table[access.Role.VIEWER] = frozenset({Permission.ACCOUNT})  # the report taken away
    monkeypatch.setattr(roles_reference, "ROLE_PERMISSIONS", table)
    viewer_row = next(
        line for line in roles_reference.readme_table().splitlines() if "(`viewer`)" in line
    )
    assert "adoption report" not in viewer_row
