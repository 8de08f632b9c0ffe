"""An import item can stand for a run of consecutive created ids

Revision ID: 0014_import_item_ranges
Revises: 0013_consultation_campaigns
Create Date: 2026-11-25 18:10:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014_import_item_ranges"
down_revision = "0013_consultation_campaigns"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_id_last", sa.Integer(), nullable=True))


def downgrade():
    # Ranges become one item per record again before the column goes.
    bind = op.get_bind()
    ranges = bind.execute(
        sa.text(
            "SELECT run_id, table_name, record_id, record_id_last FROM import_item "
            "WHERE record_id_last IS NOT NULL AND record_id_last > record_id"
        )
    ).all()
    for run_id, table_name, first, last in ranges:
        bind.execute(
            sa.text(
                "INSERT INTO import_item (run_id, table_name, record_id, action) "
                "VALUES (:run_id, :table_name, :record_id, 'created')"
            ),
            [
                {"run_id": run_id, "table_name": table_name, "record_id": record_id}
                for record_id in range(first + 1, last + 1)
            ],
        )
    with op.batch_alter_table("import_item", schema=None) as batch_op:
        batch_op.drop_column("record_id_last")
