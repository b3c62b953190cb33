"""Impersonation: time-limited, audited tokens for seeing the app as one end user.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "impersonations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name=op.f("fk_impersonations_user_pk_users")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_impersonations_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_impersonations_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impersonations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_impersonations_token_hash")),
    )
    op.create_index("ix_impersonations_expires_at", "impersonations", ["expires_at"])
    op.create_index(
        "ix_impersonations_operator_id_started_at", "impersonations", ["operator_id", "started_at"]
    )
    op.create_index(
        "ix_impersonations_user_pk_started_at", "impersonations", ["user_pk", "started_at"]
    )
    op.create_index("ix_impersonations_started_at_id", "impersonations", ["started_at", "id"])


def downgrade() -> None:
    op.drop_table("impersonations")
