"""A provider is called degraded or down only when its success rate is below the threshold
with confidence: a few unlucky failures of a healthy provider do not page anyone."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from opsconsole.server.gate.state import ProviderRuntime
from opsconsole.server.metrics.cells import Cell
from opsconsole.server.metrics.health import (
    RECOVERY_CHECKS,
    HealthMemory,
    HealthThresholds,
    assess,
    success_upper_bound,
)
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Health, ProviderHealth

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def health_of(reports: int, failures: int) -> Health:
    provider = ProviderRuntime("gemini-flash", "gemini-1.5-flash", 0.1, 0.3, enabled=True)
    cell = Cell(reports=reports, errors=failures, admits=reports)
    return assess(
        provider, cell, admitted_total=reports, thresholds=HealthThresholds(), now=NOW
    ).status


def test_wilson_upper_bound_matches_known_values() -> None:
    # 2 failures in 38: 94.7% observed, but the provider may well be at 98.5%.
    assert success_upper_bound(36, 38) == pytest.approx(0.9854, abs=1e-3)
    assert success_upper_bound(950, 1000) == pytest.approx(0.9619, abs=1e-3)
    assert success_upper_bound(0, 10) == pytest.approx(0.2775, abs=1e-3)
    assert success_upper_bound(10, 10) == 1.0
    assert success_upper_bound(0, 0) == 1.0


def test_two_failures_in_a_few_dozen_reports_stay_healthy() -> None:
    assert health_of(38, 2) is Health.HEALTHY


def test_a_clear_drop_degrades_and_a_collapse_is_down() -> None:
    assert health_of(400, 40) is Health.DEGRADED  # 90%: below 95% beyond doubt
    assert health_of(200, 160) is Health.DOWN  # 20% succeed


def test_degraded_reason_gives_the_observed_rate_and_counts() -> None:
    provider = ProviderRuntime("fallback", "fallback-small", 0.01, 0.02, enabled=True)
    health = assess(
        provider,
        Cell(reports=400, errors=30, timeouts=10, admits=400),
        admitted_total=400,
        thresholds=HealthThresholds(),
        now=NOW,
    )
    assert health.reason == (
        "success rate 90.0% over 5 min (40 of 400 reports failed) is below 95%"
    )


def test_a_healthy_provider_seen_through_small_windows_never_flaps() -> None:
    """The demo's situation: a provider failing 1% of calls, 40 reports per 5-minute window
    (a sped-up clock), assessed 2,000 times. Judged on the raw rate (3 failures: 92.5%) it
    would be called degraded, and back, a dozen times: every few minutes at one assessment
    per second."""
    chance = random.Random(7)
    raw_below, assessed_degraded = 0, 0
    for _ in range(2000):
        failures = sum(chance.random() < 0.01 for _ in range(40))
        raw_below += (40 - failures) / 40 < 0.95
        assessed_degraded += health_of(40, failures) is not Health.HEALTHY
    assert raw_below >= 10  # the noise is real
    assert assessed_degraded == 0


def latency_cell(latencies: list[float]) -> Cell:
    cell = Cell(reports=len(latencies), admits=len(latencies))
    for value in latencies:
        cell.add_latency(value)
    return cell


def latency_health(latencies: list[float]) -> Health:
    provider = ProviderRuntime("gpt-4o", "gpt-4o", 2.5, 10.0, enabled=True)
    cell = latency_cell(latencies)
    return assess(
        provider, cell, admitted_total=len(latencies), thresholds=HealthThresholds(), now=NOW
    ).status


def test_one_slow_call_among_a_dozen_is_not_a_slow_provider() -> None:
    # The sample's p95 is the slow call (6 s > 5 s), but one in twelve proves nothing.
    assert latency_health([1800.0] * 11 + [6000.0]) is Health.HEALTHY


def test_a_provider_slow_beyond_doubt_is_degraded() -> None:
    assert latency_health([1800.0] * 70 + [7000.0] * 30) is Health.DEGRADED
    assert latency_health([8000.0] * 10) is Health.DEGRADED  # every call slow


def test_count_above_reads_the_sketch_within_its_accuracy() -> None:
    cell = latency_cell([100.0] * 50 + [4000.0] * 30 + [6000.0] * 20)
    assert cell.latency is not None
    assert cell.latency.count_above(5000.0) == 20
    assert cell.latency.count_above(1000.0) == 50
    assert cell.latency.count_above(0.0) == 100


def test_a_degraded_provider_stays_degraded_while_its_p95_stays_above() -> None:
    provider = ProviderRuntime("perplexity-large", "sonar-large", 1.0, 1.0, enabled=True)
    thin = latency_cell([4000.0] * 10 + [6000.0] * 2)  # p95 above 5 s, but thin evidence

    def judged(previous: Health | None) -> Health:
        return assess(
            provider,
            thin,
            admitted_total=12,
            thresholds=HealthThresholds(),
            now=NOW,
            previous=previous,
        ).status

    assert judged(Health.HEALTHY) is Health.HEALTHY  # not enough to call it slow...
    assert judged(Health.DEGRADED) is Health.DEGRADED  # ...nor to call it recovered
    recovered = latency_cell([4000.0] * 12)
    status = assess(
        provider,
        recovered,
        admitted_total=12,
        thresholds=HealthThresholds(),
        now=NOW,
        previous=Health.DEGRADED,
    ).status
    assert status is Health.HEALTHY


def shown(health: Health, breaker: BreakerState = BreakerState.CLOSED) -> ProviderHealth:
    return ProviderHealth(
        name="perplexity-large",
        status=health,
        breaker=breaker,
        share=0.1,
        reason="" if health is Health.HEALTHY else f"{health} for a reason",
    )


def test_a_provider_is_called_better_only_after_ten_checks_in_a_row() -> None:
    memory = HealthMemory()
    assert memory.hold(shown(Health.DEGRADED), remember=True).status is Health.DEGRADED
    for check in range(1, RECOVERY_CHECKS):
        held = memory.hold(shown(Health.HEALTHY), remember=True)
        assert held.status is Health.DEGRADED, check
        assert f"better in the last {check} of {RECOVERY_CHECKS} checks" in held.reason
    assert memory.hold(shown(Health.HEALTHY), remember=True).status is Health.HEALTHY
    # Worse again: at once, and a relapse restarts the count.
    assert memory.hold(shown(Health.DEGRADED), remember=True).status is Health.DEGRADED
    memory.hold(shown(Health.HEALTHY), remember=True)
    memory.hold(shown(Health.DEGRADED), remember=True)
    assert "1 of" in memory.hold(shown(Health.HEALTHY), remember=True).reason


def test_what_the_breaker_decided_ends_at_once_and_reads_do_not_count() -> None:
    memory = HealthMemory()
    memory.hold(shown(Health.DOWN, BreakerState.OPEN), remember=True)
    assert memory.hold(shown(Health.HEALTHY), remember=True).status is Health.HEALTHY
    memory.hold(shown(Health.DEGRADED), remember=True)
    for _ in range(3 * RECOVERY_CHECKS):  # the API's reads between snapshots
        assert memory.hold(shown(Health.HEALTHY), remember=False).status is Health.DEGRADED
