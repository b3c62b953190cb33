"""Per-second aggregation of every gate decision and usage report, in memory.

The gate calls :class:`MetricsAggregator` (a gate observer) on the event loop for every
counted decision and every durable usage row; that path only adds numbers to the current
clock-second's cell (O(1), no I/O). `tick` closes the seconds that have passed, folds them
into minute and hour rollups and returns one snapshot. Seconds are kept for about six minutes
(exact windows), minutes for a little over two hours, hours for three; older figures live in
the rollup table. A lock makes it safe to tick from another thread than the loop's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from opsconsole.server.gate.engine import Decision, Gate, UsageRow
from opsconsole.server.metrics.cells import Cell, Cells, fold, merge_cells
from opsconsole.server.metrics.health import (
    HEALTH_WINDOW_S,
    HealthMemory,
    HealthThresholds,
    assess,
)
from opsconsole.wire.gate import UsageStatus
from opsconsole.wire.metrics import Counts, Latency, MetricsSnapshot, ProviderHealth

MAX_WINDOW_S = 3600
ACTIVE_WINDOW_S = 300
SECOND_RETENTION_S = 360
MINUTE_RETENTION_S = 150 * 60
HOUR_RETENTION_S = 3 * 3600
# A clock that jumps far ahead (tests, a suspended laptop) closes at most this many empty
# minutes; persisting a day of zeros would say nothing anyway.
MAX_EMPTY_MINUTES = 1440


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _minute(second: int) -> int:
    return second - second % 60


def _hour(second: int) -> int:
    return second - second % 3600


def at_epoch(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


@dataclass(frozen=True)
class Rollup:
    """One interval's cells to persist: `step` "1m" or "1h", `start` in epoch seconds."""

    step: str
    start: int
    cells: Cells


def _copy(cells: Cells) -> Cells:
    copied: Cells = {}
    fold(copied, cells)
    return copied


class MetricsAggregator:
    def __init__(
        self,
        *,
        gate: Gate,
        start: datetime,
        thresholds: HealthThresholds | None = None,
    ) -> None:
        self.gate = gate
        self.thresholds = thresholds or HealthThresholds()
        self._health_memory = HealthMemory()
        first = int(_epoch(start))
        self._lock = threading.Lock()
        self._seconds: dict[int, Cells] = {}
        self._report_at: dict[int, datetime] = {}  # newest report per second
        self._minutes: dict[int, Cells] = {}
        self._hours: dict[int, Cells] = {}
        self._closed_until = first  # seconds before it are closed (emitted)
        self._seconds_from = _minute(first)  # seconds before it are folded away
        self._minutes_from = _minute(first)
        self._hours_from = _hour(first)
        self._taken_until = _minute(first)  # minutes before it were handed out to persist
        self._last_seen: dict[int, float] = {}  # user pk -> epoch of last request
        self._day = first // 86400
        self._today: set[int] = set()

    # --- the hot path (gate observer) ---------------------------------------------------------

    def decided(self, decision: Decision) -> None:
        response = decision.response
        at = _epoch(decision.at)
        with self._lock:
            cell = self._cell(at, response.provider or "", decision.tier or "")
            cell.requests += 1
            if response.allow:
                cell.admits += 1
            else:
                reason = response.reason.value
                cell.denials[reason] = cell.denials.get(reason, 0) + 1
            cell.add_gate_us(decision.gate_us)
            if decision.user_pk is not None:
                self._seen(decision.user_pk, at)

    def reported(self, rows: Sequence[UsageRow], now: datetime) -> None:
        at = _epoch(now)
        with self._lock:
            second = self._second(at)
            cells = self._seconds.setdefault(second, {})
            for row in rows:
                pending, report = row.decision, row.report
                key = (pending.provider, pending.tier)
                cell = cells.get(key)
                if cell is None:
                    cell = cells[key] = Cell()
                cell.reports += 1
                if report.status is UsageStatus.ERROR:
                    cell.errors += 1
                elif report.status is UsageStatus.TIMEOUT:
                    cell.timeouts += 1
                cell.input_tokens += report.input_tokens
                cell.output_tokens += report.output_tokens
                cell.cost += row.cost
                cell.add_latency(report.latency_ms)
                self._seen(pending.user_pk, at)
            if rows:
                self._report_at[second] = now

    def _second(self, at: float) -> int:
        # A fact that arrives for a second already emitted (a report whose clock was read
        # before a tick) goes into the first open second: every fact is in exactly one
        # snapshot.
        return max(int(at), self._closed_until)

    def _cell(self, at: float, provider: str, tier: str) -> Cell:
        cells = self._seconds.setdefault(self._second(at), {})
        cell = cells.get((provider, tier))
        if cell is None:
            cell = cells[(provider, tier)] = Cell()
        return cell

    def _seen(self, user_pk: int, at: float) -> None:
        self._last_seen[user_pk] = at
        day = int(at) // 86400
        if day != self._day:
            if day < self._day:
                return
            self._day, self._today = day, set()
        self._today.add(user_pk)

    def seed_users(self, seen: Iterable[tuple[int, datetime]]) -> None:
        """Users seen before this process started (from the decisions table), so active user
        counts survive a restart."""
        with self._lock:
            for user_pk, at in seen:
                at_s = _epoch(at)
                if at_s > self._last_seen.get(user_pk, 0.0):
                    self._seen(user_pk, at_s)

    # --- closing seconds ----------------------------------------------------------------------

    def tick(self, now: datetime) -> MetricsSnapshot | None:
        """Close every clock-second before ``now`` not yet emitted; one snapshot for them all."""
        end = int(_epoch(now))
        with self._lock:
            start = self._closed_until
            if end <= start:
                return None
            merged: Cells = {}
            report_at = None
            for second in sorted(s for s in self._seconds if start <= s < end):
                cells = self._seconds[second]
                fold(merged, cells)
                fold(self._minutes.setdefault(_minute(second), {}), cells)
                fold(self._hours.setdefault(_hour(second), {}), cells)
                report_at = self._report_at.pop(second, report_at)
            # Minutes and hours the clock went through exist even when nothing happened in
            # them: a quiet minute persists as zeros, a stopped server leaves a gap.
            last = _minute(end - 1)
            for minute in range(max(_minute(start), last - 60 * MAX_EMPTY_MINUTES), last + 1, 60):
                self._minutes.setdefault(minute, {})
                self._hours.setdefault(_hour(minute), {})
            self._closed_until = end
            self._trim(end)
            return MetricsSnapshot(
                at=at_epoch(start),
                interval_s=float(end - start),
                total=merge_cells([merged]).counts(),
                providers={
                    name: merge_cells([merged], provider=name).counts()
                    for name in self._names(merged, 0, self.gate.providers)
                },
                tiers={
                    name: merge_cells([merged], tier=name).counts()
                    for name in self._names(merged, 1, self.gate.tiers)
                },
                gate_us=merge_cells([merged]).gate_latency(),
                active_users_5m=self._active(ACTIVE_WINDOW_S, _epoch(now)),
                active_users_today=self._active_today(_epoch(now)),
                health=self._health(now, remember=True),
                last_report_at=report_at,
            )

    @staticmethod
    def _names(cells: Cells, index: int, known: Iterable[str]) -> list[str]:
        return sorted(set(known) | {key[index] for key in cells if key[index]})

    def _trim(self, end: int) -> None:
        boundary = _minute(end - SECOND_RETENTION_S)
        if boundary > self._seconds_from:
            for second in [s for s in self._seconds if s < boundary]:
                del self._seconds[second]
                self._report_at.pop(second, None)
            self._seconds_from = boundary
            horizon = end - MAX_WINDOW_S
            self._last_seen = {pk: at for pk, at in self._last_seen.items() if at >= horizon}
        boundary = _minute(end - MINUTE_RETENTION_S)
        if boundary > self._minutes_from:
            for minute in [m for m in self._minutes if m < boundary]:
                del self._minutes[minute]
            self._minutes_from = boundary
        boundary = _hour(end - HOUR_RETENTION_S)
        if boundary > self._hours_from:
            for hour in [h for h in self._hours if h < boundary]:
                del self._hours[hour]
            self._hours_from = boundary

    # --- rollups for the table ------------------------------------------------------------------

    def take_rollups(self) -> list[Rollup]:
        """Minutes closed since the last call, and the hours they belong to as they stand now
        (an open hour is written again, whole, with each of its minutes)."""
        with self._lock:
            closed = sorted(
                m for m in self._minutes if self._taken_until <= m and m + 60 <= self._closed_until
            )
            if not closed:
                return []
            self._taken_until = closed[-1] + 60
            rollups = [Rollup("1m", m, _copy(self._minutes[m])) for m in closed]
            hours = sorted({_hour(m) for m in closed})
            rollups += [Rollup("1h", h, _copy(self._hours[h])) for h in hours]
        return rollups

    def open_rollups(self) -> list[Rollup]:
        """The open minute and hour with every fact noted so far (a flush on shutdown)."""
        with self._lock:
            minute, hour = _minute(self._closed_until), _hour(self._closed_until)
            open_seconds = [cells for s, cells in self._seconds.items() if s >= self._closed_until]
            minute_cells = _copy(self._minutes.get(minute, {}))
            hour_cells = _copy(self._hours.get(hour, {}))
            for cells in open_seconds:
                fold(minute_cells, cells)
                fold(hour_cells, cells)
        return [Rollup("1m", minute, minute_cells), Rollup("1h", hour, hour_cells)]

    def memory(self, step: str, start: int, end: int) -> tuple[int, dict[int, Cells]]:
        """This process's minutes (``step`` "1m") or hours ("1h") in [start, end), open seconds
        included, and the first one memory holds: the table has the ones before it."""
        size = 60 if step == "1m" else 3600
        with self._lock:
            kept = self._minutes if step == "1m" else self._hours
            since = self._minutes_from if step == "1m" else self._hours_from
            out = {key: _copy(cells) for key, cells in kept.items() if start <= key < end}
            for second, cells in self._seconds.items():
                key = second - second % size
                if second >= self._closed_until and start <= key < end:
                    fold(out.setdefault(key, {}), cells)
        return since, out

    # --- windows over the recent past ------------------------------------------------------------

    def window(
        self,
        *,
        seconds: int,
        now: datetime,
        provider: str | None = None,
        tier: str | None = None,
    ) -> Counts:
        """Counts over the last ``seconds`` (1..3600) up to ``now``.

        Exact to the second for the last six minutes; further back whole minutes are counted.
        """
        if not 0 < seconds <= MAX_WINDOW_S:
            raise ValueError(f"a window is 1 to {MAX_WINDOW_S} seconds, not {seconds}")
        end = _epoch(now)
        with self._lock:
            sources = self._sources(end - seconds, end)
            return merge_cells(sources, provider=provider, tier=tier).counts()

    def recent(self, *, seconds: int, now: datetime) -> tuple[Counts, dict[str, Counts], Latency]:
        """The total, every provider and the gate's decision time over the last ``seconds``,
        from one pass over the cells."""
        if not 0 < seconds <= MAX_WINDOW_S:
            raise ValueError(f"a window is 1 to {MAX_WINDOW_S} seconds, not {seconds}")
        end = _epoch(now)
        with self._lock:
            sources = self._sources(end - seconds, end)
            total = merge_cells(sources)
            names = set(self.gate.providers) | {k[0] for cells in sources for k in cells if k[0]}
            providers = {
                name: merge_cells(sources, provider=name).counts() for name in sorted(names)
            }
        return total.counts(), providers, total.gate_latency()

    def _sources(self, low: float, high: float) -> list[Cells]:
        """The cells that cover [low, high): minute rollups where a whole closed minute fits,
        seconds elsewhere."""
        first, last = int(low), -int(-high // 1) - 1
        sources: list[Cells] = []
        minute = _minute(first)
        while minute <= last:
            whole = minute >= first and minute + 59 <= last
            closed = minute + 60 <= self._closed_until
            if minute < self._seconds_from or (whole and closed):
                cells = self._minutes.get(minute)
                if cells:
                    sources.append(cells)
            else:
                for second in range(max(minute, first), min(minute + 59, last) + 1):
                    cells = self._seconds.get(second)
                    if cells:
                        sources.append(cells)
            minute += 60
        return sources

    def health(self, now: datetime) -> list[ProviderHealth]:
        """Every provider of the gate: healthy, degraded or down, and why."""
        with self._lock:
            return self._health(now)

    def _health(self, now: datetime, *, remember: bool = False) -> list[ProviderHealth]:
        """Each provider's health; the snapshots' assessments (``remember``) are the previous
        state the next ones start from."""
        end = _epoch(now)
        sources = self._sources(end - HEALTH_WINDOW_S, end)
        admitted = merge_cells(sources).admits
        assessed = [
            assess(
                provider,
                merge_cells(sources, provider=name),
                admitted_total=admitted,
                thresholds=self.thresholds,
                now=now,
                previous=self._health_memory.previous(name),
            )
            for name, provider in sorted(self.gate.providers.items())
        ]
        return [self._health_memory.hold(health, remember=remember) for health in assessed]

    def active_users(self, *, seconds: int, now: datetime) -> int:
        """Distinct users with a request in the last ``seconds`` (1..3600)."""
        if not 0 < seconds <= MAX_WINDOW_S:
            raise ValueError(f"a window is 1 to {MAX_WINDOW_S} seconds, not {seconds}")
        with self._lock:
            return self._active(seconds, _epoch(now))

    def active_users_today(self, now: datetime) -> int:
        """Distinct users with a request today (UTC)."""
        with self._lock:
            return self._active_today(_epoch(now))

    def _active(self, seconds: int, end: float) -> int:
        since = end - seconds
        return sum(1 for at in self._last_seen.values() if since <= at <= end)

    def _active_today(self, end: float) -> int:
        return len(self._today) if int(end) // 86400 == self._day else 0
