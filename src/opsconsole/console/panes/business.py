"""The business view: the month's revenue, AI cost and margin by tier, heavy users, cost by
feature, the cost forecast with its range drawn as a band (and how accurate it has been), and
the server's savings recommendations in words.

Charts where a glance answers the question (which tier loses money, where the cost is heading),
text where the figure itself is the answer.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from opsconsole.console.panes.base import Pane, ServerClock
from opsconsole.console.qt import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStandardItem,
    QStandardItemModel,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.charts import PALETTE  # also sets the light chart style
from opsconsole.console.widgets.tiles import Tile, TileState
from opsconsole.wire.business import BusinessReport, CostForecast, Recommendations

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection

log = logging.getLogger("opsconsole.console.panes.business")

BUSINESS_READ = "business:read"
COST_COLOUR = PALETTE[1]
FORECAST_COLOUR = PALETTE[0]
TIER_COLUMNS = (
    "Tier",
    "Price / month",
    "Paying",
    "Active",
    "Requests",
    "Revenue",
    "AI cost",
    "Margin",
    "Margin %",
    "Cost / active",
)


def money(value: float | None, *, cents: bool = False) -> str:
    """``$1,249``, ``$0.35``, ``-$0.35``: cents below $100 (AI costs are often small)."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    size = abs(value)
    return f"{sign}${size:,.2f}" if cents or size < 100 else f"{sign}${size:,.0f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def midnight(day: date) -> float:
    return datetime.combine(day, time.min, UTC).timestamp()


def accuracy_text(forecast: CostForecast) -> str:
    """How good the forecast has been, in one sentence a manager can weigh."""
    accuracy = forecast.accuracy
    if accuracy is None:
        return "Accuracy not measured yet: " + (forecast.note or "too little history.")
    return (
        f"Tested on this history ({accuracy.origins} forecasts, {accuracy.method}): daily costs "
        f"were off by {accuracy.mape_daily_pct:.1f}% on average, 7-day totals by "
        f"{accuracy.mape_total_pct:.1f}%; {accuracy.coverage:.0%} of 7-day totals fell inside "
        f"their {forecast.interval:.0%} range."
    )


def chart(title: str, *, dates: bool = False) -> pg.PlotWidget:
    axes = {"bottom": pg.DateAxisItem(utcOffset=0)} if dates else {}
    plot = pg.PlotWidget(axisItems=axes, background="w")
    plot.setTitle(title, size="10pt")
    plot.setMinimumHeight(220)
    item = plot.getPlotItem()
    item.showGrid(x=False, y=True, alpha=0.25)
    item.hideButtons()
    item.setMenuEnabled(False)
    item.getViewBox().setMouseEnabled(x=False, y=False)
    return plot


class BusinessPane(Pane):
    """Tiles, charts and words over the three business endpoints."""

    title = "Business"
    name = "business"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.report: BusinessReport | None = None
        self.forecast: CostForecast | None = None
        self.recommendations: Recommendations | None = None
        self.band: pg.FillBetweenItem | None = None

        self.revenue = Tile("Revenue this month", object_name="tileRevenue")
        self.cost = Tile("AI cost this month", object_name="tileAiCost")
        self.margin = Tile("Gross margin", object_name="tileMargin")
        self.month_end = Tile("Month-end AI cost (forecast)", object_name="tileMonthEnd")
        tiles = QHBoxLayout()
        for tile in (self.revenue, self.cost, self.margin, self.month_end):
            tiles.addWidget(tile)

        # Revenue is a month of subscriptions and AI cost cents per request: on one scale the
        # cost would not show. The chart is the cost; each bar says what share of its tier's
        # revenue it eats. The table beside it has both.
        self.tier_chart = chart("AI cost by tier ($), as a share of the tier's revenue")
        self.tier_model = QStandardItemModel(0, len(TIER_COLUMNS), self)
        self.tier_model.setHorizontalHeaderLabels(list(TIER_COLUMNS))
        self.tier_table = QTableView()
        self.tier_table.setObjectName("businessTiers")
        self.tier_table.setModel(self.tier_model)
        self.tier_table.verticalHeader().setVisible(False)
        self.tier_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.tier_table.setMinimumHeight(130)
        self.feature_chart = chart("AI cost by feature ($)")
        self.feature_chart.setMaximumHeight(260)
        self.tier_chart.setMaximumHeight(320)
        self.forecast_chart = chart("AI cost per day: recorded and forecast ($)", dates=True)
        self.forecast_chart.addLegend(offset=(6, 4), labelTextSize="8pt")
        self.forecast_label = self._words("businessForecast")
        self.accuracy_label = self._words("businessAccuracy")
        self.heavy_label = self._words("businessHeavyUsers")
        self.recommendations_label = self._words("businessRecommendations")
        self.status = self._words("businessStatus")

        grid = QGridLayout()
        grid.addWidget(self._box("By tier", self.tier_chart, self.tier_table), 0, 0)
        grid.addWidget(
            self._box("Forecast", self.forecast_chart, self.forecast_label, self.accuracy_label),
            0,
            1,
        )
        grid.addWidget(self._box("Where the cost goes", self.feature_chart, self.heavy_label), 1, 0)
        grid.addWidget(self._box("Recommendations", self.recommendations_label), 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

        content = QWidget()
        column = QVBoxLayout(content)
        column.addLayout(tiles)
        column.addLayout(grid, 1)
        column.addWidget(self.status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    async def load(self) -> None:
        if self.connection.operator is not None and not self.connection.can(BUSINESS_READ):
            self.status.setText(self.connection.why_not(BUSINESS_READ))
            return
        report, forecast, recommendations = await asyncio.gather(
            self.connection.get("/v1/business", BusinessReport),
            self.connection.get("/v1/business/forecast", CostForecast),
            self.connection.get("/v1/business/recommendations", Recommendations),
        )
        self.show_figures(report, forecast, recommendations)

    def show_figures(
        self, report: BusinessReport, forecast: CostForecast, recommendations: Recommendations
    ) -> None:
        self.report, self.forecast, self.recommendations = report, forecast, recommendations
        self._show_tiles(report)
        self._show_tiers(report)
        self._show_features(report)
        self._show_forecast(forecast)
        self._show_recommendations(recommendations)
        state = "complete" if report.complete else f"as of {report.as_of:%d %b %H:%M} UTC"
        self.status.setText(f"{report.month} ({state}); amounts in {report.currency}.")

    # --- private ----------------------------------------------------------------------------

    @staticmethod
    def _words(name: str) -> QLabel:
        label = QLabel("")
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        return label

    @staticmethod
    def _box(title: str, *widgets: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        column = QVBoxLayout(box)
        for widget in widgets:
            column.addWidget(widget)
        return box

    def _show_tiles(self, report: BusinessReport) -> None:
        totals = report.totals
        self.revenue.set(
            money(totals.revenue),
            f"{totals.paying_users:,} paying users, {totals.active_users:,} active",
        )
        self.cost.set(money(totals.ai_cost), f"{totals.requests:,} requests")
        losing = [t.tier for t in report.tiers if t.gross_margin < 0]
        self.margin.set(
            money(totals.gross_margin),
            pct(totals.gross_margin_pct)
            + (f" · losing money: {', '.join(losing)}" if losing else ""),
            TileState.BAD
            if totals.gross_margin < 0
            else TileState.WARNING
            if losing
            else TileState.OK,
        )
        end = report.month_end_cost
        if end is None:
            self.month_end.set("—", "the month is over" if report.complete else "no forecast")
        else:
            self.month_end.set(
                money(end.expected),
                f"range {money(end.low)} to {money(end.high)}; {money(end.recorded)} so far",
            )

    def _show_tiers(self, report: BusinessReport) -> None:
        self.tier_model.removeRows(0, self.tier_model.rowCount())
        for figures in [*report.tiers, report.totals]:
            cells = [
                figures.tier,
                money(figures.price_monthly, cents=True),
                f"{figures.paying_users:,}",
                f"{figures.active_users:,}",
                f"{figures.requests:,}",
                money(figures.revenue),
                money(figures.ai_cost),
                money(figures.gross_margin),
                pct(figures.gross_margin_pct),
                money(figures.cost_per_active_user, cents=True),
            ]
            items = [QStandardItem(text) for text in cells]
            for index, item in enumerate(items):
                item.setEditable(False)
                if index:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
            if figures.gross_margin < 0:
                items[7].setForeground(pg.mkColor("#c62828"))
            self.tier_model.appendRow(items)
        self.tier_table.resizeColumnsToContents()

        plot = self.tier_chart
        plot.clear()
        tiers = report.tiers
        xs = np.arange(len(tiers), dtype=float)
        cost = [t.ai_cost for t in tiers]
        plot.addItem(pg.BarGraphItem(x=xs, height=cost, width=0.6, brush=COST_COLOUR))
        for x, t in zip(xs, tiers, strict=True):
            share = f"{t.ai_cost / t.revenue:.1%} of revenue" if t.revenue > 0 else "no revenue"
            label = pg.TextItem(
                f"{money(t.ai_cost, cents=True)}\n{share}", color="#1f2328", anchor=(0.5, 1.0)
            )
            label.setPos(float(x), t.ai_cost)
            plot.addItem(label)
        plot.getPlotItem().getAxis("bottom").setTicks(
            [[(float(x), t.tier) for x, t in zip(xs, tiers, strict=True)]]
        )
        top = max([*cost, 0.01])
        plot.setYRange(0, top * 1.3, padding=0)
        plot.setXRange(-0.7, len(tiers) - 0.3, padding=0)

    def _show_features(self, report: BusinessReport) -> None:
        plot = self.feature_chart
        plot.clear()
        features = sorted(report.features, key=lambda f: f.cost)
        ys = np.arange(len(features), dtype=float)
        if features:
            plot.addItem(
                pg.BarGraphItem(
                    x0=0, y=ys, height=0.6, width=[f.cost for f in features], brush=COST_COLOUR
                )
            )
            plot.getPlotItem().getAxis("left").setTicks(
                [[(float(y), f.feature) for y, f in zip(ys, features, strict=True)]]
            )
            for y, f in zip(ys, features, strict=True):
                label = pg.TextItem(f" {f.share_of_cost:.0%}", color="#1f2328", anchor=(0, 0.5))
                label.setPos(f.cost, float(y))
                plot.addItem(label)
            plot.setXRange(0, max(f.cost for f in features) * 1.2, padding=0)
        heavy = report.heavy_users
        lines = [
            f"<b>Heavy users</b> (the top {heavy.share_of_users:.0%} by requests): "
            f"{heavy.count:,} users, at least {heavy.min_requests:,} requests each, made "
            f"{heavy.requests:,} requests and {heavy.share_of_cost:.0%} of the AI cost "
            f"({money(heavy.cost)})."
        ]
        for user in heavy.top[:5]:
            who = html.escape(user.user_id) if user.user_id else "(hidden for your role)"
            lines.append(
                f"&nbsp;&nbsp;{who} · {html.escape(user.tier)} · {user.requests:,} requests · "
                f"{money(user.cost, cents=True)}"
            )
        self.heavy_label.setText("<br>".join(lines))

    def _show_forecast(self, forecast: CostForecast) -> None:
        plot = self.forecast_chart
        plot.clear()
        self.band = None
        if forecast.history:
            xs = np.array([midnight(d.day) for d in forecast.history])
            plot.plot(
                xs,
                np.array([d.cost for d in forecast.history]),
                pen=pg.mkPen(COST_COLOUR, width=2),
                name="recorded",
            )
        if forecast.daily:
            xs = np.array([midnight(d.day) for d in forecast.daily])
            low = plot.plot(xs, np.array([d.low for d in forecast.daily]), pen=pg.mkPen(None))
            high = plot.plot(xs, np.array([d.high for d in forecast.daily]), pen=pg.mkPen(None))
            self.band = pg.FillBetweenItem(low, high, brush=pg.mkBrush(0, 114, 178, 60))
            plot.addItem(self.band)
            plot.plot(
                xs,
                np.array([d.expected for d in forecast.daily]),
                pen=pg.mkPen(FORECAST_COLOUR, width=2, style=Qt.PenStyle.DashLine),
                name=f"forecast ({forecast.interval:.0%} range shaded)",
            )
        lines = []
        for label, period in (
            ("Next 7 days", forecast.next_7_days),
            ("Next 30 days", forecast.next_30_days),
        ):
            if period is not None:
                lines.append(
                    f"<b>{label}</b>: {money(period.expected)} "
                    f"(range {money(period.low)} to {money(period.high)})"
                )
        if forecast.month_end is not None:
            end = forecast.month_end
            lines.append(
                f"<b>{end.month} total</b>: {money(end.expected)} "
                f"(range {money(end.low)} to {money(end.high)}; {money(end.recorded)} recorded)"
            )
        if forecast.trend_per_day is not None:
            lines.append(f"Trend: {money(forecast.trend_per_day, cents=True)} per day, each day.")
        if forecast.note:
            lines.append(f"<i>{html.escape(forecast.note)}</i>")
        self.forecast_label.setText("<br>".join(lines) or "<i>No forecast.</i>")
        self.accuracy_label.setText(html.escape(accuracy_text(forecast)))

    def _show_recommendations(self, recommendations: Recommendations) -> None:
        items = recommendations.recommendations
        if not items:
            self.recommendations_label.setText(
                f"<i>Nothing to recommend from the last {recommendations.days} days.</i>"
            )
            return
        lines = [
            f"What each change would have saved over the last {recommendations.days} days, "
            "priced from the recorded requests (largest first; they are alternatives, "
            "not a sum):"
        ]
        for rec in items:
            lines.append(
                f"• <b>{money(rec.saving)}</b> · {html.escape(rec.kind)}, "
                f"{html.escape(rec.tier)}: {html.escape(rec.text)}"
            )
        self.recommendations_label.setText("<br>".join(lines))
