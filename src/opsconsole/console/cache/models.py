"""Tables of the console's local cache (one SQLite file per profile)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}


class MetricMinute(Base):
    """Stream snapshots folded into one row per minute and scope.

    scope: ``total``, ``provider:<name>`` or ``tier:<name>``; data: folded Counts (plus the
    gate's own latency and active users on ``total``).
    """

    __tablename__ = "metric_minutes"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class SeriesPointRow(Base):
    """A point of a series fetched from the server (``''`` for no provider or tier)."""

    __tablename__ = "series_points"

    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(4), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    fetched_at: Mapped[datetime] = mapped_column(index=True)


class Document(Base):
    """The last known state of one thing the console showed: a provider, an alert, a switch,
    the summary, an audit row, a ticket or a user the operator viewed.

    at: when the thing itself last changed (for retention); fetched_at: when we learnt it.
    """

    __tablename__ = "documents"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    body: Mapped[dict[str, Any]]
    at: Mapped[datetime] = mapped_column(index=True)
    fetched_at: Mapped[datetime] = mapped_column(index=True)


class SwitchEvent(Base):
    """A switch change seen on the stream: the history the controls pane can show offline."""

    __tablename__ = "switch_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[dict[str, Any]]
