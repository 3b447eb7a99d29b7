"""the journal: each ticket's opening with its policy snapshot, its actions with their times,
and the entries each outcome reflects, so a what-if replays tickets after retention

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("journaled", sa.Integer(), nullable=True))
    op.create_table(
        "ticket_openings",
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index("ix_ticket_openings_opened_at", "ticket_openings", ["opened_at"])
    op.create_table(
        "ticket_journal",
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("ticket_journal")
    op.drop_index("ix_ticket_openings_opened_at", table_name="ticket_openings")
    op.drop_table("ticket_openings")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("journaled")
