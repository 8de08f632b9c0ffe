"""Case studies remember when they were first published (the quarter they count in)

Revision ID: 0015_case_study_first_published
Revises: 0014_import_item_ranges
Create Date: 2026-11-25 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_case_study_first_published'
down_revision = '0014_import_item_ranges'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_published_at', sa.DateTime(timezone=True), nullable=True))
    # What is known: a published case study was published at its last review (or, loaded
    # without one, when it was recorded).
    op.execute(
        "UPDATE case_study SET first_published_at = COALESCE(reviewed_at, created_at) "
        "WHERE status = 'published'"
    )


def downgrade():
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.drop_column('first_published_at')
