"""Time as the server sees it: one injectable source so tests can move the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


class ScaledClock:
    """Time that runs ``speedup`` times faster than real time, from ``start``: for demos only.

    With the simulator at the same speed-up, a simulated day passes in minutes and daily
    quotas, budget windows and metrics roll over as they would. Based on the monotonic clock,
    so a change of the machine's wall clock does not make it jump. Everything that counts in
    this clock's time speeds up too: an operator's 30-minute idle timeout lasts 6.25 real
    seconds at 288x.
    """

    def __init__(
        self,
        start: datetime | None = None,
        speedup: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self.speedup = speedup
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._origin) * self.speedup)


def make_clock(speedup: float = 1.0, start: datetime | None = None) -> Clock:
    """The server's clock from its settings: the system's, or a demo's faster one."""
    if speedup == 1.0 and start is None:
        return SystemClock()
    return ScaledClock(start, speedup)
