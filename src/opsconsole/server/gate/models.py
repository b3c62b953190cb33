"""Tables of the gate: providers, switches, decisions and usage events.

Tier limits live on the `tiers` table (users/models.py), which the gate's migration extends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.server.db import Base, UtcDateTime


class Provider(Base):
    __tablename__ = "providers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    price_in_per_1k: Mapped[float] = mapped_column(Float)
    price_out_per_1k: Mapped[float] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    breaker_settings: Mapped[str] = mapped_column(Text, default="{}")  # JSON BreakerSettings
    # A breaker tripped by hand stays open across restarts until reset by hand.
    breaker_tripped_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Switch(Base):
    __tablename__ = "gate_switches"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, default=None)  # JSON; NULL when off
    set_by: Mapped[str | None] = mapped_column(String(80), default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    set_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class DecisionRow(Base):
    """Every non-dry-run decision, allowed or denied (written in batches)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_pk: Mapped[int | None] = mapped_column(Integer, default=None)
    tier: Mapped[str | None] = mapped_column(String(32), default=None)
    feature: Mapped[str] = mapped_column(String(64))
    allow: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    policy: Mapped[str | None] = mapped_column(String(32), default=None)
    gate_us: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (
        Index("ix_decisions_user_at", "user_pk", "at"),
        Index("ix_decisions_at", "at"),
    )


class UsageEvent(Base):
    """One usage report: what an admitted request cost."""

    __tablename__ = "usage_events"

    decision_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_pk: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(32))
    feature: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    cost: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_usage_events_user_at", "user_pk", "at"),
        Index("ix_usage_events_at", "at"),
    )
