"""Consultation responses keep the number they got when first submitted ("Respondent 3"),
and what was typed on the public page with a known address waits on the response as a draft

Revision ID: 0018_response_number_pending
Revises: 0017_case_study_unlinked_orgs
Create Date: 2026-12-04 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_response_number_pending'
down_revision = '0017_case_study_unlinked_orgs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pending', sa.JSON(), nullable=True))
        batch_op.create_unique_constraint('uq_response_number', ['consultation_id', 'number'])
    backfill()


def backfill():
    # Submitted responses are numbered in the order they were first submitted: the audit
    # trail's first "submitted" entry for each (a response submitted again keeps its place);
    # the last submission's time where the trail has none, then the id.
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT r.id, r.consultation_id, r.submitted_at, ("
        "  SELECT MIN(a.at) FROM audit_entry a"
        "  WHERE a.object_type = 'consultation' AND a.object_id = r.consultation_id"
        "  AND a.summary IN ("
        "    'Response submitted (response ' || CAST(r.id AS VARCHAR(20)) || ')',"
        "    'Public response submitted (response ' || CAST(r.id AS VARCHAR(20)) || ')')"
        ") AS first_at "
        "FROM response r WHERE r.submitted_at IS NOT NULL"
    )).all()
    rows.sort(key=lambda row: (row.consultation_id, row.first_at or row.submitted_at, row.id))
    numbers, counter = [], {}
    for row in rows:
        counter[row.consultation_id] = counter.get(row.consultation_id, 0) + 1
        numbers.append({'id': row.id, 'number': counter[row.consultation_id]})
    if numbers:
        connection.execute(
            sa.text("UPDATE response SET number = :number WHERE id = :id"), numbers
        )


def downgrade():
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_constraint('uq_response_number', type_='unique')
        batch_op.drop_column('pending')
        batch_op.drop_column('number')
