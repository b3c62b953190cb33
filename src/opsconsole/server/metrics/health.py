"""Provider health from the last five minutes of reports and the breaker's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opsconsole.server.gate.state import ProviderRuntime
from opsconsole.server.metrics.cells import Cell
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Health, ProviderHealth

HEALTH_WINDOW_S = 300


@dataclass(frozen=True)
class HealthThresholds:
    """Below ``down_success`` a provider is down, below ``degraded_success`` or with a p95
    above ``p95_ms`` degraded; rates and latencies count only from ``min_reports`` reports on,
    so a single failed request does not declare a provider down."""

    down_success: float = 0.5
    degraded_success: float = 0.95
    p95_ms: float = 5000.0
    min_reports: int = 5


def assess(
    provider: ProviderRuntime,
    cell: Cell,
    *,
    admitted_total: int,
    thresholds: HealthThresholds,
    now: datetime,
) -> ProviderHealth:
    """The health of one provider from its cell over the health window."""
    breaker = provider.breaker.public(now)
    reports = cell.reports
    failures = cell.errors + cell.timeouts
    success = (reports - failures) / reports if reports else None
    p95 = cell.latency.quantile(0.95) if cell.latency is not None and cell.latency.count else None
    enough = reports >= thresholds.min_reports
    down: list[str] = []
    degraded: list[str] = []
    if breaker.state is BreakerState.OPEN:
        how = " by an operator" if breaker.manual else ""
        until = f", retry at {breaker.retry_at:%H:%M:%S}" if breaker.retry_at and not how else ""
        down.append(f"circuit breaker open{how}{until}")
    elif breaker.state is BreakerState.HALF_OPEN:
        degraded.append("circuit breaker half-open: probing recovery")
    if success is not None and enough:
        if success < thresholds.down_success:
            down.append(_rate_text(success, failures, reports, thresholds.down_success))
        elif success < thresholds.degraded_success:
            degraded.append(_rate_text(success, failures, reports, thresholds.degraded_success))
    if p95 is not None and enough and p95 > thresholds.p95_ms:
        degraded.append(f"p95 latency {p95:.0f} ms over 5 min is above {thresholds.p95_ms:.0f} ms")
    status = Health.DOWN if down else Health.DEGRADED if degraded else Health.HEALTHY
    return ProviderHealth(
        name=provider.name,
        status=status,
        breaker=breaker.state,
        retry_at=breaker.retry_at,
        success_rate=success,
        p95_ms=p95,
        cost_per_request=cell.cost / reports if reports else None,
        share=cell.admits / admitted_total if admitted_total else 0.0,
        reason="; ".join(down + degraded),
    )


def _rate_text(success: float, failures: int, reports: int, threshold: float) -> str:
    return (
        f"success rate {success:.0%} over 5 min ({failures} of {reports} reports failed) "
        f"is below {threshold:.0%}"
    )
