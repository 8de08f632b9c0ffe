"""`flask crm demo --contacts N`: bulk scale data, in its own database (it commits as it goes)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def flask(args: list[str], instance: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CRM_TEST_DATABASE_URL", "CRM_CONFIG")
    }
    env["CRM_INSTANCE_DIR"] = str(instance)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.no_db
def test_bulk_demo_data_is_complete_and_searchable(tmp_path):
    assert flask(["db", "upgrade"], tmp_path).returncode == 0
    result = flask(["crm", "demo", "--contacts", "3000", "--organizations", "300"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    again = flask(["crm", "demo", "--contacts", "1000", "--organizations", "50"], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]  # appends without collisions

    db = sqlite3.connect(tmp_path / "crm.sqlite3")
    contacts, orgs = db.execute(
        "SELECT (SELECT count(*) FROM contact), (SELECT count(*) FROM organization)"
    ).fetchone()
    assert (contacts, orgs) == (4000, 350)
    # Emails unique and normalized, derived columns filled, every contact's organization exists.
    assert db.execute(
        "SELECT count(*) FROM contact WHERE email IS NOT NULL AND email != lower(email)"
    ).fetchone() == (0,)
    assert db.execute(
        "SELECT count(*) FROM contact WHERE sort_name = '' OR search_text = ''"
    ).fetchone() == (0,)
    assert db.execute(
        "SELECT count(*) FROM contact c LEFT JOIN organization o ON o.id = c.organization_id "
        "WHERE c.organization_id IS NOT NULL AND o.id IS NULL"
    ).fetchone() == (0,)
    kinds = db.execute("SELECT count(DISTINCT kind) FROM organization").fetchone()[0]
    assert kinds == 10
    # The search index covers every row, and the triggers are back for later edits.
    last_name, contact_id = db.execute(
        "SELECT last_name, id FROM contact ORDER BY id DESC"
    ).fetchone()
    from crm.core.text import fold

    fragment = '"' + fold(last_name)[:4] + '"'
    hits = {
        r[0]
        for r in db.execute("SELECT rowid FROM contact_fts WHERE contact_fts MATCH ?", (fragment,))
    }
    assert contact_id in hits
    triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert {"contact_fts_ai", "contact_fts_ad", "contact_fts_au"} <= triggers
