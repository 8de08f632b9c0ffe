"""Case studies keep the organizations a contributor named that are not in the CRM, as typed

Revision ID: 0017_case_study_unlinked_orgs
Revises: 0016_login_attempt_pruning
Create Date: 2026-12-03 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_case_study_unlinked_orgs'
down_revision = '0016_login_attempt_pruning'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unlinked_organizations', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('case_study', schema=None) as batch_op:
        batch_op.drop_column('unlinked_organizations')
