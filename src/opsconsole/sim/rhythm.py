"""The daily rhythm of an app's traffic and a simulated clock that runs faster than real time.

People use a fitness coach after work: traffic peaks 18:00-22:00 and is lowest 02:00-06:00.
The simulated clock lets a demo show a whole day of that rhythm in a few minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

# Relative request rate for each hour of the day (index = hour, 00:00-23:59), before
# normalising to a mean of 1. Evening peak, a smaller lunch bump, a deep night trough.
HOURLY_PROFILE: tuple[float, ...] = (
    0.45, 0.30, 0.15, 0.10, 0.10, 0.12,  # 00-05: night
    0.25, 0.50, 0.75, 0.80, 0.80, 0.90,  # 06-11: morning
    1.05, 1.00, 0.90, 0.90, 1.00, 1.25,  # 12-17: lunch, afternoon
    1.90, 2.20, 2.30, 2.10, 1.60, 0.90,  # 18-23: evening peak
)  # fmt: skip


class DailyRhythm:
    """Traffic intensity by time of day, a factor whose mean over a day is 1.

    Args:
        profile: 24 relative weights, one per hour; interpolated linearly between the middles
            of the hours so the rate changes smoothly.
    """

    def __init__(self, profile: Sequence[float] = HOURLY_PROFILE) -> None:
        if len(profile) != 24 or min(profile) <= 0:
            raise ValueError("a daily profile needs 24 positive weights")
        mean = sum(profile) / 24
        self.hourly = tuple(weight / mean for weight in profile)

    def factor(self, at: datetime) -> float:
        """How much busier than the daily mean the app is at ``at`` (its local hour)."""
        hours = at.hour + at.minute / 60 + at.second / 3600
        # Weights belong to the middle of their hour: hour h's weight holds at h:30.
        position = (hours - 0.5) % 24
        low = int(position)
        high = (low + 1) % 24
        fraction = position - low
        return self.hourly[low] * (1 - fraction) + self.hourly[high] * fraction

    def peak_hours(self, count: int = 4) -> list[int]:
        """The ``count`` busiest hours, in order of the clock."""
        ranked = sorted(range(24), key=lambda hour: self.hourly[hour], reverse=True)
        return sorted(ranked[:count])


class SimClock:
    """Simulated time: ``start + real elapsed * speedup``.

    Args:
        start: the simulated time at creation (default: now, local time, naive).
        speedup: simulated seconds per real second (288 makes a day pass in 5 minutes).
        monotonic: the real clock (a test passes a fake one).
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
        self.start = start if start is not None else datetime.now()
        self.speedup = speedup
        self._monotonic = monotonic
        self._origin = monotonic()

    def elapsed(self) -> float:
        """Real seconds since the clock was created."""
        return self._monotonic() - self._origin

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed() * self.speedup)
