"""A live time chart: pyqtgraph curves over numpy ring buffers, with a crosshair readout.

Each curve keeps its points in a :class:`RingSeries`; a frame hands pyqtgraph two array views
(``setData`` with arrays, no Python lists), and the plot clips to the visible range and
downsamples when there are more points than pixels, so a month of minute points stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyqtgraph as pg

from opsconsole.console.qt import QColor, QLabel, Qt, QVBoxLayout, QWidget
from opsconsole.console.widgets.ring import FloatArray, RingSeries

# A light chart on the light Qt palette; antialiasing off: it costs more than it shows at 1 Hz.
pg.setConfigOptions(background="w", foreground="#333333", antialias=False)

# Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)

Formatter = Callable[[float], str]


def plain(value: float) -> str:
    return f"{value:,.2f}"


@dataclass
class Curve:
    name: str
    series: RingSeries
    item: pg.PlotDataItem


class TimeChart(QWidget):
    """One titled plot of several named curves against wall-clock time.

    Args:
        title: shown above the plot and used in the readout.
        unit: a formatter for values (``lambda v: f"{v:.0f} ms"``).
        capacity: points kept per curve.
    """

    def __init__(
        self,
        title: str,
        *,
        unit: Formatter = plain,
        capacity: int = 2 * 31 * 24 * 60,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.unit = unit
        self.capacity = capacity
        self._curves: dict[str, Curve] = {}
        self._window_s: float | None = None

        self.readout = QLabel(f"<b>{title}</b>")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setObjectName("chartReadout")
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=None)})
        self.plot.setMinimumHeight(120)
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.hideButtons()
        item.setMenuEnabled(False)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        item.addLegend(offset=(6, 4), labelTextSize="8pt", brush=(255, 255, 255, 190))
        self._cross = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888888", width=1))
        self._cross.setVisible(False)
        self.plot.addItem(self._cross, ignoreBounds=True)
        self.plot.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        layout.addWidget(self.readout)
        layout.addWidget(self.plot)

    # --- public ---------------------------------------------------------------------------

    def curve(self, name: str, *, color: str | None = None, dashed: bool = False) -> RingSeries:
        """The ring of the curve called ``name``, created (with a legend entry) on first use."""
        if name in self._curves:
            return self._curves[name].series
        pen = pg.mkPen(
            color or PALETTE[len(self._curves) % len(PALETTE)],
            width=2,
            style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine,
        )
        item = self.plot.plot(name=name, pen=pen, connect="finite")
        series = RingSeries(self.capacity)
        self._curves[name] = Curve(name, series, item)
        return series

    @property
    def curve_names(self) -> list[str]:
        return list(self._curves)

    def series(self, name: str) -> RingSeries:
        return self._curves[name].series

    def clear(self) -> None:
        """Forget every curve (a new range or provider)."""
        legend = self.plot.getPlotItem().legend
        for curve in self._curves.values():
            self.plot.removeItem(curve.item)
            if legend is not None:
                legend.removeItem(curve.item)
        self._curves.clear()
        self.readout.setText(f"<b>{self.title}</b>")

    def set_window(self, seconds: float | None) -> None:
        """Show the last ``seconds`` up to the newest point; None shows everything."""
        self._window_s = seconds

    def refresh(self) -> None:
        """Draw the rings as they are now: one ``setData`` per curve, with array views."""
        newest = -math.inf
        for curve in self._curves.values():
            xs, ys = curve.series.x, curve.series.y
            curve.item.setData(xs, ys, connect="finite")
            if len(xs):
                newest = max(newest, float(xs[-1]))
        if self._window_s is not None and newest > -math.inf:
            self.plot.setXRange(newest - self._window_s, newest, padding=0.01)
        if not self._cross.isVisible():
            self._show_latest()

    def readout_at(self, x: float) -> str:
        """The crosshair text at time ``x``: the time, then each curve's value there."""
        when = datetime.fromtimestamp(x, tz=UTC).astimezone()
        parts = [f"<b>{self.title}</b> &nbsp; {when:%a %H:%M}"]
        for curve in self._curves.values():
            value = curve.series.value_at(x)
            color = QColor(curve.item.opts["pen"].color()).name()
            text = "—" if value is None else self.unit(value)
            parts.append(f"<span style='color:{color}'>{curve.name}</span> {text}")
        return " &nbsp; ".join(parts)

    def visible_range(self) -> tuple[float, float]:
        x0, x1 = self.plot.getPlotItem().getViewBox().viewRange()[0]
        return float(x0), float(x1)

    # --- private ----------------------------------------------------------------------------

    def _show_latest(self) -> None:
        newest = [c.series.last_x for c in self._curves.values() if c.series.last_x is not None]
        if newest:
            self.readout.setText(self.readout_at(max(newest)))

    def _on_scene_mouse_moved(self, pos: Any) -> None:
        view = self.plot.getPlotItem().getViewBox()
        if not self.plot.sceneBoundingRect().contains(pos):
            self._cross.setVisible(False)
            self._show_latest()
            return
        x = float(view.mapSceneToView(pos).x())
        self._cross.setPos(x)
        self._cross.setVisible(True)
        self.readout.setText(self.readout_at(x))

    # --- Qt overrides -----------------------------------------------------------------------

    def leaveEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._cross.setVisible(False)
        self._show_latest()
        super().leaveEvent(event)  # type: ignore[arg-type]


def as_arrays(points: Iterable[tuple[datetime, float | None]]) -> tuple[FloatArray, FloatArray]:
    """(time, value) pairs as epoch-second and value arrays, NaN for gaps."""
    pairs = list(points)
    xs = np.fromiter((at.timestamp() for at, _ in pairs), dtype=np.float64, count=len(pairs))
    ys = np.fromiter(
        (np.nan if v is None else v for _, v in pairs), dtype=np.float64, count=len(pairs)
    )
    return xs, ys
