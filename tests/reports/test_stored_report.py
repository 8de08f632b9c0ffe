"""The quarterly report is built by a job, stored, and read by every process."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from crm.auth.sessions import start as start_session
from crm.pledges.schedule import Quarter
from crm.reports.build import build_report
from crm.reports.stored import decode, encode
from tests.conftest import own_database
from tests.test_dashboard import two_quarters  # noqa: F401  (a fixture)


def test_a_stored_report_reads_back_as_built(app, db, two_quarters):  # noqa: F811
    this, _last = two_quarters
    with app.test_request_context():
        report = build_report(this)
    text = json.dumps(encode(report), allow_nan=False)  # JSON, nothing pickled
    again = decode(json.loads(text))
    assert (again.quarter, again.as_of, again.highlights) == (
        report.quarter, report.as_of, report.highlights)  # fmt: skip
    assert again.figures == report.figures
    assert list(again.sections) == list(report.sections)
    for name, frame in report.sections.items():
        pd.testing.assert_frame_equal(again.sections[name], frame, check_index_type=False)


@pytest.mark.no_db
def test_the_report_page_reads_the_report_another_process_stored(tmp_path):
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app
    from crm.auth.models import Role, User
    from crm.core.jobs import enqueue
    from crm.core.jobs.worker import Worker
    from crm.extensions import db

    url = own_database(tmp_path, "shared")

    def instance(name: str):
        return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url,
                          INSTANCE_DIR=str(tmp_path / name), MAIL_FILE_DIR=str(tmp_path / "mail"))  # fmt: skip

    worker_app, web_app = instance("worker"), instance("web")
    with worker_app.app_context():
        upgrade()
        lead = User(email="lead@example.org", name="Lead", role=Role.LEAD)
        lead.set_password("correct horse battery")
        db.session.add(lead)
        enqueue("reports.build")
        db.session.commit()
        assert Worker(worker_app, name="test-worker").drain() == 1
        lead_id = start_session(lead)  # a signed-in session
        db.session.commit()
        db.session.remove()
    seen: list[str] = []
    with web_app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda *args: seen.append(args[2].lower()))  # fmt: skip
    client = web_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = lead_id
        session["_fresh"] = True
    response = client.get("/reports/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert Quarter.of(date.today()).label in page
    assert 'id="report-built-at"' in page  # the stored one, and it says when it was built
    assert not any("from pledge" in sql for sql in seen)  # not built again in the request
    with worker_app.app_context():
        db.engine.dispose()
    with web_app.app_context():
        db.engine.dispose()
