"""The migrations build exactly the schema the models describe, on the engine under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm.core.search_ddl import include_in_migrations, render_item


def test_models_and_migrations_agree(app, db):
    connection = db.session.connection()
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": include_in_migrations,
            "render_item": render_item,
        },
    )
    diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations; run `flask db migrate`: {diff}"


def test_search_indexes_exist(app, db):
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        names = {
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"
            )
        }
        assert {"contact_fts", "organization_fts", "contact_fts_ai", "contact_fts_au"} <= names
    else:
        names = {
            row[0]
            for row in connection.exec_driver_sql("SELECT indexname FROM pg_indexes")
        }
        assert {"ix_contact_search_trgm", "ix_organization_name_trgm"} <= names
