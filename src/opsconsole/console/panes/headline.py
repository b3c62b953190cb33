"""The headline tiles: active users, requests/s, cost per hour and today vs target, p95 latency,
error rate and the switches in force.

The summary endpoint gives the starting figures (and the day's target); from then on the
per-second snapshots keep the tiles live over rolling windows of the server's time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from opsconsole.console.panes.base import Pane, ServerClock, log, spawn
from opsconsole.console.qt import QGridLayout, QSizePolicy, QTimer, QWidget
from opsconsole.console.widgets.confirm import SWITCH_TITLES
from opsconsole.console.widgets.tiles import Tile, TileState
from opsconsole.wire.gate import SwitchPublic

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.wire.metrics import MetricsSnapshot, Summary
    from opsconsole.wire.stream import SwitchChange

REQUESTS_WINDOW_S = 60.0  # as the summary's requests/s
ERRORS_WINDOW_S = 300.0  # as the summary's error rate
COST_WINDOW_S = 3600.0  # as the summary's cost per hour
SUMMARY_REFRESH_MS = 30_000  # the day's target and the 5-minute p95 come from the summary
ERROR_RATE_WARNING = 0.02
ERROR_RATE_BAD = 0.05  # the default error-rate alert
LATENCY_WARNING_MS = 2_000.0
LATENCY_BAD_MS = 5_000.0  # the default p95 alert


@dataclass(frozen=True)
class _Second:
    at: datetime
    interval_s: float
    requests: int
    reports: int
    failures: int
    cost: float


def _money(value: float) -> str:
    return f"${value:,.2f}" if value < 1000 else f"${value:,.0f}"


class HeadlinePane(Pane):
    """Six tiles in a row (they wrap into two rows when the dock is narrow)."""

    title = "Headline"
    name = "headline"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.active_users = Tile("Active users (5 min)", object_name="tile_active_users")
        self.requests = Tile("Requests/s", object_name="tile_requests")
        self.cost = Tile("Cost per hour", object_name="tile_cost")
        self.latency = Tile("p95 latency (5 min)", object_name="tile_latency")
        self.errors = Tile("Error rate (5 min)", object_name="tile_errors")
        self.switches = Tile("Switches in force", object_name="tile_switches")
        self.tiles = [
            self.active_users,
            self.requests,
            self.cost,
            self.latency,
            self.errors,
            self.switches,
        ]
        # The tiles take the height they need; the charts get the rest.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 4, 4, 4)
        self._grid.setSpacing(6)
        self._columns = 0
        self._layout_tiles(len(self.tiles))

        self._summary: Summary | None = None
        self._seconds: deque[_Second] = deque()
        self._cost_today = 0.0
        self._day: datetime | None = None
        self._switches: dict[str, SwitchPublic] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(SUMMARY_REFRESH_MS)
        self._timer.timeout.connect(lambda: spawn(self._refresh_summary()))
        self._timer.start()
        connection.snapshot_received.connect(self._on_connection_snapshot_received)
        connection.switch_changed.connect(self._on_connection_switch_changed)

    async def load(self) -> None:
        summary = await self.connection.summary()
        controls = await self.connection.controls()
        self.show_summary(summary)
        self._switches = {s.name.value: s for s in controls}
        self._show_switches()

    def show_summary(self, summary: Summary) -> None:
        self._summary = summary
        self._cost_today = summary.cost_today
        self._day = summary.at
        self.active_users.set(
            f"{summary.active_users_now:,}", f"{summary.active_users_today:,} today"
        )
        self.requests.set(f"{summary.requests_per_s:,.1f}", "over the last minute")
        self._show_cost(summary.cost_per_hour)
        self._show_latency(summary.p95_latency_ms)
        self._show_errors(summary.error_rate, "")

    # --- private ----------------------------------------------------------------------------

    def _layout_tiles(self, columns: int) -> None:
        if columns == self._columns:
            return
        self._columns = columns
        for i, tile in enumerate(self.tiles):
            self._grid.addWidget(tile, i // columns, i % columns)

    def _show_cost(self, per_hour: float) -> None:
        target = self._summary.daily_target if self._summary else 0.0
        today = self._cost_today
        if target > 0:
            share = today / target
            detail = f"today {_money(today)} of {_money(target)} target ({share:.0%})"
            state = (
                TileState.BAD if share >= 1 else TileState.WARNING if share >= 0.8 else TileState.OK
            )
        else:
            detail, state = f"today {_money(today)}", TileState.NEUTRAL
        self.cost.set(_money(per_hour), detail, state)

    def _show_latency(self, p95_ms: float | None, now_ms: float | None = None) -> None:
        if p95_ms is None:
            self.latency.set("—", "no reports in the last 5 minutes")
            return
        state = (
            TileState.BAD
            if p95_ms >= LATENCY_BAD_MS
            else TileState.WARNING
            if p95_ms >= LATENCY_WARNING_MS
            else TileState.OK
        )
        detail = "" if now_ms is None else f"last second: {now_ms:,.0f} ms"
        self.latency.set(f"{p95_ms:,.0f} ms", detail, state)

    def _show_errors(self, rate: float | None, detail: str) -> None:
        if rate is None:
            self.errors.set("—", "no reports in the last 5 minutes")
            return
        state = (
            TileState.BAD
            if rate >= ERROR_RATE_BAD
            else TileState.WARNING
            if rate >= ERROR_RATE_WARNING
            else TileState.OK
        )
        self.errors.set(f"{rate:.2%}", detail, state)

    def _show_switches(self) -> None:
        active = [s for s in self._switches.values() if s.active]
        if not active:
            self.switches.set("0", "none: normal operation", TileState.OK)
            return
        names = ", ".join(SWITCH_TITLES[s.name] for s in active)
        self.switches.set(str(len(active)), names, TileState.BAD)

    def _window(self, seconds: float, newest: datetime) -> list[_Second]:
        start = newest - timedelta(seconds=seconds)
        return [s for s in self._seconds if s.at >= start]

    def _on_connection_snapshot_received(self, snapshot: MetricsSnapshot) -> None:
        total = snapshot.total
        second = _Second(
            at=snapshot.at,
            interval_s=snapshot.interval_s,
            requests=total.requests,
            reports=total.reports,
            failures=total.errors + total.timeouts,
            cost=total.cost,
        )
        self._seconds.append(second)
        while self._seconds and self._seconds[0].at < snapshot.at - timedelta(
            seconds=COST_WINDOW_S
        ):
            self._seconds.popleft()
        if self._day is not None and snapshot.at.date() != self._day.date():
            self._cost_today = 0.0  # a new (UTC) day: the spend counts from zero again
        self._day = snapshot.at
        self._cost_today += total.cost

        self.active_users.set(
            f"{snapshot.active_users_5m:,}", f"{snapshot.active_users_today:,} today"
        )
        minute = self._window(REQUESTS_WINDOW_S, snapshot.at)
        span = sum(s.interval_s for s in minute) or 1.0
        denied = total.requests - total.admits
        self.requests.set(
            f"{sum(s.requests for s in minute) / span:,.1f}",
            f"last second: {total.requests:,} ({denied:,} denied)",
        )
        hour = list(self._seconds)
        hour_span = sum(s.interval_s for s in hour) or 1.0
        self._show_cost(sum(s.cost for s in hour) * 3600.0 / hour_span)
        five = self._window(ERRORS_WINDOW_S, snapshot.at)
        reports = sum(s.reports for s in five)
        failures = sum(s.failures for s in five)
        self._show_errors(
            failures / reports if reports else None, f"{failures:,} of {reports:,} reports"
        )
        p95 = self._summary.p95_latency_ms if self._summary else total.latency_ms.p95
        self._show_latency(p95, total.latency_ms.p95)

    def _on_connection_switch_changed(self, change: SwitchChange) -> None:
        self._switches[change.switch.name.value] = change.switch
        self._show_switches()

    async def _refresh_summary(self) -> None:
        if not self.connection.online or not self.isVisible():
            return
        try:
            summary = await self.connection.summary()
        except Exception as exc:
            log.warning("summary refresh failed: %s", exc)
            return
        # Keep the live cost-today (it includes seconds newer than the summary).
        cost_today = max(self._cost_today, summary.cost_today)
        self._summary = summary
        self._cost_today = cost_today

    # --- Qt overrides -----------------------------------------------------------------------

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        # Six tiles in a row when there is room, else three per row.
        self._layout_tiles(6 if self.width() >= 6 * 170 else 3)
        super().resizeEvent(event)  # type: ignore[arg-type]
