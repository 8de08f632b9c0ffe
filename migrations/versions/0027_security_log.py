"""The account-security log: sign-ins, failures, refusals, sign-outs, password changes

Revision ID: 0027_security_log
Revises: 0026_user_sessions
Create Date: 2026-12-07 21:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0027_security_log'
down_revision = '0026_user_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'security_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('browser', sa.String(length=120), nullable=False),
        sa.Column('detail', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['user.id'], name=op.f('fk_security_event_user_id_user'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_event')),
    )
    with op.batch_alter_table('security_event', schema=None) as batch_op:
        batch_op.create_index('ix_security_event_at', ['at'], unique=False)
        batch_op.create_index('ix_security_event_user_at', ['user_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('security_event', schema=None) as batch_op:
        batch_op.drop_index('ix_security_event_user_at')
        batch_op.drop_index('ix_security_event_at')
    op.drop_table('security_event')
