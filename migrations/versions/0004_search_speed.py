"""Search speed: on PostgreSQL the name index includes what a contact search tests.

A search with a great many matches, listed by name, walks the name index and tests each entry;
with search_text and organization_id in the index (INCLUDE), PostgreSQL does that with an
index-only scan instead of reading a row per entry. SQLite has no INCLUDE and walks its name
index against the set its FTS index found (see crm/contacts/queries.py): nothing to change there.

Revision ID: 0004_search_speed
Revises: 0003_pledges
Create Date: 2026-11-25 15:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004_search_speed'
down_revision = '0003_pledges'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_contact_sort_name', table_name='contact')
    op.create_index(
        'ix_contact_sort_name', 'contact', ['sort_name', 'id'], unique=False,
        postgresql_include=['search_text', 'organization_id'],
    )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_contact_sort_name', table_name='contact')
    op.create_index('ix_contact_sort_name', 'contact', ['sort_name', 'id'], unique=False)
