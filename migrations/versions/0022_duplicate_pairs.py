"""Duplicates kept in the database: the pairs found, the scans that found them, how far the
comparison of changed records has read; the lookups that comparison uses (records changed
since, a contact by lower-cased email and by phone without separators)

Revision ID: 0022_duplicate_pairs
Revises: 0021_figures_and_cache
Create Date: 2026-12-07 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_duplicate_pairs'
down_revision = '0021_figures_and_cache'
branch_labels = None
depends_on = None

KIND = sa.Enum('contact', 'organization', name='duplicatekind', native_enum=False, length=20)
PHONE_DIGITS = (
    "replace(replace(replace(replace(replace(replace(replace("
    "phone, ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''), '/', '')"
)


def upgrade():
    op.create_table('duplicate_pair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', KIND, nullable=False),
    sa.Column('low_id', sa.Integer(), nullable=False),
    sa.Column('high_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('found_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_pair')),
    sa.UniqueConstraint('kind', 'low_id', 'high_id', name=op.f('uq_duplicate_pair_kind')),
    )
    with op.batch_alter_table('duplicate_pair', schema=None) as batch_op:
        batch_op.create_index('ix_duplicate_pair_rank', ['kind', 'score', 'low_id', 'high_id'], unique=False)
        batch_op.create_index('ix_duplicate_pair_high', ['kind', 'high_id'], unique=False)
    op.create_table('duplicate_scan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', KIND, nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='scanstatus', native_enum=False, length=20), nullable=False),
    sa.Column('active_kind', sa.String(length=20), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress_done', sa.Integer(), nullable=True),
    sa.Column('progress_total', sa.Integer(), nullable=True),
    sa.Column('records', sa.Integer(), nullable=True),
    sa.Column('pairs_found', sa.Integer(), nullable=True),
    sa.Column('seconds', sa.Double(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'], name=op.f('fk_duplicate_scan_requested_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_scan')),
    sa.UniqueConstraint('active_kind', name=op.f('uq_duplicate_scan_active_kind')),
    )
    with op.batch_alter_table('duplicate_scan', schema=None) as batch_op:
        batch_op.create_index('ix_duplicate_scan_kind', ['kind', 'id'], unique=False)
    op.create_table('duplicate_watermark',
    sa.Column('kind', KIND, nullable=False),
    sa.Column('changed_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('compared_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_duplicate_watermark')),
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_updated_at', ['updated_at', 'id'], unique=False)
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.create_index('ix_organization_updated_at', ['updated_at', 'id'], unique=False)
    op.create_index('ix_contact_email_lower', 'contact', [sa.text('lower(email)')], unique=False)
    op.create_index('ix_contact_phone_digits', 'contact', [sa.text(PHONE_DIGITS)], unique=False)


def downgrade():
    op.drop_index('ix_contact_phone_digits', table_name='contact')
    op.drop_index('ix_contact_email_lower', table_name='contact')
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_index('ix_organization_updated_at')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_updated_at')
    op.drop_table('duplicate_watermark')
    with op.batch_alter_table('duplicate_scan', schema=None) as batch_op:
        batch_op.drop_index('ix_duplicate_scan_kind')
    op.drop_table('duplicate_scan')
    with op.batch_alter_table('duplicate_pair', schema=None) as batch_op:
        batch_op.drop_index('ix_duplicate_pair_high')
        batch_op.drop_index('ix_duplicate_pair_rank')
    op.drop_table('duplicate_pair')
