"""Each campaign's messages by status, stored: the campaigns list and a consultation's
reminders read them instead of counting the outbox; a campaign's due messages indexed in the
order they are claimed

Revision ID: 0024_campaign_counts
Revises: 0023_search_index_merging
Create Date: 2026-12-07 20:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0024_campaign_counts"
down_revision = "0023_search_index_merging"
branch_labels = None
depends_on = None

STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


def upgrade():
    op.create_table(
        "campaign_counts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        *(sa.Column(s, sa.Integer(), nullable=False) for s in STATUSES),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_campaign_counts_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_counts")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_message_campaign_due",
            ["campaign_id", "status", "next_attempt_at", "id"],
            unique=False,
        )
        batch_op.drop_index("ix_outbox_message_campaign_status")
    # The campaigns already queued, counted once (the tick keeps them from now on).
    op.execute(
        "INSERT INTO campaign_counts (campaign_id, "
        + ", ".join(STATUSES)
        + ", counted_at) SELECT c.id, "
        + ", ".join(
            f"(SELECT count(*) FROM outbox_message m WHERE m.campaign_id = c.id"
            f" AND m.status = '{s}')"
            for s in STATUSES
        )
        + ", CURRENT_TIMESTAMP FROM campaign c WHERE c.queued_at IS NOT NULL"
    )


def downgrade():
    op.drop_table("campaign_counts")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_message_campaign_status", ["campaign_id", "status"], unique=False
        )
        batch_op.drop_index("ix_outbox_message_campaign_due")
