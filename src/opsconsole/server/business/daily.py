"""The daily cost history the forecasts read, from the usage table, kept while it holds.

Full days before today do not change once they are over (a report counts on the day it
arrives), so the series is read once per day and process and reused, as long as the number of
usage rows before today is unchanged: a backfill (``opsconsole history``) or rows arriving by
another route make it read again. The check is an index-only count, several times cheaper than
summing the cost of every row again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from opsconsole.server.gate.models import UsageEvent

LOOKBACK_DAYS = 91  # history the forecast and its backtest read: 13 weeks
PROFILE_DAYS = 28  # history the hour-of-day profile (for part days) is taken from


def day_of(column: Any, dialect: str) -> Any:
    """The UTC day of a timestamp column, as the database groups it."""
    if dialect == "sqlite":
        return func.date(column)
    return func.date_trunc("day", column)


def hour_of(column: Any, dialect: str) -> Any:
    """The UTC hour of the day (0-23) of a timestamp column."""
    if dialect == "sqlite":
        return cast(func.strftime("%H", column), Integer)
    return cast(func.extract("hour", column), Integer)


def as_day(value: Any) -> date:
    """A day as either backend returns it (SQLite: text; PostgreSQL: a timestamp)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class DailyCost:
    days: list[date]
    costs: list[float]


@dataclass(frozen=True)
class Settled:
    """What the forecast needs from the days before today."""

    history: DailyCost  # the last LOOKBACK_DAYS days, from the first day with usage
    profile: list[float]  # share of a day's cost in each UTC hour, over PROFILE_DAYS days


_cache: dict[str, tuple[date, int, Settled]] = {}  # database URL -> (today, rows, figures)
_lock = threading.Lock()


def settled(*, session: Session, today: datetime) -> Settled:
    """The settled history before ``today`` (a UTC midnight), from the cache when still true."""
    first = today - timedelta(days=LOOKBACK_DAYS)
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    rows = int(
        session.scalar(select(func.count()).where(UsageEvent.at >= first, UsageEvent.at < today))
        or 0
    )
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == today.date() and hit[1] == rows:
        return hit[2]
    figures = Settled(
        history=daily_costs(session=session, first=first, until=today),
        profile=hour_profile(session=session, today=today),
    )
    with _lock:
        _cache[key] = (today.date(), rows, figures)
    return figures


def daily_costs(*, session: Session, first: datetime, until: datetime) -> DailyCost:
    """Cost per full UTC day in [first, until), both midnights; days without usage are 0.

    Days before the first usage in the range are left out: the app did not exist yet.
    """
    dialect = session.get_bind().dialect.name
    day = day_of(UsageEvent.at, dialect).label("day")
    rows = session.execute(
        select(day, func.sum(UsageEvent.cost))
        .where(UsageEvent.at >= first, UsageEvent.at < until)
        .group_by(day)
    )
    totals = {as_day(value): float(cost or 0.0) for value, cost in rows}
    if not totals:
        return DailyCost([], [])
    start, stop = min(totals), (until - timedelta(days=1)).date()
    days = [start + timedelta(days=i) for i in range((stop - start).days + 1)]
    return DailyCost(days, [totals.get(d, 0.0) for d in days])


def hour_profile(*, session: Session, today: datetime) -> list[float]:
    """Share of a day's cost in each UTC hour over recent days (uniform without data)."""
    dialect = session.get_bind().dialect.name
    hour = hour_of(UsageEvent.at, dialect).label("hour")
    rows = session.execute(
        select(hour, func.sum(UsageEvent.cost))
        .where(UsageEvent.at >= today - timedelta(days=PROFILE_DAYS), UsageEvent.at < today)
        .group_by(hour)
    )
    by_hour = [0.0] * 24
    for value, cost in rows:
        by_hour[int(value) % 24] += float(cost or 0.0)
    total = sum(by_hour)
    if total <= 0:
        return [1 / 24] * 24
    return [c / total for c in by_hour]
