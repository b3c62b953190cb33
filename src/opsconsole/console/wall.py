"""The wall display (`opsconsole console --wall`): a full-screen, control-free view for a TV.

Pages rotate every few seconds: the headline figures (cost today against the day's budget
among them), trends of cost, latency and error rate, provider health, and the alerts firing.
Type is sized from the screen. Nothing personal is shown: no user ids, emails or names, and
no operator names (alerts are described from their kind and provider, never from their
summary, which can name a user). When the data stops arriving a stale banner says since
when. Everything it keeps is bounded (fixed rings and capped maps), so it runs for days.

This module is the window: the data it keeps, page rotation and the stale banner. The pages
are in ``wall_pages``, the cards and style sheet in ``wall_tiles``, the running sums in
``wall_rolling``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from opsconsole.console.connection import ConnectionState, ConnectionStatus
from opsconsole.console.panes.base import spawn
from opsconsole.console.qt import (
    QCloseEvent,
    QFont,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QShortcut,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from opsconsole.console.wall_pages import (
    TREND_HOURS,
    AlertsPage,
    NowPage,
    ProvidersPage,
    TrendsPage,
)
from opsconsole.console.wall_rolling import Rolling, Second
from opsconsole.console.wall_tiles import OK, WARNING, style_sheet, wall_label
from opsconsole.wire.alerts import Alert, AlertState
from opsconsole.wire.common import Role
from opsconsole.wire.metrics import ProviderHealth, SeriesStep

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.wire.metrics import MetricsSnapshot, Summary
    from opsconsole.wire.stream import HealthChange, SwitchChange

log = logging.getLogger("opsconsole.console.wall")

PAGES = ("Now", "Trends", "Providers", "Alerts")
STALE_AFTER_S = 15.0  # snapshots come every second: 15 s without one is not a hiccup
SUMMARY_REFRESH_MS = 60_000
MAX_ALERTS = 200  # firing alerts kept; the page shows the most severe that fit
MAX_PROVIDERS = 24


class WallWindow(QWidget):
    """The wall display for one connection (which should be a viewer's).

    Signals:
        page_changed(int): the page now shown.
    """

    page_changed = Signal(int)

    def __init__(
        self,
        connection: Connection,
        *,
        page_s: float = 20.0,
        stale_after_s: float = STALE_AFTER_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.setObjectName("wall")
        self.connection = connection
        self.stale_after_s = stale_after_s
        self._monotonic = monotonic
        self.setWindowTitle(f"opsconsole wall · {connection.profile.name}")
        self.setCursor(Qt.CursorShape.BlankCursor)  # a TV: nothing to point at

        self._summary: Summary | None = None
        self._minute_window = Rolling(60.0)
        self._five_minutes = Rolling(300.0)
        self._hour = Rolling(3600.0)
        self._cost_today = 0.0
        self._day: datetime | None = None
        self._health: dict[str, ProviderHealth] = {}
        self._alerts: dict[int, Alert] = {}
        self._switches: dict[str, bool] = {}
        self.last_data_at: datetime | None = None  # server time of the newest snapshot
        self._last_data_mono: float | None = None
        self.stale = False

        self._build()
        self._rotation = QTimer(self)
        self._rotation.setInterval(int(page_s * 1000))
        self._rotation.timeout.connect(self.next_page)
        self._rotation.start()
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick_timeout)
        self._tick.start()
        self._summary_timer = QTimer(self)
        self._summary_timer.setInterval(SUMMARY_REFRESH_MS)
        self._summary_timer.timeout.connect(lambda: spawn(self._refresh_summary()))
        self._summary_timer.start()
        for keys, slot in (
            ("Right", self.next_page),
            ("Left", self.previous_page),
            ("Ctrl+Q", self.close),
        ):
            QShortcut(QKeySequence(keys), self, slot)

        connection.snapshot_received.connect(self._on_connection_snapshot_received)
        connection.health_changed.connect(self._on_connection_health_changed)
        connection.alert_received.connect(self._on_connection_alert_received)
        connection.switch_changed.connect(self._on_connection_switch_changed)
        connection.status_changed.connect(self._on_connection_status_changed)
        connection.reload_required.connect(self.reload)
        self._was_online = connection.online
        self._show_role()
        self._on_tick_timeout()

    # --- public -----------------------------------------------------------------------------

    @property
    def page(self) -> int:
        return self.pages.currentIndex()

    def show_page(self, index: int) -> None:
        index %= self.pages.count()
        self.pages.setCurrentIndex(index)
        for i, dot in enumerate(self.page_dots):
            dot.setProperty("current", i == index)
            dot.setStyleSheet(
                "color: #e6edf3; font-weight: bold;" if i == index else "color: #6e7681;"
            )
        if index == 1:
            self._refresh_charts()
        self.page_changed.emit(index)

    def next_page(self) -> None:
        self.show_page(self.page + 1)

    def previous_page(self) -> None:
        self.show_page(self.page - 1)

    def set_page_interval(self, seconds: float) -> None:
        self._rotation.setInterval(int(seconds * 1000))

    def reload(self) -> None:
        spawn(self.load())

    async def load(self) -> None:
        """Fetch the figures, health, firing alerts, switches and the trends' history."""
        self._show_role()
        steps: list[tuple[str, Callable[[], object]]] = [
            ("summary", self._load_summary),
            ("health", self._load_health),
            ("alerts", self._load_alerts),
            ("switches", self._load_switches),
            ("trends", self._load_trends),
        ]
        for name, step in steps:
            try:
                await step()  # type: ignore[misc]
            except Exception as exc:
                log.warning("wall: %s not loaded: %s", name, exc)

    def texts(self) -> list[str]:
        """Every text on the wall (labels and the window title), for the privacy check."""
        found = [self.windowTitle()]
        for label in self.findChildren(QLabel):
            found.append(label.text())
            found.append(label.toolTip())
        return [t for t in found if t]

    # --- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = wall_label(f"opsconsole · {self.connection.profile.name.upper()}", "header")
        self.role = wall_label("", "header", "wallRole")
        self.clock = wall_label("", "header", "wallClock")
        self.page_dots = [wall_label(name, "header") for name in PAGES]
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addSpacing(24)
        header.addWidget(self.role)
        header.addStretch(1)
        for dot in self.page_dots:
            header.addSpacing(12)
            header.addWidget(dot)
        header.addSpacing(24)
        header.addWidget(self.clock)

        self.stale_banner = wall_label("", "stale", "wallStale")
        self.stale_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stale_banner.hide()

        self.now_page = NowPage()
        self.trends_page = TrendsPage()
        self.providers_page = ProvidersPage()
        self.alerts_page = AlertsPage()
        self.pages = QStackedWidget()
        for page in (self.now_page, self.trends_page, self.providers_page, self.alerts_page):
            self.pages.addWidget(page)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addLayout(header)
        layout.addWidget(self.stale_banner)
        layout.addWidget(self.pages, 1)
        self.show_page(0)
        self._restyle()

    def _restyle(self) -> None:
        """Type scaled to the window (the screen, full screen): readable across a room."""
        unit = max(10, min(self.width() // 60, self.height() // 34))
        self.setStyleSheet(style_sheet(unit))
        self.now_page.budget.track.setMinimumHeight(max(24, unit))
        font = QFont()
        font.setPixelSize(max(10, int(unit * 0.8)))
        self.trends_page.set_tick_font(font)

    # --- loading ----------------------------------------------------------------------------

    async def _load_summary(self) -> None:
        summary = await self.connection.summary()
        self._summary = summary
        self._cost_today = max(self._cost_today, summary.cost_today)
        self._day = self._day or summary.at
        page = self.now_page
        page.users.set(f"{summary.active_users_now:,}", f"{summary.active_users_today:,} today")
        page.requests.set(f"{summary.requests_per_s:,.1f}", "over the last minute")
        self._show_cost(summary.cost_per_hour)
        page.show_latency(summary.p95_latency_ms)
        page.show_errors(summary.error_rate, "")
        if summary.health:
            self._set_health(summary.health)

    async def _refresh_summary(self) -> None:
        if self.connection.online:
            try:
                await self._load_summary()
            except Exception as exc:
                log.info("wall: summary refresh failed: %s", exc)

    async def _load_health(self) -> None:
        self._set_health(await self.connection.health())

    async def _load_alerts(self) -> None:
        firing = await self.connection.alerts(state=AlertState.FIRING)
        self._alerts = {a.id: a for a in firing[:MAX_ALERTS]}
        self.alerts_page.show_alerts(self._alerts.values())

    async def _load_switches(self) -> None:
        self._switches = {s.name.value: s.active for s in await self.connection.controls()}
        self.now_page.show_switches(self._switches)

    async def _load_trends(self) -> None:
        end = datetime.now(UTC) if self.last_data_at is None else self.last_data_at
        start = end - timedelta(hours=TREND_HOURS)
        wanted = {"cost": ("cost", 60.0), "latency": ("latency_p95", 1.0)}
        for key, (metric, scale) in wanted.items():
            series = await self.connection.series(metric, SeriesStep.MINUTE, start, end)
            self.trends_page.fill(key, series.points, scale)
        errors = await self.connection.series("error_rate", SeriesStep.MINUTE, start, end)
        self.trends_page.fill("errors", errors.points, 100)
        self._refresh_charts()

    # --- showing ----------------------------------------------------------------------------

    def _show_role(self) -> None:
        operator = self.connection.operator
        if operator is None:
            self.role.setText("not signed in")
            self.role.setStyleSheet("")
        elif operator.role is Role.VIEWER:
            self.role.setText("viewer login")
            self.role.setStyleSheet(f"color: {OK};")
        else:
            # Anyone can read a TV: a login that can change things should not sit on one.
            self.role.setText(f"{operator.role.value.upper()} login: use a viewer login")
            self.role.setStyleSheet(f"color: {WARNING}; font-weight: bold;")

    def _show_cost(self, per_hour: float) -> None:
        target = self._summary.daily_target if self._summary else 0.0
        self.now_page.show_cost(per_hour, self._cost_today, target)

    def _set_health(self, health: list[ProviderHealth]) -> None:
        for item in health:
            if item.name in self._health or len(self._health) < MAX_PROVIDERS:
                self._health[item.name] = item
        self.providers_page.show_health(self._health)

    def _refresh_charts(self) -> None:
        if self.pages.currentIndex() == 1:
            self.trends_page.refresh()

    def _update_stale(self) -> None:
        now = self._monotonic()
        quiet = self._last_data_mono is None or now - self._last_data_mono > self.stale_after_s
        offline = self.connection.status.state is not ConnectionState.CONNECTED
        stale = offline or (quiet and self._last_data_mono is not None)
        if stale:
            state = self.connection.status.state
            why = "connection lost" if offline else "no data arriving"
            if state is ConnectionState.SESSION_EXPIRED:
                why = "session expired: sign in again"
            as_of = (
                f"last data {self.last_data_at.astimezone():%H:%M:%S}"
                if self.last_data_at is not None
                else "no data yet"
            )
            ago = (
                f" ({(now - self._last_data_mono) / 60:.0f} min ago)"
                if self._last_data_mono is not None and now - self._last_data_mono >= 60
                else ""
            )
            self.stale_banner.setText(f"DATA STALE: {why}; {as_of}{ago}")
        if stale != self.stale:
            log.info("wall: data %s", "stale" if stale else "live again")
        self.stale = stale
        self.stale_banner.setVisible(stale)

    # --- slots ------------------------------------------------------------------------------

    def _on_tick_timeout(self) -> None:
        self.clock.setText(f"{datetime.now().astimezone():%H:%M}")
        self._update_stale()
        self._refresh_charts()

    def _on_connection_snapshot_received(self, snapshot: MetricsSnapshot) -> None:
        total = snapshot.total
        self.last_data_at = snapshot.at + timedelta(seconds=snapshot.interval_s)
        self._last_data_mono = self._monotonic()
        second = Second(
            snapshot.at,
            snapshot.interval_s,
            total.requests,
            total.reports,
            total.errors + total.timeouts,
            total.cost,
        )
        for window in (self._minute_window, self._five_minutes, self._hour):
            window.add(second)
        if self._day is not None and snapshot.at.date() != self._day.date():
            self._cost_today = 0.0  # a new (UTC) day: spend counts from zero
        self._day = snapshot.at
        self._cost_today += total.cost
        minute = self._minute_window
        page = self.now_page
        page.requests.set(
            f"{minute.requests / (minute.interval_s or 1.0):,.1f}",
            f"latest update: {total.admits:,} admitted, {total.requests - total.admits:,} denied",
        )
        page.users.set(f"{snapshot.active_users_5m:,}", f"{snapshot.active_users_today:,} today")
        hour = self._hour
        self._show_cost(hour.cost * 3600.0 / (hour.interval_s or 1.0))
        five = self._five_minutes
        page.show_errors(
            five.failures / five.reports if five.reports else None,
            f"{five.failures:,} of {five.reports:,} reports",
        )
        p95 = self._summary.p95_latency_ms if self._summary else total.latency_ms.p95
        page.show_latency(p95)
        if snapshot.health:
            self._set_health(snapshot.health)
        self.trends_page.fold(snapshot)
        if self.stale:
            self._update_stale()

    def _on_connection_health_changed(self, change: HealthChange) -> None:
        known = self._health.get(change.provider)
        if known is not None:
            self._health[change.provider] = known.model_copy(
                update={"status": change.after, "reason": change.reason}
            )
            self.providers_page.show_health(self._health)

    def _on_connection_alert_received(self, alert: Alert) -> None:
        if alert.state is AlertState.FIRING:
            self._alerts[alert.id] = alert
            if len(self._alerts) > MAX_ALERTS:
                oldest = min(self._alerts.values(), key=lambda a: a.firing_since or a.pending_since)
                del self._alerts[oldest.id]
        else:
            self._alerts.pop(alert.id, None)
        self.alerts_page.show_alerts(self._alerts.values())

    def _on_connection_switch_changed(self, change: SwitchChange) -> None:
        self._switches[change.switch.name.value] = change.switch.active
        self.now_page.show_switches(self._switches)

    def _on_connection_status_changed(self, status: ConnectionStatus) -> None:
        online = status.state is ConnectionState.CONNECTED
        if online and not self._was_online:
            self.reload()
        self._was_online = online
        self._show_role()
        self._update_stale()

    # --- Qt overrides -----------------------------------------------------------------------

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._restyle()
        super().resizeEvent(event)  # type: ignore[arg-type]

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        for timer in (self._rotation, self._tick, self._summary_timer):
            timer.stop()
        super().closeEvent(event)
