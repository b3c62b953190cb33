"""The running sums behind the wall's figures: per-second figures over rolling windows, and the
current minute's totals that become one point of each trend.

Kept apart from the widgets because this is the part that must stay bounded over days of
uptime, and it is plain Python that can be reasoned about (and tested) without Qt.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsconsole.wire.metrics import MetricsSnapshot

SECONDS_KEPT = 3600  # per-second figures for the rolling windows (at most an hour's worth)


@dataclass
class Second:
    at: datetime
    interval_s: float
    requests: int
    reports: int
    failures: int
    cost: float


class Rolling:
    """Sums over the last ``seconds`` of server time, kept up as seconds come and go.

    Adding and expiring are O(1) per snapshot (a full pass over an hour of seconds, three
    times a second, is what a day-long run cannot afford); ``cap`` bounds the memory when the
    server's clock jumps or many short snapshots arrive.
    """

    def __init__(self, seconds: float, cap: int = SECONDS_KEPT) -> None:
        self.span = timedelta(seconds=seconds)
        self.items: deque[Second] = deque()
        self.cap = cap
        self.interval_s = 0.0
        self.requests = 0
        self.reports = 0
        self.failures = 0
        self.cost = 0.0

    def add(self, second: Second) -> None:
        self.items.append(second)
        self._count(second, 1)
        while self.items and (
            len(self.items) > self.cap or self.items[0].at < second.at - self.span
        ):
            self._count(self.items.popleft(), -1)

    def _count(self, s: Second, sign: int) -> None:
        self.interval_s += sign * s.interval_s
        self.requests += sign * s.requests
        self.reports += sign * s.reports
        self.failures += sign * s.failures
        self.cost += sign * s.cost


@dataclass
class Minute:
    """One minute of snapshots, folded into the trends' figures for that minute."""

    start: float
    cost: float = 0.0
    seconds: float = 0.0
    reports: int = 0
    failures: int = 0
    p95_sum: float = 0.0
    p95_weight: float = 0.0

    def add(self, snapshot: MetricsSnapshot) -> None:
        total = snapshot.total
        self.cost += total.cost
        self.seconds += snapshot.interval_s
        self.reports += total.reports
        self.failures += total.errors + total.timeouts
        if total.latency_ms.p95 is not None and total.reports:
            self.p95_sum += total.latency_ms.p95 * total.reports
            self.p95_weight += total.reports

    def points(self) -> tuple[tuple[str, float | None], ...]:
        """The minute's value for each trend: cost per hour, p95 latency, error rate in %."""
        per_hour = self.cost * 3600.0 / self.seconds if self.seconds else None
        p95 = self.p95_sum / self.p95_weight if self.p95_weight else None
        errors = 100.0 * self.failures / self.reports if self.reports else None
        return (("cost", per_hour), ("latency", p95), ("errors", errors))
