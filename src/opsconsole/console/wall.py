"""The wall display (`opsconsole console --wall`): a full-screen, control-free view for a TV.

Pages rotate every few seconds: the headline figures (cost today against the day's budget
among them), trends of cost, latency and error rate, provider health, and the alerts firing.
Type is sized from the screen. Nothing personal is shown: no user ids, emails or names, and
no operator names (alerts are described from their kind and provider, never from their
summary, which can name a user). When the data stops arriving a stale banner says since
when. Everything it keeps is bounded (fixed rings and capped maps), so it runs for days.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from opsconsole.console import themes
from opsconsole.console.connection import ConnectionState, ConnectionStatus
from opsconsole.console.panes.base import spawn
from opsconsole.console.qt import (
    QCloseEvent,
    QFont,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QShortcut,
    QSizePolicy,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from opsconsole.console.widgets.charts import TimeChart
from opsconsole.console.widgets.confirm import SWITCH_TITLES
from opsconsole.wire.alerts import Alert, AlertState, RuleKind, Severity
from opsconsole.wire.common import Role
from opsconsole.wire.metrics import Health, ProviderHealth, SeriesStep

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.wire.metrics import MetricsSnapshot, Summary
    from opsconsole.wire.stream import HealthChange, SwitchChange

log = logging.getLogger("opsconsole.console.wall")

PAGES = ("Now", "Trends", "Providers", "Alerts")
STALE_AFTER_S = 15.0  # snapshots come every second: 15 s without one is not a hiccup
SUMMARY_REFRESH_MS = 60_000
TREND_HOURS = 6
TREND_POINTS = 24 * 60  # ring capacity in minutes: fixed, whatever the uptime
SECONDS_KEPT = 3600  # per-second figures for the rolling windows (at most an hour's worth)
MAX_ALERTS = 200  # firing alerts kept; the page shows the most severe that fit
ALERTS_SHOWN = 8
MAX_PROVIDERS = 24
ERROR_RATE_BAD, ERROR_RATE_WARNING = 0.05, 0.02
LATENCY_BAD_MS, LATENCY_WARNING_MS = 5_000.0, 2_000.0

OK, WARNING, BAD, NEUTRAL = "#2ea043", "#d29922", "#f85149", "#8b949e"
HEALTH_COLOURS = {Health.HEALTHY: OK, Health.DEGRADED: WARNING, Health.DOWN: BAD}
SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
# What each alert kind is about, in words that name no one.
KIND_TEXT = {
    RuleKind.COST_SPIKE: "Cost spike",
    RuleKind.ERROR_RATE: "Error rate high",
    RuleKind.LATENCY_P95: "Latency (p95) high",
    RuleKind.PROVIDER_DOWN: "Provider down",
    RuleKind.GLOBAL_BUDGET: "Global budget nearly spent",
    RuleKind.ACTIVE_USERS_DROP: "Active users dropped",
    RuleKind.SLA_BREACH: "Tickets past their SLA deadline",
    RuleKind.HEAVY_USER: "A user's spend today is unusually high",
}
# Kinds whose subject is a provider name or "total" (safe to show); the others name users or
# tickets in their subject.
PROVIDER_SUBJECT = {
    RuleKind.COST_SPIKE,
    RuleKind.ERROR_RATE,
    RuleKind.LATENCY_P95,
    RuleKind.PROVIDER_DOWN,
}


def alert_text(alert: Alert) -> str:
    """One line about ``alert`` that names no user, ticket or operator."""
    what = KIND_TEXT.get(alert.kind, "Alert")
    where = ""
    if alert.kind in PROVIDER_SUBJECT:
        where = " · all providers" if alert.subject == "total" else f" · {alert.subject}"
    since = alert.firing_since or alert.pending_since
    return f"{alert.severity.value.upper()}  {what}{where}  · since {since.astimezone():%H:%M}"


def money(value: float) -> str:
    return f"${value:,.2f}" if value < 1000 else f"${value:,.0f}"


def _label(text: str, role: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setProperty("wall", role)  # the style sheet sizes type by role
    if name:
        label.setObjectName(name)
    return label


class Figure(QFrame):
    """A caption, a big value and a detail line, its value coloured by state."""

    def __init__(self, caption: str, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setProperty("wall", "card")
        self.caption = _label(caption, "caption")
        self.value = _label("—", "value")
        self.detail = _label("", "detail")
        self.detail.setWordWrap(True)
        self.colour = ""
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set(self, value: str, detail: str = "", colour: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)
        if colour != self.colour:  # a style sheet change re-polishes: only when it changes
            self.colour = colour
            self.value.setStyleSheet(f"color: {colour};" if colour else "")


class BudgetBar(QWidget):
    """Cost today against the day's budget, as a wide bar with the figures on it."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("wallBudget")
        self.caption = _label("Cost today vs budget", "caption")
        self.text = _label("—", "budget", "wallBudgetText")
        self.track = QFrame()
        self.track.setProperty("wall", "track")
        self.fill = QFrame(self.track)
        self.fill.setProperty("wall", "fill")
        self.track.setMinimumHeight(24)
        self.share = 0.0
        self.colour = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.caption)
        row.addStretch(1)
        row.addWidget(self.text)
        layout.addLayout(row)
        layout.addWidget(self.track)

    def set(self, spent: float, budget: float) -> None:
        if budget > 0:
            self.share = spent / budget
            self.text.setText(f"{money(spent)} of {money(budget)}  ({self.share:.0%})")
        else:
            self.share = 0.0
            self.text.setText(f"{money(spent)} (no budget set)")
        colour = BAD if self.share >= 1 else WARNING if self.share >= 0.8 else OK
        if colour != self.colour:
            self.colour = colour
            self.fill.setStyleSheet(f"background: {colour}; border-radius: 4px;")
        self._resize_fill()

    def _resize_fill(self) -> None:
        width = int(self.track.width() * min(max(self.share, 0.0), 1.0))
        self.fill.setGeometry(0, 0, width, self.track.height())

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._resize_fill()


@dataclass
class _Second:
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
        self.items: deque[_Second] = deque()
        self.cap = cap
        self.interval_s = 0.0
        self.requests = 0
        self.reports = 0
        self.failures = 0
        self.cost = 0.0

    def add(self, second: _Second) -> None:
        self.items.append(second)
        self._count(second, 1)
        while self.items and (
            len(self.items) > self.cap or self.items[0].at < second.at - self.span
        ):
            self._count(self.items.popleft(), -1)

    def _count(self, s: _Second, sign: int) -> None:
        self.interval_s += sign * s.interval_s
        self.requests += sign * s.requests
        self.reports += sign * s.reports
        self.failures += sign * s.failures
        self.cost += sign * s.cost


@dataclass
class _Minute:
    start: float
    cost: float = 0.0
    seconds: float = 0.0
    reports: int = 0
    failures: int = 0
    p95_sum: float = 0.0
    p95_weight: float = 0.0


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
        self._minute: _Minute | None = None
        self._health: dict[str, ProviderHealth] = {}
        self._alerts: dict[int, Alert] = {}
        self._switches: dict[str, bool] = {}
        self._switch_titles = {name.value: title for name, title in SWITCH_TITLES.items()}
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
        self.title = _label(f"opsconsole · {self.connection.profile.name.upper()}", "header")
        self.role = _label("", "header", "wallRole")
        self.clock = _label("", "header", "wallClock")
        self.page_dots = [_label(name, "header") for name in PAGES]
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

        self.stale_banner = _label("", "stale", "wallStale")
        self.stale_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stale_banner.hide()

        self.pages = QStackedWidget()
        self.pages.addWidget(self._build_now())
        self.pages.addWidget(self._build_trends())
        self.pages.addWidget(self._build_providers())
        self.pages.addWidget(self._build_alerts())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addLayout(header)
        layout.addWidget(self.stale_banner)
        layout.addWidget(self.pages, 1)
        self.show_page(0)
        self._restyle()

    def _build_now(self) -> QWidget:
        page = QWidget()
        page.setObjectName("wallNow")
        self.requests = Figure("Requests per second", "wallRequests")
        self.users = Figure("Active users (5 min)", "wallUsers")
        self.cost = Figure("Cost per hour", "wallCost")
        self.latency = Figure("p95 latency (5 min)", "wallLatency")
        self.errors = Figure("Error rate (5 min)", "wallErrors")
        self.switches = Figure("Emergency switches", "wallSwitches")
        self.budget = BudgetBar()
        grid = QGridLayout()
        grid.setSpacing(16)
        for i, figure in enumerate(
            (self.requests, self.users, self.cost, self.latency, self.errors, self.switches)
        ):
            grid.addWidget(figure, i // 3, i % 3)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.budget)
        layout.addSpacing(12)
        layout.addLayout(grid, 1)
        return page

    def _build_trends(self) -> QWidget:
        page = QWidget()
        page.setObjectName("wallTrends")
        points = TREND_POINTS
        self.charts = {
            "cost": TimeChart("Cost per hour", unit=lambda v: f"${v:,.2f}/h", capacity=points),
            "latency": TimeChart("p95 latency", unit=lambda v: f"{v:,.0f} ms", capacity=points),
            "errors": TimeChart("Error rate", unit=lambda v: f"{v:.2f}%", capacity=points),
        }
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        for key, chart in self.charts.items():
            chart.setObjectName(f"wallChart_{key}")
            chart.set_window(TREND_HOURS * 3600.0)
            chart.curve(key, color="#58a6ff")
            chart.plot.getPlotItem().legend.hide()
            chart.readout.setProperty("wall", "caption")
            themes.style_chart(chart.plot, dark=True)
            chart.plot.setProperty(themes.FIXED_THEME, True)
            layout.addWidget(chart, 1)
        return page

    def _build_providers(self) -> QWidget:
        page = QWidget()
        page.setObjectName("wallProviders")
        self.provider_grid = QGridLayout(page)
        self.provider_grid.setSpacing(16)
        self.provider_cards: list[Figure] = []
        self.providers_empty = _label("No provider reports yet", "detail")
        self.provider_grid.addWidget(self.providers_empty, 0, 0)
        return page

    def _build_alerts(self) -> QWidget:
        page = QWidget()
        page.setObjectName("wallAlerts")
        self.alerts_title = _label("Alerts firing", "caption")
        self.alert_lines = [_label("", "alert", f"wallAlert{i}") for i in range(ALERTS_SHOWN)]
        self.alerts_more = _label("", "detail")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.alerts_title)
        for line in self.alert_lines:
            layout.addWidget(line)
        layout.addWidget(self.alerts_more)
        layout.addStretch(1)
        self._show_alerts()
        return page

    def _restyle(self) -> None:
        """Type scaled to the window (the screen, full screen): readable across a room."""
        unit = max(10, min(self.width() // 60, self.height() // 34))
        self.setStyleSheet(
            f"""
            QWidget#wall {{ background: #0d1117; }}
            QWidget {{ color: #e6edf3; }}
            QLabel[wall="header"] {{ font-size: {unit}px; color: #9198a1; }}
            QLabel#wallRole {{ font-size: {unit}px; }}
            QLabel[wall="caption"] {{ font-size: {int(unit * 1.2)}px; color: #9198a1; }}
            QLabel[wall="value"] {{ font-size: {unit * 3}px; font-weight: bold; }}
            QLabel[wall="budget"] {{ font-size: {unit * 2}px; font-weight: bold; }}
            QLabel[wall="detail"] {{ font-size: {unit}px; color: #c9d1d9; }}
            QLabel[wall="alert"] {{ font-size: {int(unit * 1.4)}px; }}
            QLabel[wall="stale"] {{ font-size: {int(unit * 1.5)}px; font-weight: bold;
                background: #8b1a1a; color: #ffffff; padding: 8px; border-radius: 6px; }}
            QFrame[wall="card"] {{ background: #161b22; border: 1px solid #30363d;
                border-radius: 10px; }}
            QFrame[wall="track"] {{ background: #21262d; border-radius: 4px; }}
            """
        )
        self.budget.track.setMinimumHeight(max(24, unit))
        font = QFont()
        font.setPixelSize(max(10, int(unit * 0.8)))
        for chart in getattr(self, "charts", {}).values():
            item = chart.plot.getPlotItem()
            for axis in ("left", "bottom"):
                item.getAxis(axis).setStyle(tickFont=font)

    # --- loading ----------------------------------------------------------------------------

    async def _load_summary(self) -> None:
        summary = await self.connection.summary()
        self._summary = summary
        self._cost_today = max(self._cost_today, summary.cost_today)
        self._day = self._day or summary.at
        self.users.set(f"{summary.active_users_now:,}", f"{summary.active_users_today:,} today")
        self.requests.set(f"{summary.requests_per_s:,.1f}", "over the last minute")
        self._show_cost(summary.cost_per_hour)
        self._show_latency(summary.p95_latency_ms)
        self._show_errors(summary.error_rate, "")
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
        self._show_alerts()

    async def _load_switches(self) -> None:
        self._switches = {s.name.value: s.active for s in await self.connection.controls()}
        self._show_switches()

    async def _load_trends(self) -> None:
        end = datetime.now(UTC) if self.last_data_at is None else self.last_data_at
        start = end - timedelta(hours=TREND_HOURS)
        wanted = {"cost": ("cost", 60.0), "latency": ("latency_p95", 1.0)}
        for key, (metric, scale) in wanted.items():
            series = await self.connection.series(metric, SeriesStep.MINUTE, start, end)
            ring = self.charts[key].series(key)
            ring.clear()
            for point in series.points:
                value = None if point.value is None else point.value * scale
                ring.append(point.at.timestamp(), value)
        errors = await self.connection.series("error_rate", SeriesStep.MINUTE, start, end)
        ring = self.charts["errors"].series("errors")
        ring.clear()
        for point in errors.points:
            ring.append(point.at.timestamp(), None if point.value is None else point.value * 100)
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
        self.cost.set(money(per_hour), f"today {money(self._cost_today)}")
        self.budget.set(self._cost_today, target)

    def _show_latency(self, p95_ms: float | None) -> None:
        if p95_ms is None:
            self.latency.set("—", "no reports in the last 5 minutes")
            return
        colour = (
            BAD if p95_ms >= LATENCY_BAD_MS else WARNING if p95_ms >= LATENCY_WARNING_MS else OK
        )
        self.latency.set(f"{p95_ms:,.0f} ms", "", colour)

    def _show_errors(self, rate: float | None, detail: str) -> None:
        if rate is None:
            self.errors.set("—", "no reports in the last 5 minutes")
            return
        colour = BAD if rate >= ERROR_RATE_BAD else WARNING if rate >= ERROR_RATE_WARNING else OK
        self.errors.set(f"{rate:.2%}", detail, colour)

    def _show_switches(self) -> None:
        active = [self._switch_titles.get(n, n) for n, on in self._switches.items() if on]
        if active:
            self.switches.set(str(len(active)), ", ".join(active), BAD)
        else:
            self.switches.set("0", "normal operation", OK)

    def _set_health(self, health: list[ProviderHealth]) -> None:
        for item in health:
            if item.name in self._health or len(self._health) < MAX_PROVIDERS:
                self._health[item.name] = item
        self._show_providers()

    def _show_providers(self) -> None:
        names = sorted(self._health)
        while len(self.provider_cards) < len(names):
            card = Figure("", f"wallProvider{len(self.provider_cards)}")
            self.provider_cards.append(card)
            i = len(self.provider_cards) - 1
            self.provider_grid.addWidget(card, i // 3, i % 3)
        self.providers_empty.setVisible(not names)
        for card, name in zip(self.provider_cards, names, strict=False):
            item = self._health[name]
            parts = []
            if item.p95_ms is not None:
                parts.append(f"p95 {item.p95_ms:,.0f} ms")
            if item.success_rate is not None:
                parts.append(f"success {item.success_rate:.1%}")
            parts.append(f"share {item.share:.0%}")
            card.caption.setText(name)
            card.set(item.status.value.upper(), " · ".join(parts), HEALTH_COLOURS[item.status])

    def _show_alerts(self) -> None:
        ordered = sorted(
            self._alerts.values(),
            key=lambda a: (SEVERITY_ORDER.get(a.severity, 3), a.firing_since or a.pending_since),
        )
        self.alerts_title.setText(
            f"Alerts firing: {len(ordered)}" if ordered else "No alerts firing"
        )
        for i, line in enumerate(self.alert_lines):
            if i >= len(ordered):
                line.setText("")
                line.hide()
                continue
            alert = ordered[i]
            colour = BAD if alert.severity is Severity.CRITICAL else WARNING
            line.setText(alert_text(alert))
            line.setStyleSheet(f"color: {colour};" if alert.severity != Severity.INFO else "")
            line.show()
        hidden = len(ordered) - ALERTS_SHOWN
        self.alerts_more.setText(f"and {hidden} more" if hidden > 0 else "")

    def _refresh_charts(self) -> None:
        if self.pages.currentIndex() == 1:
            for chart in self.charts.values():
                chart.refresh()

    def _fold_minute(self, snapshot: MetricsSnapshot) -> None:
        """Add the snapshot to its minute; a new minute appends a point to each trend."""
        total = snapshot.total
        start = float(int(snapshot.at.timestamp()) // 60 * 60)
        minute = self._minute
        if minute is None or minute.start != start:
            minute = self._minute = _Minute(start)
            for key in self.charts:
                self.charts[key].series(key).append(start, None)
        minute.cost += total.cost
        minute.seconds += snapshot.interval_s
        minute.reports += total.reports
        minute.failures += total.errors + total.timeouts
        if total.latency_ms.p95 is not None and total.reports:
            minute.p95_sum += total.latency_ms.p95 * total.reports
            minute.p95_weight += total.reports
        per_hour = minute.cost * 3600.0 / minute.seconds if minute.seconds else None
        p95 = minute.p95_sum / minute.p95_weight if minute.p95_weight else None
        errors = 100.0 * minute.failures / minute.reports if minute.reports else None
        for key, value in (("cost", per_hour), ("latency", p95), ("errors", errors)):
            self.charts[key].series(key).set_last(value)

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
        second = _Second(
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
        self.requests.set(
            f"{minute.requests / (minute.interval_s or 1.0):,.1f}",
            f"latest update: {total.admits:,} admitted, {total.requests - total.admits:,} denied",
        )
        self.users.set(f"{snapshot.active_users_5m:,}", f"{snapshot.active_users_today:,} today")
        hour = self._hour
        self._show_cost(hour.cost * 3600.0 / (hour.interval_s or 1.0))
        five = self._five_minutes
        self._show_errors(
            five.failures / five.reports if five.reports else None,
            f"{five.failures:,} of {five.reports:,} reports",
        )
        p95 = self._summary.p95_latency_ms if self._summary else total.latency_ms.p95
        self._show_latency(p95)
        if snapshot.health:
            self._set_health(snapshot.health)
        self._fold_minute(snapshot)
        if self.stale:
            self._update_stale()

    def _on_connection_health_changed(self, change: HealthChange) -> None:
        known = self._health.get(change.provider)
        if known is not None:
            self._health[change.provider] = known.model_copy(
                update={"status": change.after, "reason": change.reason}
            )
            self._show_providers()

    def _on_connection_alert_received(self, alert: Alert) -> None:
        if alert.state is AlertState.FIRING:
            self._alerts[alert.id] = alert
            if len(self._alerts) > MAX_ALERTS:
                oldest = min(self._alerts.values(), key=lambda a: a.firing_since or a.pending_since)
                del self._alerts[oldest.id]
        else:
            self._alerts.pop(alert.id, None)
        self._show_alerts()

    def _on_connection_switch_changed(self, change: SwitchChange) -> None:
        self._switches[change.switch.name.value] = change.switch.active
        self._show_switches()

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
