"""Live metrics: minute and hour rollups per replica, provider and tier.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("step", sa.String(2), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("replica", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("admits", sa.Integer(), nullable=False),
        sa.Column("denials", sa.Text(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("latency", sa.Text(), nullable=True),
        sa.Column("gate_us", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "step", "start", "replica", "provider", "tier", name=op.f("pk_metric_rollups")
        ),
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")
