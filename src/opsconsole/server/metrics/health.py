"""Provider health from the last five minutes of reports and the breaker's state."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from opsconsole.server.gate.state import ProviderRuntime
from opsconsole.server.metrics.cells import Cell
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Health, ProviderHealth

HEALTH_WINDOW_S = 300
# A success rate counts as below a threshold only when it is below with 95% confidence: with a
# few dozen reports, two unlucky failures of a healthy provider would otherwise flip it to
# degraded and back every few seconds, and each flip notifies every console.
CONFIDENCE_Z = 1.96
P95_SHARE = 0.95  # the p95 is above a latency when fewer than 95% of calls are below it
# Checks (one per snapshot) a provider must look better in, in a row, before it is called so.
RECOVERY_CHECKS = 10
SEVERITY = {Health.HEALTHY: 0, Health.DEGRADED: 1, Health.DOWN: 2}


@dataclass(frozen=True)
class HealthThresholds:
    """With a success rate below ``down_success`` a provider is down, below
    ``degraded_success`` or with a p95 above ``p95_ms`` degraded. A rate is below a threshold
    when it is below with 95% confidence (so the fewer the reports, the clearer the drop must
    be; the p95 likewise: more than 5% of calls slower than ``p95_ms``, beyond doubt), and
    rates and latencies count only from ``min_reports`` reports on."""

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
    previous: Health | None = None,
) -> ProviderHealth:
    """The health of one provider from its cell over the health window.

    A healthy provider turns degraded or down only on clear evidence (see `HealthThresholds`);
    one already degraded or down stays so while its measured rate or p95 is still on the wrong
    side of the threshold. Without that band, a provider whose p95 sits near the threshold
    (the simulator's perplexity-large: 5.5 s against 5 s) flipped back and forth each time
    the evidence dipped, notifying every console each time.
    """
    settled = previous is None or previous is Health.HEALTHY
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
        # From healthy: the best rate the provider may have; otherwise: the measured one.
        judged = success_upper_bound(reports - failures, reports) if settled else success
        if judged < thresholds.down_success:
            down.append(_rate_text(success, failures, reports, thresholds.down_success))
        elif judged < thresholds.degraded_success:
            degraded.append(_rate_text(success, failures, reports, thresholds.degraded_success))
    slow = p95 is not None and p95 > thresholds.p95_ms
    if p95 is not None and enough and slow and (not settled or _surely_slow(cell, thresholds)):
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


def _surely_slow(cell: Cell, thresholds: HealthThresholds) -> bool:
    """The p95 is above the threshold with 95% confidence: more than 5% of the calls were
    slower than it, beyond doubt. With a dozen reports, one slow call puts the sample's p95
    above the threshold; it takes several before this says so."""
    sketch = cell.latency
    if sketch is None or not sketch.count:
        return False
    measured = int(sketch.count)
    slow = round(sketch.count_above(thresholds.p95_ms))
    return success_upper_bound(measured - slow, measured) < P95_SHARE


def success_upper_bound(successes: int, reports: int, z: float = CONFIDENCE_Z) -> float:
    """The upper end of the Wilson score interval of a success rate: the highest rate the
    provider may really have, given ``successes`` out of ``reports``."""
    if reports <= 0:
        return 1.0
    rate = successes / reports
    spread = z * z / reports
    centre = rate + spread / 2
    margin = z * math.sqrt(rate * (1 - rate) / reports + spread / (4 * reports))
    return min(1.0, (centre + margin) / (1 + spread))


def _rate_text(success: float, failures: int, reports: int, threshold: float) -> str:
    return (
        f"success rate {success:.1%} over 5 min ({failures} of {reports} reports failed) "
        f"is below {threshold:.0%}"
    )


class HealthMemory:
    """What the snapshots last said of each provider, and how long each has looked better.

    A provider turns worse at once (on clear evidence: see `assess`) and better only after
    looking better in `RECOVERY_CHECKS` checks in a row. A few reports in a window (a quiet
    hour, or the demo's fast clock) made a provider near a threshold look fine one second and
    not the next, and every flip notified every console. A worse state its circuit breaker
    decided ends at once: the breaker's state is a fact, not a sample.
    """

    def __init__(self) -> None:
        self.last: dict[str, ProviderHealth] = {}
        self.streaks: dict[str, int] = {}

    def previous(self, name: str) -> Health | None:
        before = self.last.get(name)
        return None if before is None else before.status

    def hold(self, health: ProviderHealth, *, remember: bool) -> ProviderHealth:
        """``health`` as it should be shown; ``remember`` (the snapshots' checks) counts."""
        name = health.name
        before = self.last.get(name)
        if (
            before is None
            or SEVERITY[health.status] >= SEVERITY[before.status]
            or before.breaker is not BreakerState.CLOSED
        ):
            if remember:
                self.streaks.pop(name, None)
                self.last[name] = health
            return health
        streak = self.streaks.get(name, 0) + 1
        if streak >= RECOVERY_CHECKS:
            if remember:
                self.streaks.pop(name, None)
                self.last[name] = health
            return health
        if remember:
            self.streaks[name] = streak
        reason = f"{before.reason} (better in the last {streak} of {RECOVERY_CHECKS} checks)"
        return health.model_copy(update={"status": before.status, "reason": reason})
