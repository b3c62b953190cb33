"""The gate: tier limits, providers, switches, decisions and usage events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Defaults from the requirements (seeds): limits per tier, providers and their list prices.
TIERS = {
    "free": (10, 0.50, 2.00, 10, ["gemini-flash", "fallback"], 0.0),
    "premium": (100, 5.00, 20.00, 30, ["gemini-flash", "gpt-4o-mini", "perplexity"], 9.99),
    "unlimited": (-1, 50.00, 200.00, 60, ["gpt-4o", "gemini-pro", "perplexity-large"], 29.99),
}
PROVIDERS = {
    "gemini-flash": ("gemini-1.5-flash", 0.000075, 0.0003),
    "gpt-4o-mini": ("gpt-4o-mini", 0.00015, 0.0006),
    "perplexity": ("llama-3.1-sonar-small", 0.0002, 0.0002),
    "gpt-4o": ("gpt-4o", 0.0025, 0.01),
    "gemini-pro": ("gemini-1.5-pro", 0.00125, 0.005),
    "perplexity-large": ("llama-3.1-sonar-large", 0.001, 0.001),
    "fallback": ("fallback-small", 0.00005, 0.0001),
}


def upgrade() -> None:
    with op.batch_alter_table("tiers") as batch:
        batch.add_column(
            sa.Column("daily_requests", sa.Integer(), nullable=False, server_default="10")
        )
        batch.add_column(
            sa.Column("weekly_budget", sa.Float(), nullable=False, server_default="0.5")
        )
        batch.add_column(
            sa.Column("monthly_budget", sa.Float(), nullable=False, server_default="2.0")
        )
        batch.add_column(
            sa.Column("rate_per_minute", sa.Integer(), nullable=False, server_default="10")
        )
        batch.add_column(
            sa.Column("providers", sa.Text(), nullable=False, server_default='["fallback"]')
        )
        batch.add_column(sa.Column("price_monthly", sa.Float(), nullable=False, server_default="0"))
    tiers = sa.table(
        "tiers",
        sa.column("name", sa.String),
        sa.column("daily_requests", sa.Integer),
        sa.column("weekly_budget", sa.Float),
        sa.column("monthly_budget", sa.Float),
        sa.column("rate_per_minute", sa.Integer),
        sa.column("providers", sa.Text),
        sa.column("price_monthly", sa.Float),
    )
    for name, (daily, weekly, monthly, rpm, providers, price) in TIERS.items():
        op.execute(
            tiers.update()
            .where(tiers.c.name == name)
            .values(
                daily_requests=daily,
                weekly_budget=weekly,
                monthly_budget=monthly,
                rate_per_minute=rpm,
                providers=json.dumps(providers),
                price_monthly=price,
            )
        )
    providers_table = op.create_table(
        "providers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("price_in_per_1k", sa.Float(), nullable=False),
        sa.Column("price_out_per_1k", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("breaker_settings", sa.Text(), nullable=False),
        sa.Column("breaker_tripped_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_providers")),
    )
    op.bulk_insert(
        providers_table,
        [
            {
                "name": name,
                "model": model,
                "price_in_per_1k": price_in,
                "price_out_per_1k": price_out,
                "enabled": True,
                "breaker_settings": "{}",
            }
            for name, (model, price_in, price_out) in PROVIDERS.items()
        ],
    )
    op.create_table(
        "gate_switches",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("set_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gate_switches")),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("allow", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("policy", sa.String(length=32), nullable=True),
        sa.Column("gate_us", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_decisions_decision_id")),
    )
    op.create_index("ix_decisions_user_at", "decisions", ["user_pk", "at"])
    op.create_index("ix_decisions_at", "decisions", ["at"])
    op.create_table(
        "usage_events",
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_usage_events")),
    )
    op.create_index("ix_usage_events_user_at", "usage_events", ["user_pk", "at"])
    op.create_index("ix_usage_events_at", "usage_events", ["at"])


def downgrade() -> None:
    op.drop_table("usage_events")
    op.drop_table("decisions")
    op.drop_table("gate_switches")
    op.drop_table("providers")
    with op.batch_alter_table("tiers") as batch:
        for column in (
            "price_monthly",
            "providers",
            "rate_per_minute",
            "monthly_budget",
            "weekly_budget",
            "daily_requests",
        ):
            batch.drop_column(column)
