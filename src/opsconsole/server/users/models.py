"""Tables of the AI app's end users and the tiers they belong to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.server.db import Base, UtcDateTime

DEFAULT_TIERS = ("free", "premium", "unlimited")


class Tier(Base):
    """A tier of service with its limits; the gate reads these on every decision."""

    __tablename__ = "tiers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    daily_requests: Mapped[int] = mapped_column(Integer, default=10)  # -1: no cap
    weekly_budget: Mapped[float] = mapped_column(Float, default=0.5)  # dollars
    monthly_budget: Mapped[float] = mapped_column(Float, default=2.0)
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=10)
    providers: Mapped[str] = mapped_column(Text, default='["fallback"]')  # JSON, by priority
    price_monthly: Mapped[float] = mapped_column(Float, default=0.0)  # what the user pays


class User(Base):
    __tablename__ = "users"

    # Surrogate key: usage and tickets point here, so erasing the app's id keeps them linked.
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)  # the app's own id
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    tier: Mapped[str] = mapped_column(ForeignKey("tiers.name"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active suspended erased
    status_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Lower-cased "id email name": what the fragment search matches (trigram-indexed).
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Per-user overrides of the tier's limits; None means "as the tier says".
    quota_daily_requests: Mapped[int | None] = mapped_column(Integer, default=None)
    budget_weekly: Mapped[float | None] = mapped_column(Float, default=None)
    budget_monthly: Mapped[float | None] = mapped_column(Float, default=None)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    # A temporary budget increase (dollars added to weekly and monthly) until a time.
    budget_bonus: Mapped[float | None] = mapped_column(Float, default=None)
    budget_bonus_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (
        Index("ix_users_tier_pk", "tier", "pk"),
        Index("ix_users_status_pk", "status", "pk"),
        Index("ix_users_joined_at", "joined_at"),
        Index("ix_users_email", "email"),
    )
