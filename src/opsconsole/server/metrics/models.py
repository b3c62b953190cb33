"""The rollup table: one row per (step, start, replica, provider, tier).

Each replica writes its own rows (its id is new on every start, so a restarted process never
has to merge into what it wrote before); readers sum counts and merge sketches across rows.
Provider "" is every provider together, tier "" every tier. Latencies are stored as serialized
sketches, so an hour's or a day's percentile is taken from merged sketches, never an average of
percentiles.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.server.db import Base, UtcDateTime


class MetricRollup(Base):
    __tablename__ = "metric_rollups"

    step: Mapped[str] = mapped_column(String(2), primary_key=True)  # "1m" or "1h"
    start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    replica: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    admits: Mapped[int] = mapped_column(Integer, default=0)
    denials: Mapped[str] = mapped_column(Text, default="{}")  # JSON {reason: count}
    reports: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    timeouts: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    latency: Mapped[str | None] = mapped_column(Text, default=None)  # sketch of ms
    gate_us: Mapped[str | None] = mapped_column(Text, default=None)  # sketch of us
