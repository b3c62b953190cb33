"""Folding per-second snapshots into minutes, and reading chart values back out of them.

Counts add up. Percentiles do not: a folded minute keeps the highest p50/p95/p99 of its
seconds, an upper bound that errs on the side an operator watching latency wants.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from opsconsole.wire.metrics import SeriesStep

_SUMMED = ("requests", "admits", "reports", "errors", "timeouts", "input_tokens", "output_tokens")
_PERCENTILES = ("p50", "p95", "p99")
# Chart metrics the cache can compute from folded minutes when offline.
COUNT_METRICS = frozenset({*_SUMMED, "cost"})
DERIVED_METRICS = frozenset(
    {"denials", "error_rate", "latency_p50", "latency_p95", "latency_p99", "gate_p95"}
)


def empty() -> dict[str, Any]:
    return {
        **dict.fromkeys(_SUMMED, 0),
        "cost": 0.0,
        "denials": {},
        "latency_ms": dict.fromkeys(_PERCENTILES),
    }


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def fold(into: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """``into`` plus ``counts`` (a wire Counts as a dict, or another folded minute)."""
    out = dict(into)
    for name in _SUMMED:
        out[name] = int(out.get(name, 0)) + int(counts.get(name, 0) or 0)
    out["cost"] = float(out.get("cost", 0.0)) + float(counts.get("cost", 0.0) or 0.0)
    denials = dict(out.get("denials") or {})
    for reason, n in (counts.get("denials") or {}).items():
        denials[reason] = int(denials.get(reason, 0)) + int(n)
    out["denials"] = denials
    latency = dict(out.get("latency_ms") or {})
    theirs = counts.get("latency_ms") or {}
    for p in _PERCENTILES:
        latency[p] = _max(latency.get(p), theirs.get(p))
    out["latency_ms"] = latency
    for name in ("active_users_5m", "active_users_today"):
        if name in counts:
            out[name] = max(int(out.get(name, 0)), int(counts[name]))
    if "gate_us" in counts:
        gate = dict(out.get("gate_us") or {})
        for p in _PERCENTILES:
            gate[p] = _max(gate.get(p), (counts["gate_us"] or {}).get(p))
        out["gate_us"] = gate
    return out


def value(metric: str, data: dict[str, Any]) -> float | None:
    """A chart metric's value for one folded bucket; None where nothing was measured."""
    if metric in COUNT_METRICS:
        return float(data.get(metric, 0) or 0)
    if metric == "denials":
        return float(sum((data.get("denials") or {}).values()))
    if metric == "error_rate":
        reports = int(data.get("reports", 0))
        if not reports:
            return None
        return (int(data.get("errors", 0)) + int(data.get("timeouts", 0))) / reports
    if metric.startswith("latency_p"):
        result = (data.get("latency_ms") or {}).get(metric.removeprefix("latency_"))
        return float(result) if result is not None else None
    if metric == "gate_p95":
        result = (data.get("gate_us") or {}).get("p95")
        return float(result) if result is not None else None
    return None


def bucket(at: datetime, step: SeriesStep) -> datetime:
    if step is SeriesStep.MINUTE:
        return at.replace(second=0, microsecond=0)
    if step is SeriesStep.HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


STEP = {
    SeriesStep.MINUTE: timedelta(minutes=1),
    SeriesStep.HOUR: timedelta(hours=1),
    SeriesStep.DAY: timedelta(days=1),
}
