"""The API's Idempotency-Key: each POST sent with one, and its answer, kept a day

Revision ID: 0031_api_idempotency
Revises: 0030_api_tokens
Create Date: 2026-12-07 23:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0031_api_idempotency'
down_revision = '0030_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_idempotent_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['token_id'], ['api_token.id'],
            name=op.f('fk_api_idempotent_request_token_id_api_token'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotent_request')),
        sa.UniqueConstraint('token_id', 'key', name='uq_api_idempotent_request_token_key'),
    )
    with op.batch_alter_table('api_idempotent_request', schema=None) as batch_op:
        batch_op.create_index(
            'ix_api_idempotent_request_created_at', ['created_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('api_idempotent_request', schema=None) as batch_op:
        batch_op.drop_index('ix_api_idempotent_request_created_at')
    op.drop_table('api_idempotent_request')
