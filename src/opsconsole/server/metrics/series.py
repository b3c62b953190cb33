"""Metric names of `GET /v1/metrics/series` and how each is computed from one interval's cell.

Names:
    requests, admits, denials (all reasons), denials.<reason> (a `DenyReason` value),
    reports, errors, timeouts, error_rate (errors and timeouts over reports),
    cost (dollars), tokens (input + output), input_tokens, output_tokens,
    latency_p50, latency_p95, latency_p99 (provider latency, ms),
    gate_us_p50, gate_us_p95, gate_us_p99 (the gate's own decision time, microseconds),
    active_users (distinct users with a decision in the interval).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from opsconsole.server.metrics.cells import Cell, Sketch
from opsconsole.wire.gate import DenyReason
from opsconsole.wire.metrics import SeriesStep

MAX_POINTS = 1500
STEP_SECONDS = {SeriesStep.MINUTE: 60, SeriesStep.HOUR: 3600, SeriesStep.DAY: 86400}
# What a chart shows when it names no range: 24 h by minute, 7 d by hour, 30 d by day.
DEFAULT_SPAN = {
    SeriesStep.MINUTE: timedelta(hours=24),
    SeriesStep.HOUR: timedelta(days=7),
    SeriesStep.DAY: timedelta(days=30),
}

_COUNTS: dict[str, Callable[[Cell], float]] = {
    "requests": lambda c: c.requests,
    "admits": lambda c: c.admits,
    "denials": lambda c: sum(c.denials.values()),
    "reports": lambda c: c.reports,
    "errors": lambda c: c.errors,
    "timeouts": lambda c: c.timeouts,
    "cost": lambda c: c.cost,
    "tokens": lambda c: c.input_tokens + c.output_tokens,
    "input_tokens": lambda c: c.input_tokens,
    "output_tokens": lambda c: c.output_tokens,
}
_QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
ACTIVE_USERS = "active_users"
REASONS = sorted(reason.value for reason in DenyReason if reason is not DenyReason.OK)
NAMES = [
    *_COUNTS,
    *(f"denials.{reason}" for reason in REASONS),
    "error_rate",
    *(f"latency_{q}" for q in _QUANTILES),
    *(f"gate_us_{q}" for q in _QUANTILES),
    ACTIVE_USERS,
]


class SeriesError(ValueError):
    """A query the series cannot answer; the message says what to change."""


def check_metric(metric: str) -> None:
    if metric in NAMES:
        return
    if metric.startswith("denials."):
        raise SeriesError(f"unknown deny reason in {metric!r}; reasons are: {', '.join(REASONS)}")
    raise SeriesError(f"unknown metric {metric!r}; metrics are: {', '.join(NAMES)}")


def value(metric: str, cell: Cell) -> float | None:
    """The metric over one interval's cell; None where it is undefined (no samples)."""
    if metric in _COUNTS:
        return float(_COUNTS[metric](cell))
    if metric.startswith("denials."):
        return float(cell.denials.get(metric.removeprefix("denials."), 0))
    if metric == "error_rate":
        return (cell.errors + cell.timeouts) / cell.reports if cell.reports else None
    kind, _, quantile = metric.rpartition("_")
    sketch: Sketch | None = cell.latency if kind == "latency" else cell.gate_us
    if sketch is None or not sketch.count:
        return None
    return sketch.quantile(_QUANTILES[quantile])


def align(moment: datetime, step: SeriesStep) -> datetime:
    seconds = STEP_SECONDS[step]
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def point_starts(step: SeriesStep, start: datetime, end: datetime) -> list[datetime]:
    """Interval starts from ``start`` (aligned down to the step) up to ``end``, capped."""
    if end <= start:
        raise SeriesError(f"`to` ({end.isoformat()}) must be after `from` ({start.isoformat()})")
    first = align(start, step)
    size = STEP_SECONDS[step]
    count = -int(-(end - first).total_seconds() // size)
    if count > MAX_POINTS:
        raise SeriesError(
            f"{count} points at step {step.value} from {start.isoformat()} to {end.isoformat()}"
            f"; at most {MAX_POINTS} per query: use a larger step or a shorter range"
        )
    return [first + timedelta(seconds=size * index) for index in range(count)]
