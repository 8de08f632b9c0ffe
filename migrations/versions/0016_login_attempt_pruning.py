"""Login attempts are pruned by age: an index on their time

Revision ID: 0016_login_attempt_pruning
Revises: 0015_case_study_first_published
Create Date: 2026-12-02 10:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016_login_attempt_pruning'
down_revision = '0015_case_study_first_published'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_login_attempt_at', 'login_attempt', ['at'], unique=False)


def downgrade():
    op.drop_index('ix_login_attempt_at', table_name='login_attempt')
