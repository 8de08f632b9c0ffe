"""The duplicates page reads stored pairs; scans and comparisons are jobs.

The page runs no scan; every app instance on one database sees the same pairs; a record edited
to match another is paired by the small job, without a full scan; merges, dismissals, erasures
and deletions remove their pairs at once; the nightly scan is scheduled; a failing scan says
why; "Scan again" twice queues one scan.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.auth.sessions import start as start_session
from crm.core.jobs import Job, JobStatus
from crm.duplicates import scan as scanning
from crm.duplicates.models import (
    COMPARE_JOB,
    NIGHTLY_JOB,
    SCAN_JOB,
    DuplicateKind,
    DuplicatePair,
    DuplicateScan,
    ScanStatus,
)
from crm.duplicates.operations import scans


def stored(db, kind: DuplicateKind = DuplicateKind.CONTACT) -> set[tuple[int, int]]:
    db.session.expire_all()
    return set(
        db.session.execute(
            sa.select(DuplicatePair.low_id, DuplicatePair.high_id).where(DuplicatePair.kind == kind)
        ).all()
    )


def _pair(make_org, make_contact):
    org = make_org("Golden Thread Garments")
    a = make_contact("Farhana", "Rahman", email="farhana@example.org", organization_id=org.id)
    b = make_contact("Farhana", "Rahmen", phone="+880 171 555 0101", organization_id=org.id)
    return a, b


def refuse(*args, **kwargs):
    raise AssertionError("a whole-table scan ran")


@pytest.fixture
def no_contact_scan(monkeypatch):
    """Reading or scanning the whole contact table fails the test (a subset may be scanned)."""
    read, scan_contacts = scanning.read_rows, scanning.scan_contacts

    def partial_read(sql):
        return refuse() if sql == scanning.CONTACT_SQL else read(sql)

    def partial_scan(threshold=scanning.DEFAULT_THRESHOLD, rows=None, progress=None):
        if rows is None:
            refuse()
        return scan_contacts(threshold, rows)

    monkeypatch.setattr(scanning, "read_rows", partial_read)
    monkeypatch.setattr(scanning, "scan_contacts", partial_scan)


def test_the_page_runs_no_scan(app, client, as_role, make_org, make_contact, scanned, db,
                               monkeypatch):  # fmt: skip
    as_role("lead")
    a, b = _pair(make_org, make_contact)
    scanned()
    assert stored(db) == {(a.id, b.id)}
    for name in ("scan", "scan_contacts", "scan_organizations", "read_rows"):
        monkeypatch.setattr(scanning, name, refuse)
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        text = client.get("/duplicates/").get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    assert f"/duplicates/contacts/{a.id}/{b.id}" in text
    assert "Farhana Rahmen" in text and "in Golden Thread Garments" in text
    # Contacts are read by id only (the page's fifty pairs), never the whole table.
    reads = [s for s in statements if " FROM contact " in f"{s} " or s.endswith("FROM contact")]
    assert reads and all("contact.id IN" in s for s in reads), reads


def test_an_edited_contact_is_paired_by_the_small_job(
    client, as_role, make_org, make_contact, scanned, db, no_contact_scan
):
    from crm.contacts.operations import ContactFields, update_contact

    org = make_org("Golden Thread Garments")
    other = make_org("Other Co")
    a = make_contact("Farhana", "Rahman", organization_id=org.id)
    b = make_contact("Nusrat", "Jahan", organization_id=other.id)
    make_contact("Someone", "Else", organization_id=org.id)
    scanned()
    assert stored(db) == set()
    update_contact(
        None, b, ContactFields(first_name="Farhana", last_name="Rahmen", organization_id=org.id)
    )
    db.session.commit()
    as_role("lead")
    assert f"/duplicates/contacts/{a.id}/{b.id}" not in client.get("/duplicates/").get_data(
        as_text=True
    )  # not yet compared: the page shows what is stored, nothing more
    scanned()  # the worker's frequent comparison, of the changed contact only
    assert stored(db) == {(a.id, b.id)}
    assert f"/duplicates/contacts/{a.id}/{b.id}" in client.get("/duplicates/").get_data(
        as_text=True
    )
    # Edited again so it no longer matches: its pair goes with the next comparison.
    update_contact(None, b, ContactFields(first_name="Nusrat", last_name="Jahan"))
    db.session.commit()
    scanned()
    assert stored(db) == set()


def test_a_phone_written_differently_is_found_by_its_digits(make_contact, scanned, db,
                                                            no_contact_scan):  # fmt: skip
    a = make_contact("Kofi", "Boateng", phone="+233 20 555 0101")
    scanned()
    b = make_contact("K", "Boateng Jr", phone="(233) 205-550101")
    make_contact("Kwame", "Mensah", phone="+233 30 222 0000")
    scanned()
    assert stored(db) == {(a.id, b.id)}


def test_the_small_job_compares_changes_only_once(make_org, make_contact, scanned, db,
                                                  monkeypatch):  # fmt: skip
    from crm.duplicates import compare

    a, b = _pair(make_org, make_contact)
    scanned()
    compared: list[int] = []
    real = compare.contact_rows_around

    def spy(ids):
        compared.extend(ids)
        return real(ids)

    monkeypatch.setattr(compare, "contact_rows_around", spy)
    # The watermark moved on (less the overlap, whose records are compared again at no harm).
    mark = compare.watermark(DuplicateKind.CONTACT)
    mark.changed_after += compare.OVERLAP + timedelta(seconds=1)
    db.session.commit()
    scanned()
    assert compared == []
    assert stored(db) == {(a.id, b.id)}


def test_a_merged_pair_disappears_at_once(client, as_role, make_org, make_contact, scanned, db):
    as_role("lead")
    org = make_org("Acme")
    a, b, c = (make_contact("Ana", "Lima", organization_id=org.id) for _ in range(3))
    a_id, b_id, c_id = a.id, b.id, c.id
    scanned()
    assert stored(db) == {(a_id, b_id), (a_id, c_id), (b_id, c_id)}
    response = client.post(
        f"/duplicates/contacts/{a_id}/{b_id}",
        data={"survivor": "first", "first_version": str(a.version),
              "second_version": str(b.version)},
    )  # fmt: skip
    assert response.status_code == 302
    # No job ran: the merge removed every pair of the merged record in its own transaction.
    assert stored(db) == {(a_id, c_id)}
    text = client.get("/duplicates/").get_data(as_text=True)
    assert f"/{a_id}/{b_id}" not in text and f"/{b_id}/{c_id}" not in text
    assert f"/duplicates/contacts/{a_id}/{c_id}" in text


def test_dismissals_erasures_and_deletions_remove_pairs_at_once(
    client, as_role, make_org, make_contact, scanned, db
):
    from crm.contacts.operations import delete_contact, erase_contact

    as_role("lead")
    org = make_org("Acme")
    a = make_contact("Ana", "Lima", organization_id=org.id)
    b = make_contact("Ana", "Lima", organization_id=org.id)
    e = make_contact("Kofi", "Boateng", phone="+233 20 555 0101")
    f = make_contact("Kofi", "Boateng", phone="+233 20 555 0101")
    scanned()
    assert stored(db) >= {(a.id, b.id), (e.id, f.id)}
    client.post(f"/duplicates/contacts/{a.id}/{b.id}/dismiss")
    assert (a.id, b.id) not in stored(db)
    a.title = "Director"  # changed again: compared again, the dismissed pair stays out
    db.session.commit()
    scanned()
    assert (a.id, b.id) not in stored(db)
    erase_contact(None, db.session.get(type(e), e.id))
    db.session.commit()
    assert (e.id, f.id) not in stored(db)
    scanned()  # the erased contact changed: compared again, it is in no block
    assert (e.id, f.id) not in stored(db)
    g = make_contact("Zainab", "Bello", phone="+234 80 555 0101")
    h = make_contact("Zainab", "Bello", phone="+234 80 555 0101")
    scanned()
    assert (g.id, h.id) in stored(db)
    delete_contact(None, db.session.get(type(h), h.id))
    db.session.commit()
    assert (g.id, h.id) not in stored(db)


def test_the_nightly_scan_and_the_comparison_are_scheduled(app, db, make_org, make_contact,
                                                           run_jobs):  # fmt: skip
    from crm.core.jobs.registry import PERIODIC
    from crm.core.jobs.worker import Worker

    schedule = {p.kind: p.every for p in PERIODIC}
    assert schedule[NIGHTLY_JOB] == timedelta(days=1)
    assert schedule[COMPARE_JOB] <= timedelta(minutes=1)
    make_org("Acme Ltd")
    make_org("ACME Inc.")
    with app.app_context():
        Worker(app, name="test-scheduler").schedule_periodic()
    db.session.expire_all()
    kinds = set(db.session.scalars(sa.select(Job.kind).where(Job.status == JobStatus.QUEUED)))
    assert {NIGHTLY_JOB, COMPARE_JOB} <= kinds
    run_jobs()  # the nightly job queues a scan of each kind, which the same drain runs
    done = db.session.scalars(sa.select(DuplicateScan).order_by(DuplicateScan.id)).all()
    assert [(s.kind, s.status) for s in done] == [
        (DuplicateKind.CONTACT, ScanStatus.DONE),
        (DuplicateKind.ORGANIZATION, ScanStatus.DONE),
    ]
    assert done[1].pairs_found == 1 and done[1].records == 2
    assert len(stored(db, DuplicateKind.ORGANIZATION)) == 1


def test_a_full_scan_replaces_the_stored_pairs(db, make_org, make_contact, run_jobs):
    a, b = _pair(make_org, make_contact)
    db.session.add(DuplicatePair(kind=DuplicateKind.CONTACT, low_id=1, high_id=999_999, score=99,
                                 reasons=[{"rule": "email"}]))  # fmt: skip
    db.session.commit()
    scans.request_scan(None, DuplicateKind.CONTACT)
    db.session.commit()
    run_jobs()
    assert stored(db) == {(a.id, b.id)}
    (pair,) = db.session.scalars(sa.select(DuplicatePair)).all()
    assert pair.reasons[0]["rule"] == "name" and pair.reasons[0]["similarity"] >= 90


def test_a_failing_scan_is_marked_failed_with_its_reason(
    client, as_role, make_org, make_contact, db, run_jobs, monkeypatch
):
    as_role("lead")
    a, b = _pair(make_org, make_contact)

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(scanning, "scan", broken)
    assert client.post("/duplicates/scan", data={"kind": "contacts"}).status_code == 302
    run_jobs()
    db.session.expire_all()
    scan = db.session.scalar(sa.select(DuplicateScan))
    assert scan.status is ScanStatus.FAILED and "the disk is full" in scan.error
    assert scan.active_kind is None and scan.finished_at is not None
    assert db.session.get(Job, scan.job_id).status is JobStatus.FAILED
    text = client.get("/duplicates/").get_data(as_text=True)
    assert 'id="scan-failed"' in text and "the disk is full" in text
    # A failed scan does not stop the next one.
    monkeypatch.undo()
    client.post("/duplicates/scan", data={"kind": "contacts"})
    run_jobs()
    assert stored(db) == {(a.id, b.id)}
    assert 'id="scan-failed"' not in client.get("/duplicates/").get_data(as_text=True)


def test_scan_again_twice_queues_once(client, as_role, db, make_contact, run_jobs):
    as_role("lead")
    make_contact("Ana", "Lima")
    first = client.post("/duplicates/scan", data={"kind": "contacts"}, follow_redirects=True)
    assert "is queued" in first.get_data(as_text=True)
    second = client.post("/duplicates/scan", data={"kind": "contacts"}, follow_redirects=True)
    text = second.get_data(as_text=True)
    assert "already waiting or running; no second one was queued" in text
    assert 'id="scan-progress"' in text and "waiting for a worker" in text
    db.session.expire_all()
    jobs = db.session.scalars(sa.select(Job).where(Job.kind == SCAN_JOB)).all()
    assert len(jobs) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DuplicateScan)) == 1
    # The other kind is a scan of its own.
    client.post("/duplicates/scan", data={"kind": "organizations"})
    run_jobs()
    page = client.get("/duplicates/").get_data(as_text=True)
    assert 'id="scan-progress"' not in page and "Last full scan: 1 contacts" in page
    client.post("/duplicates/scan", data={"kind": "contacts"})
    db.session.expire_all()
    assert len(db.session.scalars(sa.select(Job).where(Job.kind == SCAN_JOB)).all()) == 3


def test_a_running_scan_shows_its_progress(app, client, as_role, db):
    from crm.core.jobs import presence

    as_role("lead")
    scan, _queued = scans.request_scan(None, DuplicateKind.CONTACT)
    job = db.session.get(Job, scan.job_id)
    scan.status = ScanStatus.RUNNING
    job.status = JobStatus.RUNNING
    progress = {"done": 2, "total": 5, "message": "Grouping names"}
    job.progress_done, job.progress_total, job.progress_message = 2, 5, "Grouping names"
    db.session.commit()
    with app.app_context():
        if presence.is_sqlite():
            presence.write_progress_file(db.engine, job.id, progress)
    try:
        text = client.get("/duplicates/").get_data(as_text=True)
    finally:
        with app.app_context():
            presence.forget_progress_file(db.engine, job.id)
    assert "Scanning all contacts: grouping names" in text and "40%" in text


def test_a_scan_whose_job_was_cancelled_does_not_block_the_next(client, as_role, db):
    from crm.core.jobs import cancel

    as_role("lead")
    scan, _ = scans.request_scan(None, DuplicateKind.CONTACT)
    cancel(db.session.get(Job, scan.job_id))
    db.session.commit()
    text = client.get("/duplicates/").get_data(as_text=True)
    assert "cancelled" in text and 'id="scan-progress"' not in text
    again, queued = scans.request_scan(None, DuplicateKind.CONTACT)
    assert queued and again.id != scan.id
    db.session.expire_all()
    assert db.session.get(DuplicateScan, scan.id).status is ScanStatus.FAILED


def test_pages_follow_each_other_by_key(client, as_role, db, monkeypatch):
    from crm.duplicates import queries

    as_role("lead")
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    for i in range(5):
        db.session.add(DuplicatePair(kind=DuplicateKind.CONTACT, low_id=i, high_id=100 + i,
                                     score=90 + i % 2, reasons=[]))  # fmt: skip
    db.session.commit()
    with client.application.test_request_context():
        first = queries.page_of_pairs(DuplicateKind.CONTACT)
        assert first.next_after == (91, 1, 101)
        second = queries.page_of_pairs(DuplicateKind.CONTACT, after=first.next_after)
        assert second.next_after == (90, 2, 102)
        third = queries.page_of_pairs(DuplicateKind.CONTACT, after=second.next_after)
        assert third.next_after is None and third.total == 5
    assert queries.parse_cursor("bad") is None and queries.parse_cursor("90-1-2") == (90, 1, 2)
    # The page itself, with a bad cursor: the first page, no error.
    assert client.get("/duplicates/?after=x-y").status_code == 200


# --- two app instances on one database -------------------------------------------------------


def _drop(url: str) -> None:
    if not url.startswith("postgres"):
        return
    mine = sa.engine.make_url(url)
    admin = sa.create_engine(mine.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{mine.database}" WITH (FORCE)')
    admin.dispose()


def _own_database(tmp_path: Path) -> str:
    base = os.environ.get("CRM_TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'two-apps.sqlite3'}"
    url = sa.engine.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    mine = url.set(database=f"{url.database}_two_apps").render_as_string(hide_password=False)
    _drop(mine)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{url.database}_two_apps"')
    admin.dispose()
    return mine


@pytest.mark.no_db
def test_two_app_instances_see_the_same_pairs(tmp_path):
    """Two processes' worth of app on one database: what one's worker stored, both show, and
    neither keeps its own copy (the second sees a new pair without restarting)."""
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app
    from crm.auth.models import Role, User
    from crm.contacts.models import Contact
    from crm.core.jobs import enqueue
    from crm.core.jobs.worker import Worker
    from crm.extensions import db

    url = _own_database(tmp_path)
    apps = [
        create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, MAIL_FILE_DIR=str(tmp_path / "mail"),
                   INSTANCE_DIR=str(tmp_path / f"instance{i}"))
        for i in (1, 2)
    ]  # fmt: skip
    first, second = apps

    def add_contact(first_name: str, last_name: str, phone: str) -> int:
        with first.app_context():
            contact = Contact(first_name=first_name, last_name=last_name, phone=phone)
            contact.set_search_fields()
            db.session.add(contact)
            db.session.commit()
            return contact.id

    def compare() -> None:
        with first.app_context():
            enqueue(COMPARE_JOB)
            db.session.commit()
            Worker(first, name="worker-1").drain()

    def page(app) -> str:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = user_id
            session["_fresh"] = True
        return client.get("/duplicates/").get_data(as_text=True)

    with first.app_context():
        upgrade()
        user = User(email="lead@example.org", name="Lead", role=Role.LEAD)
        user.set_password("correct horse battery")
        db.session.add(user)
        db.session.commit()
        user_id = start_session(user)  # a signed-in session
        db.session.commit()
    try:
        a = add_contact("Kofi", "Boateng", "+233 20 555 0101")
        b = add_contact("Kofi", "Boateng", "+233 20 555 0101")
        assert f"/duplicates/contacts/{a}/{b}" not in page(second)
        compare()
        for app in apps:
            assert f"/duplicates/contacts/{a}/{b}" in page(app)
        c = add_contact("Zainab", "Bello", "+234 80 555 0101")
        d = add_contact("Zainab", "Bello", "+234 80 555 0101")
        compare()
        for app in apps:
            assert f"/duplicates/contacts/{c}/{d}" in page(app)
    finally:
        for app in apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        _drop(url)


def test_an_edited_organization_is_compared_with_its_blocks_only(
    make_org, scanned, db, monkeypatch
):
    from crm.core.db import utcnow
    from crm.duplicates import compare
    from crm.organizations.models import Organization
    from crm.organizations.operations import name_key

    acme = make_org("Acme Garments Ltd", website="https://acme.example")
    other = make_org("Blue River Textiles")
    unrelated = make_org("Zenith Foods")
    scanned()
    assert stored(db, DuplicateKind.ORGANIZATION) == set()
    compared: list[list[tuple]] = []
    real = compare.organization_rows_around

    def spy(rows, ids):
        compared.append(real(rows, ids))
        return compared[-1]

    monkeypatch.setattr(compare, "organization_rows_around", spy)
    # Saved long ago (beyond the comparison's overlap): only the edit below is new.
    db.session.execute(sa.update(Organization).values(updated_at=utcnow() - timedelta(minutes=10)))
    other.name = "ACME Garments Inc."
    other.name_key = name_key(other.name)
    db.session.commit()
    scanned()
    assert stored(db, DuplicateKind.ORGANIZATION) == {(acme.id, other.id)}
    (rows,) = compared
    assert {row[0] for row in rows} == {acme.id, other.id}  # not Zenith Foods
    assert unrelated.id not in {row[0] for row in rows}
