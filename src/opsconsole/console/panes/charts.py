"""Live charts: cost per hour, requests and denials by reason, latency p50/p95/p99 with the
gate's own decision time beside it, and error rate; in total or for one provider; over 15 min,
1 h, 24 h, 7 d or 30 d.

History comes from the series endpoint (minute points up to a day, hour points beyond); from
then on every snapshot is folded into the newest point, which is redrawn once a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from opsconsole.console import progress
from opsconsole.console.panes.base import Pane, ServerClock, log, spawn
from opsconsole.console.qt import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.charts import TimeChart
from opsconsole.wire.gate import DenyReason
from opsconsole.wire.metrics import Counts, SeriesStep

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.wire.metrics import MetricsSnapshot, Series


@dataclass(frozen=True)
class Range:
    label: str
    seconds: int
    step: SeriesStep

    @property
    def step_s(self) -> int:
        return 60 if self.step is SeriesStep.MINUTE else 3600

    @property
    def points(self) -> int:
        return self.seconds // self.step_s


RANGES = (
    Range("15 min", 15 * 60, SeriesStep.MINUTE),
    Range("1 h", 3600, SeriesStep.MINUTE),
    Range("24 h", 86_400, SeriesStep.MINUTE),
    Range("7 d", 7 * 86_400, SeriesStep.HOUR),
    Range("30 d", 30 * 86_400, SeriesStep.HOUR),
)
DEFAULT_RANGE = "1 h"
TOTAL = ""  # the scope "all providers"
DENIAL_REASONS = [r for r in DenyReason if r is not DenyReason.OK]


@dataclass
class Bucket:
    """What the live snapshots added up to in one step (a minute or an hour)."""

    start: float
    partial: bool  # the console started watching after this step began
    seconds: float = 0.0
    requests: int = 0
    admits: int = 0
    denials: dict[str, int] = field(default_factory=dict)
    reports: int = 0
    failures: int = 0
    cost: float = 0.0
    # Percentiles of successive seconds cannot be merged exactly; weighting each second's by
    # its sample count gives a curve that moves like the real one between history points.
    latency: dict[str, float] = field(default_factory=dict)
    latency_weight: float = 0.0
    gate: dict[str, float] = field(default_factory=dict)
    gate_weight: float = 0.0

    def add(self, counts: Counts, interval_s: float, gate: dict[str, float | None]) -> None:
        self.seconds += interval_s
        self.requests += counts.requests
        self.admits += counts.admits
        for reason, n in counts.denials.items():
            self.denials[reason] = self.denials.get(reason, 0) + n
        self.reports += counts.reports
        self.failures += counts.errors + counts.timeouts
        self.cost += counts.cost
        lat = counts.latency_ms
        if counts.reports and lat.p50 is not None:
            w = float(counts.reports)
            for key, value in (("p50", lat.p50), ("p95", lat.p95), ("p99", lat.p99)):
                if value is not None:
                    self.latency[key] = self.latency.get(key, 0.0) + value * w
            self.latency_weight += w
        if gate.get("p50") is not None:
            w = float(max(counts.requests, 1))
            for key, gvalue in gate.items():
                if gvalue is not None:
                    self.gate[key] = self.gate.get(key, 0.0) + gvalue * w
            self.gate_weight += w

    def rate(self, count: float) -> float:
        return count / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class CurveSpec:
    """One curve: its legend name, the series metric behind its history, its live value.

    ``per`` converts a history point (a count or sum per step) into the chart's unit:
    "s" divides by the step's seconds, "h" scales to an hour, "%" turns a fraction into a
    percentage, "" keeps the value.
    """

    label: str
    metric: str
    live: Callable[[Bucket], float | None]
    per: str = ""
    dashed: bool = False


def _pct(bucket: Bucket, key: str) -> float | None:
    if not bucket.latency_weight or key not in bucket.latency:
        return None
    return bucket.latency[key] / bucket.latency_weight


def _gate(bucket: Bucket, key: str) -> float | None:
    if not bucket.gate_weight or key not in bucket.gate:
        return None
    return bucket.gate[key] / bucket.gate_weight


def _error_rate(bucket: Bucket) -> float | None:
    return 100.0 * bucket.failures / bucket.reports if bucket.reports else None


def _denial(reason: str) -> CurveSpec:
    return CurveSpec(
        f"denied: {reason}",
        f"denials.{reason}",
        lambda b: b.rate(b.denials.get(reason, 0)),
        per="s",
        dashed=True,
    )


CHARTS: dict[str, tuple[str, Callable[[float], str], list[CurveSpec]]] = {
    "cost": (
        "Cost per hour",
        lambda v: f"${v:,.2f}/h",
        [CurveSpec("cost", "cost", lambda b: b.rate(b.cost) * 3600.0, per="h")],
    ),
    "traffic": (
        "Requests and denials per second",
        lambda v: f"{v:,.1f}/s",
        [
            CurveSpec("requests", "requests", lambda b: b.rate(b.requests), per="s"),
            CurveSpec("admitted", "admits", lambda b: b.rate(b.admits), per="s"),
        ],
    ),
    "latency": (
        "Provider latency",
        lambda v: f"{v:,.0f} ms",
        [
            CurveSpec("p50", "latency_p50", lambda b: _pct(b, "p50")),
            CurveSpec("p95", "latency_p95", lambda b: _pct(b, "p95")),
            CurveSpec("p99", "latency_p99", lambda b: _pct(b, "p99")),
        ],
    ),
    "gate": (
        "Gate decision time",
        lambda v: f"{v:,.0f} µs",
        [
            CurveSpec("p50", "gate_us_p50", lambda b: _gate(b, "p50")),
            CurveSpec("p99", "gate_us_p99", lambda b: _gate(b, "p99")),
        ],
    ),
    "errors": (
        "Error rate",
        lambda v: f"{v:.2f}%",
        [CurveSpec("errors + timeouts", "error_rate", _error_rate, per="%")],
    ),
}
# Fetched to learn whether any request was denied in the range; not drawn.
DENIALS_TOTAL = CurveSpec("denied", "denials", lambda b: None, per="s")
# Charts that follow the provider chosen; the gate's time is the gate's, whatever the provider.
PER_PROVIDER = {"cost", "traffic", "latency", "errors"}


class ChartsPane(Pane):
    """Five charts in splitters, a range and a provider chooser above them."""

    title = "Live charts"
    name = "charts"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.range = next(r for r in RANGES if r.label == DEFAULT_RANGE)
        self.provider = TOTAL
        self.range_combo = QComboBox()
        self.range_combo.setObjectName("range")
        for r in RANGES:
            self.range_combo.addItem(r.label, r.label)
        self.range_combo.setCurrentText(self.range.label)
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("provider")
        self.provider_combo.addItem("All providers", TOTAL)
        self.status = QLabel("")
        self.status.setObjectName("chartsStatus")

        self.specs: dict[str, list[CurveSpec]] = {k: list(v[2]) for k, v in CHARTS.items()}
        self.charts: dict[str, TimeChart] = {}
        for key, (title, unit, _) in CHARTS.items():
            chart = TimeChart(title, unit=unit, capacity=self.range.points + 2)
            chart.setObjectName(f"chart_{key}")
            self.charts[key] = chart
        self.top, self.bottom, self.rows = self._build_splitters()
        self.splitters = [self.top, self.bottom, self.rows]

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Range:"))
        bar.addWidget(self.range_combo)
        bar.addWidget(QLabel("Provider:"))
        bar.addWidget(self.provider_combo)
        bar.addStretch(1)
        bar.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.rows, 1)

        self._buckets: dict[float, Bucket] = {}
        # Splitter sizes are applied once the pane has its real size: set earlier, Qt scales
        # them to the provisional size and clamps them to the charts' minimum heights.
        self._pending_sizes: dict[str, Any] = {}
        self._history_loaded = False
        self._load_task: asyncio.Future[None] | None = None
        self._apply_window()
        self.range_combo.currentIndexChanged.connect(self._on_range_combo_changed)
        self.provider_combo.currentIndexChanged.connect(self._on_provider_combo_changed)
        connection.snapshot_received.connect(self._on_connection_snapshot_received)

    # --- public -----------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the providers to choose from and the history of the chosen range."""
        try:
            providers = await self.connection.providers()
        except Exception as exc:
            log.warning("providers for the chooser: %s", exc)
            providers = []
        for p in providers:
            self._offer_provider(p.name)
        await self.load_history()

    async def load_history(self) -> None:
        """Fetch the chosen range's points from the series endpoint (or the cache offline)."""
        rng, provider = self.range, self.provider
        end = self.clock.now()
        start = end - timedelta(seconds=rng.seconds)
        wanted = [(key, spec) for key, specs in CHARTS.items() for spec in specs[2]]
        wanted.append(("traffic", DENIALS_TOTAL))
        self.status.setText("loading…")

        async def fetch(batch: list[tuple[str, CurveSpec]]) -> list[Series | BaseException]:
            return await asyncio.gather(
                *(
                    self.connection.series(
                        spec.metric,
                        rng.step,
                        start,
                        end,
                        provider=(provider or None) if key in PER_PROVIDER else None,
                    )
                    for key, spec in batch
                ),
                return_exceptions=True,
            )

        results = await fetch(wanted)
        # One curve per denial reason; asked for only when there were denials at all.
        total = results[-1]
        if not isinstance(total, BaseException) and any(p.value for p in total.points):
            reasons = [("traffic", _denial(reason.value)) for reason in DENIAL_REASONS]
            wanted += reasons
            results += await fetch(reasons)
        if (rng, provider) != (self.range, self.provider):
            return  # the operator chose something else meanwhile; that load will draw
        failed = 0
        self._reset_charts()
        for (key, spec), result in zip(wanted, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                log.debug("series %s: %s", spec.metric, result)
                continue
            self._draw_history(key, spec, result)
        self._history_loaded = True
        self._replay_live()
        self.refresh()
        self.status.setText(f"{failed} series unavailable" if failed else "")

    def refresh(self) -> None:
        """Redraw every chart from its rings (once per snapshot)."""
        for chart in self.charts.values():
            chart.refresh()

    def add_snapshot(self, snapshot: MetricsSnapshot) -> None:
        """Fold one snapshot into the newest point of each curve (without redrawing)."""
        counts = snapshot.total if not self.provider else snapshot.providers.get(self.provider)
        for name in snapshot.providers:
            self._offer_provider(name)
        step = self.range.step_s
        start = float(int(snapshot.at.timestamp()) // step * step)
        bucket = self._buckets.get(start)
        if bucket is None:
            # The first step seen since the (re)load began before the console was watching.
            partial = not self._buckets and snapshot.at.timestamp() > start + 1.0
            bucket = Bucket(start=start, partial=partial)
            self._buckets[start] = bucket
            self._trim_buckets()
        gate = {"p50": snapshot.gate_us.p50, "p99": snapshot.gate_us.p99}
        bucket.add(counts or Counts(), snapshot.interval_s, gate)
        self._draw_bucket(bucket)

    def save_state(self) -> dict[str, Any]:
        return {
            "range": self.range.label,
            "provider": self.provider,
            "splitters": {s.objectName(): s.sizes() for s in self.splitters},
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        sizes = state.get("splitters", {})
        self._pending_sizes = sizes if isinstance(sizes, dict) else {}
        if self.isVisible():
            self._apply_sizes()
        label = state.get("range")
        if isinstance(label, str) and label in {r.label for r in RANGES}:
            self.range_combo.setCurrentText(label)
        provider = state.get("provider")
        if isinstance(provider, str) and provider:
            self._offer_provider(provider)
            self.provider_combo.setCurrentIndex(self.provider_combo.findData(provider))

    # --- private ----------------------------------------------------------------------------

    def _build_splitters(self) -> tuple[QSplitter, QSplitter, QSplitter]:
        """Cost beside errors; traffic across; provider latency beside the gate's own time."""
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("split_top")
        top.addWidget(self.charts["cost"])
        top.addWidget(self.charts["errors"])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("split_bottom")
        bottom.addWidget(self.charts["latency"])
        bottom.addWidget(self.charts["gate"])
        bottom.setSizes([600, 300])
        rows = QSplitter(Qt.Orientation.Vertical)
        rows.setObjectName("split_rows")
        rows.addWidget(top)
        rows.addWidget(self.charts["traffic"])
        rows.addWidget(bottom)
        return top, bottom, rows

    def _apply_sizes(self) -> None:
        for splitter in self.splitters:
            wanted = self._pending_sizes.get(splitter.objectName())
            if isinstance(wanted, list) and len(wanted) == splitter.count():
                splitter.setSizes([int(s) for s in wanted])
        self._pending_sizes = {}

    def _has(self, key: str, label: str) -> bool:
        return any(spec.label == label for spec in self.specs[key])

    def _offer_provider(self, name: str) -> None:
        if self.provider_combo.findData(name) < 0:
            self.provider_combo.addItem(name, name)

    def _apply_window(self) -> None:
        for chart in self.charts.values():
            chart.set_window(float(self.range.seconds))

    def _reset_charts(self) -> None:
        self.specs["traffic"] = list(CHARTS["traffic"][2])
        for key, chart in self.charts.items():
            chart.clear()
            chart.capacity = self.range.points + 2
            for spec in self.specs[key]:
                chart.curve(spec.label, dashed=spec.dashed)

    def _draw_history(self, key: str, spec: CurveSpec, series: Series) -> None:
        if spec is DENIALS_TOTAL:
            return
        points = [(p.at.timestamp(), p.value) for p in series.points]
        if not points:
            return
        xs = np.fromiter((x for x, _ in points), dtype=np.float64, count=len(points))
        ys = np.fromiter(
            (np.nan if v is None else v for _, v in points), dtype=np.float64, count=len(points)
        )
        if spec.per == "s":
            ys = ys / self.range.step_s
        elif spec.per == "h":
            ys = ys * (3600.0 / self.range.step_s)
        elif spec.per == "%":
            ys = ys * 100.0
        if not self._has(key, spec.label):
            if not np.nansum(ys):
                return  # a denial reason that never happened in the range: no curve for it
            self.specs[key].append(spec)
        chart = self.charts[key]
        chart.curve(spec.label, dashed=spec.dashed).extend(xs, ys)

    def _replay_live(self) -> None:
        """Lay the live buckets over the history: each replaces the point of its step."""
        for bucket in sorted(self._buckets.values(), key=lambda b: b.start):
            self._draw_bucket(bucket, history_wins=bucket.partial)

    def _draw_bucket(self, bucket: Bucket, *, history_wins: bool = False) -> None:
        if not self._history_loaded:
            return  # drawn over the history once it arrives
        for reason in bucket.denials:
            if not self._has("traffic", f"denied: {reason}"):
                self.specs["traffic"].append(_denial(reason))
        for key, specs in self.specs.items():
            chart = self.charts[key]
            for spec in specs:
                ring = chart.curve(spec.label, dashed=spec.dashed)
                last = ring.last_x
                value = spec.live(bucket)
                if last is not None and last == bucket.start:
                    if not history_wins:
                        ring.set_last(value)
                elif last is None or bucket.start > last:
                    ring.append(bucket.start, value)

    def _trim_buckets(self) -> None:
        # Live buckets only matter until the history is reloaded; two ranges' worth is plenty.
        if len(self._buckets) > 2 * self.range.points + 2:
            for start in sorted(self._buckets)[: len(self._buckets) - self.range.points]:
                del self._buckets[start]

    def _reload(self) -> None:
        self._buckets.clear()
        self._history_loaded = False
        self._apply_window()
        self._reset_charts()
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = spawn(self._load_history_logged())
        # A month of history can take a while: the status bar offers Cancel after 300 ms.
        call = progress.track(self, f"Loading {self.range.label} of charts", self._load_task)
        call.cancelled.connect(self._on_history_cancelled)

    async def _load_history_logged(self) -> None:
        try:
            await self.load_history()
        except Exception as exc:
            log.warning("chart history: %s", exc)
            self.status.setText(f"history unavailable: {exc}")
            self._history_loaded = True

    def _on_history_cancelled(self) -> None:
        # Live points still arrive: draw them on the empty charts rather than nothing.
        self.status.setText("history load cancelled: live data only")
        self._history_loaded = True
        self._replay_live()
        self.refresh()

    def _on_range_combo_changed(self, _index: int) -> None:
        label = self.range_combo.currentData()
        self.range = next(r for r in RANGES if r.label == label)
        self._reload()

    def _on_provider_combo_changed(self, _index: int) -> None:
        self.provider = self.provider_combo.currentData() or TOTAL
        self._reload()

    def _on_connection_snapshot_received(self, snapshot: MetricsSnapshot) -> None:
        self.add_snapshot(snapshot)
        if self.isVisible():
            self.refresh()

    # --- Qt overrides -----------------------------------------------------------------------

    def showEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.refresh()  # hidden charts skip their redraws; catch up on showing
        if self._pending_sizes:
            QTimer.singleShot(0, self._apply_sizes)  # after the window has laid out its docks
        super().showEvent(event)  # type: ignore[arg-type]
