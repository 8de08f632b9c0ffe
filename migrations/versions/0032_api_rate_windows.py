"""The API's rate limit: each token's requests in the current minute

Revision ID: 0032_api_rate_windows
Revises: 0031_api_idempotency
Create Date: 2026-12-07 23:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0032_api_rate_windows'
down_revision = '0031_api_idempotency'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_rate_window',
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['token_id'], ['api_token.id'],
            name=op.f('fk_api_rate_window_token_id_api_token'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('token_id', name=op.f('pk_api_rate_window')),
    )


def downgrade():
    op.drop_table('api_rate_window')
