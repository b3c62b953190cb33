"""Calendar windows the gate counts in (UTC): day, ISO week, month, and minute buckets."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache


def numbers(now: datetime) -> tuple[int, int, int]:
    """(day, week, month) as numbers that grow with time: the windows `now` falls in.

    The in-memory counters compare these instead of formatting keys: one cached lookup.
    """
    return _numbers(now.toordinal())


@lru_cache(maxsize=64)
def _numbers(ordinal: int) -> tuple[int, int, int]:
    day = datetime.fromordinal(ordinal)
    return ordinal, ordinal - day.weekday(), day.year * 12 + day.month - 1


def minute_number(now: datetime) -> int:
    return int(now.timestamp()) // 60


def day_key(now: datetime) -> str:
    return _keys(now.date().toordinal())[0]


def week_key(now: datetime) -> str:
    return _keys(now.date().toordinal())[1]


def month_key(now: datetime) -> str:
    return _keys(now.date().toordinal())[2]


@lru_cache(maxsize=64)
def _keys(ordinal: int) -> tuple[str, str, str]:
    # Every decision and report needs these; formatting dates costs more than the lookup.
    day = datetime.fromordinal(ordinal)
    year, week, _ = day.isocalendar()
    return day.strftime("%Y-%m-%d"), f"{year}-W{week:02d}", day.strftime("%Y-%m")


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def week_start(now: datetime) -> datetime:
    return day_start(now) - timedelta(days=now.weekday())


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def sliding_minute(previous: int, current: int, now_s: float) -> float:
    """Requests in the last 60 s, estimated from two fixed one-minute buckets.

    The previous bucket counts in proportion to how much of it the sliding window still
    covers (the approach of Cloudflare's rate limiter): one number per bucket, no log.
    """
    elapsed = (now_s % 60) / 60
    return previous * (1 - elapsed) + current


def retry_after(previous: int, current: int, limit: int, now_s: float) -> float:
    """Seconds until the sliding estimate drops below ``limit`` (at most the rest of a minute)."""
    elapsed = now_s % 60
    if previous > 0:
        # previous * (1 - t/60) + current < limit  =>  t > 60 * (1 - (limit - current)/previous)
        needed = 60 * (1 - (limit - current) / previous)
        if current < limit and needed > elapsed:
            return round(needed - elapsed, 3)
    return round(60 - elapsed, 3)
