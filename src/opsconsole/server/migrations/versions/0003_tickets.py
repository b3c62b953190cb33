"""Support tickets and their messages, indexed for the SLA queue.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

The queue is sorted by (next_due_at, id); each filter (status, priority, assignee, user) has
an index that leads with it and continues with that order, so a filtered page is an index
range scan instead of a sort.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("first_responded_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("paused_since", sa.DateTime(), nullable=True),
        sa.Column("paused_us", sa.BigInteger(), nullable=False),
        sa.Column("first_response_due", sa.DateTime(), nullable=False),
        sa.Column("resolution_due", sa.DateTime(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_pk"], ["users.pk"], name=op.f("fk_tickets_user_pk_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_next_due_at_id", "tickets", ["next_due_at", "id"])
    op.create_index("ix_tickets_status_next_due_at_id", "tickets", ["status", "next_due_at", "id"])
    op.create_index(
        "ix_tickets_priority_next_due_at_id", "tickets", ["priority", "next_due_at", "id"]
    )
    op.create_index(
        "ix_tickets_assignee_next_due_at_id", "tickets", ["assignee", "next_due_at", "id"]
    )
    op.create_index(
        "ix_tickets_user_pk_next_due_at_id", "tickets", ["user_pk", "next_due_at", "id"]
    )
    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_messages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    op.create_index("ix_ticket_messages_ticket_id_id", "ticket_messages", ["ticket_id", "id"])


def downgrade() -> None:
    op.drop_table("ticket_messages")
    op.drop_table("tickets")
