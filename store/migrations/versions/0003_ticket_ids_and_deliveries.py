"""ticket ids taken forever, ordered outcomes, and deliveries (with their dead letters)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("request", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("order", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deliveries_event_id", "deliveries", ["event_id"])
    op.create_index("ix_deliveries_ticket_id", "deliveries", ["ticket_id"])
    op.create_index("ix_deliveries_target", "deliveries", ["target"])
    op.create_index("ix_deliveries_state_created", "deliveries", ["state", "created_at"])


def downgrade() -> None:
    op.drop_table("deliveries")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("as_of")
        batch.drop_column("request")
