"""The metrics runtime of a process (`app.state.metrics`): ticks the aggregator once per real
second, tells subscribers (the stream, alerts) about each snapshot and each provider health
change, and persists minute and hour rollups in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from opsconsole.server.clock import Clock, SystemClock
from opsconsole.server.db import Database
from opsconsole.server.gate import windows
from opsconsole.server.gate.models import DecisionRow
from opsconsole.server.gate.service import GateRuntime
from opsconsole.server.metrics import series as names
from opsconsole.server.metrics import store
from opsconsole.server.metrics.aggregator import MetricsAggregator, Rollup, at_epoch
from opsconsole.server.metrics.cells import Cell, merge_cells
from opsconsole.server.metrics.health import HEALTH_WINDOW_S, HealthThresholds
from opsconsole.server.metrics.prometheus import MetricsExporter
from opsconsole.server.settings import Settings
from opsconsole.wire.gate import SwitchName
from opsconsole.wire.metrics import (
    Health,
    MetricsSnapshot,
    Series,
    SeriesPoint,
    SeriesStep,
    Summary,
)
from opsconsole.wire.stream import HealthChange

log = logging.getLogger("opsconsole.metrics")


# Events acknowledged just before a boundary may be committed a few ms after it; they land in
# the next open second either way, this only keeps the common case in the right one.
TICK_GRACE_S = 0.005


class MetricsRuntime:
    def __init__(
        self,
        *,
        db: Database,
        gate: GateRuntime,
        clock: Clock,
        settings: Settings,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.db = db
        self.gate = gate
        self.clock = clock
        self.interval_s = settings.metrics_tick_s
        # New on every start unless set: a restarted process writes rows of its own.
        self.replica = settings.metrics_replica_id or secrets.token_hex(6)
        self.aggregator = MetricsAggregator(
            gate=gate.gate,
            start=clock.now(),
            thresholds=HealthThresholds(
                down_success=settings.health_down_success,
                degraded_success=settings.health_degraded_success,
                p95_ms=settings.health_p95_ms,
                min_reports=settings.health_min_reports,
            ),
        )
        self.exporter = MetricsExporter(registry) if registry is not None else None
        self.last_snapshot: MetricsSnapshot | None = None
        self._snapshot_callbacks: list[Callable[[MetricsSnapshot], None]] = []
        self._health_callbacks: list[Callable[[HealthChange], None]] = []
        self._health: dict[str, Health] = {}
        self._pending: list[Rollup] = []  # closed rollups not written yet
        self._tick_lock = threading.RLock()
        self._write_lock = threading.Lock()

    def load(self) -> None:
        """Users seen today, so active-user counts survive a restart."""
        now = self.clock.now()
        with self.db.reading() as session:
            seen = session.execute(
                select(DecisionRow.user_pk, func.max(DecisionRow.at))
                .where(DecisionRow.at >= windows.day_start(now), DecisionRow.user_pk.is_not(None))
                .group_by(DecisionRow.user_pk)
            )
            self.aggregator.seed_users((pk, at) for pk, at in seen if pk is not None)

    # --- subscribers ----------------------------------------------------------------------------

    def on_snapshot(self, callback: Callable[[MetricsSnapshot], None]) -> None:
        """Call ``callback`` with every snapshot, in the thread that ticks (the event loop)."""
        self._snapshot_callbacks.append(callback)

    def on_health_change(self, callback: Callable[[HealthChange], None]) -> None:
        """Call ``callback`` when a provider turns healthy, degraded or down."""
        self._health_callbacks.append(callback)

    # --- ticking --------------------------------------------------------------------------------

    def tick_once(self, now: datetime | None = None) -> MetricsSnapshot | None:
        """Close the seconds before ``now``, tell the subscribers, and write closed rollups
        (synchronously: tests and threads call this; the loop uses `run_forever`)."""
        snapshot = self.advance(now or self.clock.now())
        self.persist()
        return snapshot

    def advance(self, now: datetime) -> MetricsSnapshot | None:
        """Everything a tick does except writing: cheap enough for the event loop."""
        with self._tick_lock:
            snapshot = self.aggregator.tick(now)
            if snapshot is None:
                return None
            self.last_snapshot = snapshot
            self._pending.extend(self.aggregator.take_rollups())
            changes = self._health_changes(snapshot)
            if self.exporter is not None:
                _, providers, gate_us = self.aggregator.recent(seconds=HEALTH_WINDOW_S, now=now)
                self.exporter.observe(snapshot, providers, gate_us)
        for callback in self._snapshot_callbacks:
            _call(callback, snapshot)
        for change in changes:
            log.info(
                "provider %s: %s -> %s (%s)",
                change.provider,
                change.before,
                change.after,
                change.reason,
            )
            for health_callback in self._health_callbacks:
                _call(health_callback, change)
        return snapshot

    def _health_changes(self, snapshot: MetricsSnapshot) -> list[HealthChange]:
        changes = []
        for health in snapshot.health:
            before = self._health.get(health.name)
            self._health[health.name] = health.status
            # The first assessment is the baseline: snapshots carry it, nothing "changed".
            if before is not None and before is not health.status:
                reason = health.reason or "success rate, latency and breaker are back to normal"
                changes.append(
                    HealthChange(
                        provider=health.name, before=before, after=health.status, reason=reason
                    )
                )
        return changes

    def persist(self) -> None:
        """Write the rollups that closed; on failure keep them for the next round."""
        with self._write_lock:
            with self._tick_lock:
                pending, self._pending = self._pending, []
            if not pending:
                return
            try:
                with self.db.writing() as session:
                    store.write(session, pending, self.replica)
            except Exception:
                log.exception("writing %d metric rollups failed; retrying next tick", len(pending))
                with self._tick_lock:
                    self._pending[:0] = pending

    async def run_forever(self) -> None:
        """Tick once per real second with the app's clock (off when the interval is 0)."""
        if self.interval_s <= 0:
            return
        while True:
            # On real time, wake just after the next second boundary: a snapshot goes out as
            # soon as its second has closed, instead of up to a second later. (A faster demo
            # clock closes many seconds per tick anyway.)
            phase = 0.0
            if isinstance(self.clock, SystemClock):
                phase = self.clock.now().timestamp() % self.interval_s
            await asyncio.sleep(self.interval_s - phase + TICK_GRACE_S)
            try:
                self.advance(self.clock.now())
                if self._pending:
                    await asyncio.to_thread(self.persist)
            except Exception:  # keep ticking: a bad second must not stop the stream
                log.exception("metrics tick failed")

    def flush(self) -> None:
        """Close what has passed and write the open minute and hour too (shutdown)."""
        self.advance(self.clock.now())
        with self._tick_lock:
            self._pending.extend(self.aggregator.open_rollups())
        self.persist()

    def close(self) -> None:
        self.flush()

    # --- queries --------------------------------------------------------------------------------

    def series(
        self,
        *,
        metric: str,
        step: SeriesStep,
        start: datetime,
        end: datetime,
        provider: str | None = None,
        tier: str | None = None,
    ) -> Series:
        """One metric per step from the rollup table and, for the recent past, from memory."""
        names.check_metric(metric)
        if provider is not None and tier is not None:
            raise names.SeriesError("give `provider` or `tier`, not both")
        starts = names.point_starts(step, start, end)
        size = names.STEP_SECONDS[step]
        level = "1m" if step is SeriesStep.MINUTE else "1h"
        first, stop = int(starts[0].timestamp()), int(starts[-1].timestamp()) + size
        since, memory = self.aggregator.memory(level, first, stop)
        cells: dict[int, Cell] = {}
        for key, found in memory.items():
            _add(cells, key - key % size, merge_cells([found], provider=provider, tier=tier))
        with self.db.reading() as session:
            rows = store.read(
                session,
                step=level,
                start=starts[0],
                end=at_epoch(stop),
                provider=provider,
                tier=tier,
                replica=self.replica,
                memory_from=at_epoch(since),
            )
            if provider is not None or tier is not None:
                for at in store.running(session, step=level, start=starts[0], end=at_epoch(stop)):
                    key = int(at.timestamp())
                    cells.setdefault(key - key % size, Cell())
            users = (
                store.active_users(
                    session,
                    dialect=self.db.dialect,
                    bucket_s=size,
                    start=starts[0],
                    end=at_epoch(stop),
                    provider=provider,
                    tier=tier,
                )
                if metric == names.ACTIVE_USERS
                else {}
            )
        for at, cell in rows:
            key = int(at.timestamp())
            _add(cells, key - key % size, cell)
        points = []
        for point in starts:
            key = int(point.timestamp())
            point_cell = cells.get(key)
            if metric == names.ACTIVE_USERS:
                value = float(users[key]) if key in users else (0.0 if point_cell else None)
            else:
                value = names.value(metric, point_cell) if point_cell is not None else None
            points.append(SeriesPoint(at=point, value=value))
        return Series(metric=metric, step=step, provider=provider, tier=tier, points=points)

    def spend_by_provider(self, *, start: datetime, end: datetime) -> dict[str, float]:
        """Cost per provider in [start, end), every replica, to the minute."""
        first, stop = int(start.timestamp()), int(end.timestamp())
        first -= first % 60
        since, memory = self.aggregator.memory("1m", first, stop)
        with self.db.reading() as session:
            spend = store.spend_by_provider(
                session,
                start=at_epoch(first),
                end=end,
                replica=self.replica,
                memory_from=at_epoch(since),
            )
        for cells in memory.values():
            for (provider, _), cell in cells.items():
                if provider:
                    spend[provider] = spend.get(provider, 0.0) + cell.cost
        return spend

    def summary(self, now: datetime | None = None) -> Summary:
        now = now or self.clock.now()
        aggregator = self.aggregator
        recent = aggregator.window(seconds=HEALTH_WINDOW_S, now=now)
        last_minute = aggregator.window(seconds=60, now=now)
        failures = recent.errors + recent.timeouts
        cost_hour = self.spend_by_provider(start=now - timedelta(hours=1), end=now)
        spend = self.spend_by_provider(start=now - timedelta(hours=24), end=now)
        return Summary(
            at=now,
            active_users_now=aggregator.active_users(seconds=HEALTH_WINDOW_S, now=now),
            active_users_today=aggregator.active_users_today(now),
            requests_per_s=last_minute.requests / 60,
            cost_per_hour=sum(cost_hour.values()),
            cost_today=self.gate.gate.counters.global_spend(now)[0],
            daily_target=self.daily_target(now),
            p95_latency_ms=recent.latency_ms.p95,
            error_rate=failures / recent.reports if recent.reports else None,
            spend_by_provider_24h={
                name: spend.get(name, 0.0)
                for name in sorted(set(spend) | set(self.gate.gate.providers))
            },
            health=aggregator.health(now),
        )

    def daily_target(self, now: datetime) -> float:
        """The day's spend cap in force: the `global_budget_cap` switch, else the setting."""
        gate = self.gate.gate
        switch = gate.switches[SwitchName.GLOBAL_BUDGET_CAP]
        return float(switch.value) if switch.active(now) else gate.config.global_day_cap


def _add(cells: dict[int, Cell], key: int, cell: Cell) -> None:
    target = cells.get(key)
    if target is None:
        target = cells[key] = Cell()
    target.merge(cell)


def _call(callback: Callable[[object], None] | Callable[..., None], item: object) -> None:
    try:
        callback(item)
    except Exception:  # one broken subscriber must not starve the others
        log.exception("metrics subscriber %r failed", callback)
