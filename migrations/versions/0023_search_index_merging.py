"""SQLite's search indexes merge their segments bit by bit ('crisismerge' 64), so that no
single write pays for merging a whole level of a million-row index at once

Revision ID: 0023_search_index_merging
Revises: 0027_security_log
Create Date: 2026-12-07 20:20:00.000000

"""

from alembic import op

from crm.core.search_ddl import SQLITE_FTS_SETTINGS

# revision identifiers, used by Alembic.
revision = "0023_search_index_merging"
down_revision = "0027_security_log"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's trigram indexes have no such setting
    for statements in SQLITE_FTS_SETTINGS.values():
        for statement in statements:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in SQLITE_FTS_SETTINGS:
        op.execute(f"INSERT INTO {table}_fts({table}_fts, rank) VALUES ('crisismerge', 16)")
