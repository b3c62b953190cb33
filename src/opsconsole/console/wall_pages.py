"""The wall's four pages (Now, Trends, Providers, Alerts): what each lays out and how it shows
the figures it is given, including the wording of alerts that names no one.

Separate from the window, which keeps the data (bounded), rotates the pages and watches for
staleness: a page only draws what it is handed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from opsconsole.console import themes
from opsconsole.console.qt import QFont, QGridLayout, QVBoxLayout, QWidget
from opsconsole.console.wall_rolling import Minute
from opsconsole.console.wall_tiles import BAD, OK, WARNING, BudgetBar, Figure, money, wall_label
from opsconsole.console.widgets.charts import TimeChart
from opsconsole.console.widgets.confirm import SWITCH_TITLES
from opsconsole.wire.alerts import Alert, RuleKind, Severity
from opsconsole.wire.metrics import Health, ProviderHealth

if TYPE_CHECKING:
    from opsconsole.wire.metrics import MetricsSnapshot, SeriesPoint

TREND_HOURS = 6
TREND_POINTS = 24 * 60  # ring capacity in minutes: fixed, whatever the uptime
ALERTS_SHOWN = 8
ERROR_RATE_BAD, ERROR_RATE_WARNING = 0.05, 0.02
LATENCY_BAD_MS, LATENCY_WARNING_MS = 5_000.0, 2_000.0

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


class NowPage(QWidget):
    """The headline figures in a grid under the bar of cost today against the budget."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("wallNow")
        self.requests = Figure("Requests per second", "wallRequests")
        self.users = Figure("Active users (5 min)", "wallUsers")
        self.cost = Figure("Cost per hour", "wallCost")
        self.latency = Figure("p95 latency (5 min)", "wallLatency")
        self.errors = Figure("Error rate (5 min)", "wallErrors")
        self.switches = Figure("Emergency switches", "wallSwitches")
        self.budget = BudgetBar()
        self._switch_titles = {name.value: title for name, title in SWITCH_TITLES.items()}
        grid = QGridLayout()
        grid.setSpacing(16)
        for i, figure in enumerate(
            (self.requests, self.users, self.cost, self.latency, self.errors, self.switches)
        ):
            grid.addWidget(figure, i // 3, i % 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.budget)
        layout.addSpacing(12)
        layout.addLayout(grid, 1)

    def show_cost(self, per_hour: float, today: float, target: float) -> None:
        self.cost.set(money(per_hour), f"today {money(today)}")
        self.budget.set(today, target)

    def show_latency(self, p95_ms: float | None) -> None:
        if p95_ms is None:
            self.latency.set("—", "no reports in the last 5 minutes")
            return
        colour = (
            BAD if p95_ms >= LATENCY_BAD_MS else WARNING if p95_ms >= LATENCY_WARNING_MS else OK
        )
        self.latency.set(f"{p95_ms:,.0f} ms", "", colour)

    def show_errors(self, rate: float | None, detail: str) -> None:
        if rate is None:
            self.errors.set("—", "no reports in the last 5 minutes")
            return
        colour = BAD if rate >= ERROR_RATE_BAD else WARNING if rate >= ERROR_RATE_WARNING else OK
        self.errors.set(f"{rate:.2%}", detail, colour)

    def show_switches(self, switches: dict[str, bool]) -> None:
        """``switches``: whether each switch (by name) is on."""
        active = [self._switch_titles.get(n, n) for n, on in switches.items() if on]
        if active:
            self.switches.set(str(len(active)), ", ".join(active), BAD)
        else:
            self.switches.set("0", "normal operation", OK)


class TrendsPage(QWidget):
    """Cost, latency and error rate over the last hours, one point a minute."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("wallTrends")
        points = TREND_POINTS
        self.charts = {
            "cost": TimeChart("Cost per hour", unit=lambda v: f"${v:,.2f}/h", capacity=points),
            "latency": TimeChart("p95 latency", unit=lambda v: f"{v:,.0f} ms", capacity=points),
            "errors": TimeChart("Error rate", unit=lambda v: f"{v:.2f}%", capacity=points),
        }
        self._minute: Minute | None = None
        layout = QVBoxLayout(self)
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

    def refresh(self) -> None:
        for chart in self.charts.values():
            chart.refresh()

    def fill(self, key: str, points: Sequence[SeriesPoint], scale: float) -> None:
        """Replace trend ``key`` with the server's ``points`` (each value times ``scale``)."""
        ring = self.charts[key].series(key)
        ring.clear()
        for point in points:
            ring.append(point.at.timestamp(), None if point.value is None else point.value * scale)

    def fold(self, snapshot: MetricsSnapshot) -> None:
        """Add the snapshot to its minute; a new minute appends a point to each trend."""
        start = float(int(snapshot.at.timestamp()) // 60 * 60)
        minute = self._minute
        if minute is None or minute.start != start:
            minute = self._minute = Minute(start)
            for key in self.charts:
                self.charts[key].series(key).append(start, None)
        minute.add(snapshot)
        for key, value in minute.points():
            self.charts[key].series(key).set_last(value)

    def set_tick_font(self, font: QFont) -> None:
        for chart in self.charts.values():
            item = chart.plot.getPlotItem()
            for axis in ("left", "bottom"):
                item.getAxis(axis).setStyle(tickFont=font)


class ProvidersPage(QWidget):
    """One card per provider (sorted by name): its health, p95, success rate and share."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("wallProviders")
        self.grid = QGridLayout(self)
        self.grid.setSpacing(16)
        self.cards: list[Figure] = []
        self.empty = wall_label("No provider reports yet", "detail")
        self.grid.addWidget(self.empty, 0, 0)

    def show_health(self, health: dict[str, ProviderHealth]) -> None:
        names = sorted(health)
        while len(self.cards) < len(names):
            card = Figure("", f"wallProvider{len(self.cards)}")
            self.cards.append(card)
            i = len(self.cards) - 1
            self.grid.addWidget(card, i // 3, i % 3)
        self.empty.setVisible(not names)
        for card, name in zip(self.cards, names, strict=False):
            item = health[name]
            parts = []
            if item.p95_ms is not None:
                parts.append(f"p95 {item.p95_ms:,.0f} ms")
            if item.success_rate is not None:
                parts.append(f"success {item.success_rate:.1%}")
            parts.append(f"share {item.share:.0%}")
            card.caption.setText(name)
            card.set(item.status.value.upper(), " · ".join(parts), HEALTH_COLOURS[item.status])


class AlertsPage(QWidget):
    """The alerts firing, most severe and oldest first, as many as fit."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("wallAlerts")
        self.title = wall_label("Alerts firing", "caption")
        self.lines = [wall_label("", "alert", f"wallAlert{i}") for i in range(ALERTS_SHOWN)]
        self.more = wall_label("", "detail")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.title)
        for line in self.lines:
            layout.addWidget(line)
        layout.addWidget(self.more)
        layout.addStretch(1)
        self.show_alerts(())

    def show_alerts(self, alerts: Iterable[Alert]) -> None:
        ordered = sorted(
            alerts,
            key=lambda a: (SEVERITY_ORDER.get(a.severity, 3), a.firing_since or a.pending_since),
        )
        self.title.setText(f"Alerts firing: {len(ordered)}" if ordered else "No alerts firing")
        for i, line in enumerate(self.lines):
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
        self.more.setText(f"and {hidden} more" if hidden > 0 else "")
