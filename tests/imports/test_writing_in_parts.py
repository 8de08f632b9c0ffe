"""A large file written on SQLite part after part, each part a transaction of its own: a save
between two parts goes through at once, and whatever stops the import after a part was
written (an error, a refusal, a process that died) takes back what the parts wrote, so a failed
import leaves nothing of its own behind.

On a database file of its own, as the CLI and the web server share it; the moments are made
with hooks, never with timings. PostgreSQL writes the rows in one transaction (see
test_writers_together.py for what holds on both engines).
"""

from __future__ import annotations

import pytest

from crm.core.errors import OperationError
from tests.imports.test_writers_together import (  # noqa: F401 - fixtures
    ROWS,
    SHORT_WAIT,
    Background,
    client_of,
    database,
    look,
    on_sqlite,
    save_contact,
    shared,
    write_people,
)

PART = 500  # rows a part, once the tests fix it: ROWS is six parts


@pytest.fixture
def parts(shared, monkeypatch):  # noqa: F811 - the fixture imported above
    """The app, its file written in parts of `PART` rows (SQLite only)."""
    from crm.imports import staged

    if not on_sqlite(shared):
        pytest.skip("PostgreSQL writes an import in one transaction")
    monkeypatch.setattr(staged, "FIRST_STEP_ROWS", PART)
    monkeypatch.setattr(staged, "STEP_PAUSE", 0)
    monkeypatch.setattr(staged, "_next_size", lambda size, spent: PART)
    return shared


def fail_part(monkeypatch, number: int, error: BaseException) -> list[int]:
    """Part `number` (from 1) raises `error` once its rows are written, before it commits; the
    list has the parts begun."""
    from crm.imports import running

    original = running.write_part
    begun: list[int] = []

    def write_part(*args, **kwargs):
        begun.append(len(begun) + 1)
        original(*args, **kwargs)
        if len(begun) == number:
            raise error

    monkeypatch.setattr(running, "write_part", write_part)
    return begun


def nothing_left(app) -> None:
    """Only what the database had before the import: Priya, no organization, no undo item."""
    assert look(app, "SELECT count(*) FROM contact") == [(1,)]
    assert look(app, "SELECT count(*) FROM contact_fts WHERE contact_fts MATCH 'person'") == [(0,)]
    assert look(app, "SELECT count(*) FROM organization") == [(0,)]
    assert look(app, "SELECT count(*) FROM import_item") == [(0,)]
    assert look(app, "SELECT count(*) FROM contact_tag") == [(0,)]


@SHORT_WAIT
def test_each_part_commits_and_a_save_between_two_goes_through_at_once(
    parts, tmp_path, monkeypatch
):
    """The save runs between the first part's commit and the second's start (the import waits
    for it): were the import holding the write lock, it would get the busy page after 0.3 s."""
    from crm.imports import staged

    app = parts
    client = client_of(app)
    seen: list[tuple] = []
    saved: list[int] = []

    def between(size, spent):
        if not saved:
            seen.extend(look(app, "SELECT count(*) FROM contact WHERE email LIKE 'person%'"))
            saved.append(save_contact(client, app, title="Director"))
        return PART

    monkeypatch.setattr(staged, "_next_size", between)
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    result = job.finished()
    assert result.exit_code == 0, result.output
    assert saved == [302]  # saved, not "The database is busy" (503)
    assert seen == [(PART,)]  # the first part, committed: others see it
    assert look(app, "SELECT title FROM contact WHERE email = 'priya@example.org'") == [
        ("Director",)
    ]
    assert look(app, "SELECT count(*) FROM contact WHERE email LIKE 'person%'") == [(ROWS,)]
    assert look(app, "SELECT status, created_count FROM import_run") == [("done", ROWS)]
    # The undo items of every part: the whole run can be undone.
    [(covered,)] = look(
        app, "SELECT sum(coalesce(record_id_last, record_id) - record_id + 1) FROM import_item "
        "WHERE table_name = 'contact'"
    )  # fmt: skip
    assert covered == ROWS
    assert look(app, "SELECT count(*) FROM contact_fts WHERE contact_fts MATCH 'person'") == [
        (ROWS,)
    ]


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ZeroDivisionError("division by zero"), "unexpected error"),
        (OperationError("The organization list changed."), "The organization list changed."),
        (KeyboardInterrupt(), "stopped before it finished"),
    ],
)
def test_a_part_that_fails_takes_back_the_parts_before_it(
    parts, tmp_path, monkeypatch, error, said
):
    app = parts
    begun = fail_part(monkeypatch, 3, error)
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    result = job.finished()
    assert result.exit_code != 0
    assert begun == [1, 2, 3]  # two parts were committed before the third failed
    [(status, message)] = look(app, "SELECT status, message FROM import_run")
    assert status == "failed" and said in message
    assert message.endswith(
        f"What it had written so far was taken back: {2 * PART:,} contacts removed and "
        "50 organizations removed."
    )
    nothing_left(app)
    # The records were there for a moment: their trails say so, made and removed.
    assert look(
        app, "SELECT count(*) FROM audit_entry WHERE summary LIKE 'Removed by undoing import%'"
    ) == [(2 * PART + 50,)]  # the contacts and the organizations the file named


def test_a_run_left_half_written_by_a_dead_command_is_failed_and_taken_back_by_housekeeping(
    parts, tmp_path, monkeypatch
):
    """The process died after two parts (it could not even mark the run failed): the hourly
    housekeeping fails the run once it has run for longer than any import, and takes back
    what it wrote."""
    from crm.core.db import utcnow
    from crm.extensions import db
    from crm.imports import cli, jobs
    from crm.imports.queries import CLI_LONGEST

    app = parts
    fail_part(monkeypatch, 3, ZeroDivisionError("the process dies here"))
    monkeypatch.setattr(cli, "_failed", lambda run_id, message: None)
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    assert job.finished().exit_code != 0
    assert look(app, "SELECT status FROM import_run") == [("running",)]
    assert look(app, "SELECT count(*) FROM contact") == [(1 + 2 * PART,)]
    with app.app_context():
        assert jobs._fail_orphaned_runs(utcnow()) == 0  # it may still be running
        assert jobs._fail_orphaned_runs(utcnow() + CLI_LONGEST) == 1
        db.session.commit()
        db.session.remove()
    [(status, message)] = look(app, "SELECT status, message FROM import_run")
    assert status == "failed" and "was taken back" in message
    nothing_left(app)


def test_a_run_ended_by_someone_else_between_two_parts_stops_the_import(
    parts, tmp_path, monkeypatch
):
    """The housekeeping (say) failed the run between two parts, taking back what they wrote:
    the next part refuses to write, and the run keeps the reason it was given."""
    from crm.imports import operations, staged

    app = parts

    def between(size, spent):
        with app.app_context():
            from crm.extensions import db
            from crm.imports.models import ImportRun

            operations.fail(db.session.get(ImportRun, 1), "Ended by someone else.")
            db.session.commit()
            db.session.remove()
        return PART

    monkeypatch.setattr(staged, "_next_size", between)
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    result = job.finished()
    assert result.exit_code == 1
    assert "no longer running" in result.output
    [(status, message)] = look(app, "SELECT status, message FROM import_run")
    assert status == "failed" and message.startswith("Ended by someone else.")
    nothing_left(app)


def test_a_file_smaller_than_a_part_is_one_part(parts, tmp_path):
    app = parts
    job = Background(app, write_people(tmp_path / "people.csv", 3))
    job.start()
    assert job.finished().exit_code == 0
    assert look(app, "SELECT status, created_count FROM import_run") == [("done", 3)]


def test_the_search_index_merges_bit_by_bit_not_a_whole_level_in_one_write(parts):
    """A part of an import (or any save) never pays for merging a whole level of a large
    search index at once: set by the migrations on SQLite."""
    for table in ("contact_fts_config", "organization_fts_config"):
        assert look(parts, f"SELECT v FROM {table} WHERE k = 'crisismerge'") == [(64,)]


def test_a_part_that_waits_out_the_busy_timeout_tries_again_and_the_import_completes(
    parts, tmp_path, monkeypatch
):
    """The second part's wait for the lock runs out twice (as SQLite says it, "database is
    locked"): nothing was written yet, so the part tries again instead of failing the import,
    which then completes."""
    import sqlite3

    import sqlalchemy as sa

    from crm.imports import staged

    app = parts
    original = staged._mark_running
    calls: list[int] = []

    def mark_running(run_id):
        calls.append(run_id)
        if len(calls) in (2, 3):
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
            )
        original(run_id)

    monkeypatch.setattr(staged, "_mark_running", mark_running)
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    result = job.finished()
    assert result.exit_code == 0, result.output
    assert len(calls) == 6 + 1 + 2  # six parts, the last transaction, two waits run out
    assert look(app, "SELECT status, created_count FROM import_run") == [("done", ROWS)]
    assert look(app, "SELECT count(*) FROM contact WHERE email LIKE 'person%'") == [(ROWS,)]


def test_a_part_that_never_gets_the_lock_fails_the_import_and_takes_back_the_parts_before(
    parts, tmp_path, monkeypatch
):
    import sqlite3

    import sqlalchemy as sa

    from crm.imports import staged

    app = parts
    original = staged._mark_running
    calls: list[int] = []

    def mark_running(run_id):
        calls.append(run_id)
        if len(calls) > 1:
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
            )
        original(run_id)

    monkeypatch.setattr(staged, "_mark_running", mark_running)
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    result = job.finished()
    assert result.exit_code == 1
    assert len(calls) == 1 + staged.PART_LOCK_TRIES
    [(status, message)] = look(app, "SELECT status, message FROM import_run")
    assert status == "failed" and message.startswith("The database stayed busy")
    assert "was taken back" in message
    nothing_left(app)
