"""The Jobs page's kind filter on done jobs: an index on (kind, finished_at), so "done in the
last day" of one kind walks that kind's finished jobs only, not the whole day's (SQLite)

Revision ID: 0020_job_kind_finished_at
Revises: 0019_jobs
Create Date: 2026-12-07 12:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020_job_kind_finished_at'
down_revision = '0019_jobs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_kind_finished_at', ['kind', 'finished_at'], unique=False)


def downgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_kind_finished_at')
