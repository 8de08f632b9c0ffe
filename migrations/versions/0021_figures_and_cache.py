"""The shared store: values every process reads (the dashboard's figures, the quarterly
report), built by jobs; kept here unless CRM_REDIS_URL names a Redis

Revision ID: 0021_figures_and_cache
Revises: 0020_job_kind_finished_at
Create Date: 2026-12-07 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021_figures_and_cache'
down_revision = '0020_job_kind_finished_at'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stored_value',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_stored_value')),
    )
    with op.batch_alter_table('stored_value', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_stored_value_expires_at'), ['expires_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('stored_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_value_expires_at'))
    op.drop_table('stored_value')
