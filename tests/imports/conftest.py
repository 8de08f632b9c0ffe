from __future__ import annotations

import pytest


@pytest.fixture
def run_import(app, db, make_user):
    """Upload `data`, map it automatically (or with `mapping`), import it, commit."""
    from crm.imports import operations

    def do(record_type, data, *, policy="skip", mapping=None, file_name=None, actor=None):
        actor = actor or make_user("lead")
        if isinstance(data, str):
            data = data.encode("utf-8")
        with app.test_request_context():
            run = operations.start_run(actor, record_type, file_name or f"{record_type}.csv", data)
            operations.set_mapping(run, mapping or run.mapping, policy)
            operations.perform(actor, run)
            db.session.commit()
            run_id = run.id
        from crm.imports.models import ImportRun

        return db.session.get(ImportRun, run_id)

    return do
