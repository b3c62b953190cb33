from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.server.gate.breaker import Breaker
from opsconsole.wire.gate import BreakerSettings, BreakerState

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def breaker(**settings: float) -> Breaker:
    return Breaker(settings=BreakerSettings(window=20, min_requests=10, **settings))  # type: ignore[arg-type]


def feed(b: Breaker, outcomes: list[str], now: datetime = T0) -> None:
    for outcome in outcomes:
        b.on_report(error=outcome == "error", timeout=outcome == "timeout", now=now)


def test_stays_closed_below_min_requests_even_when_all_fail() -> None:
    b = breaker()
    feed(b, ["error"] * 9)
    assert b.state is BreakerState.CLOSED


@pytest.mark.parametrize("failure", ["error", "timeout"])
def test_opens_when_failure_rate_passes_threshold(failure: str) -> None:
    b = breaker()
    feed(b, ["ok"] * 18 + [failure])  # 1/19 = 5.3% > 5%
    assert b.state is BreakerState.OPEN
    assert b.retry_at == T0 + timedelta(seconds=300)
    assert not b.allows(T0 + timedelta(seconds=299))


def test_exactly_at_threshold_stays_closed() -> None:
    b = breaker()
    feed(b, ["ok"] * 19 + ["error"])  # 1/20 = 5%, not above
    assert b.state is BreakerState.CLOSED


def test_window_forgets_old_failures() -> None:
    b = breaker(error_rate=0.5)
    feed(b, ["error"] * 5 + ["ok"] * 15)  # 25% in window
    feed(b, ["ok"] * 20)
    assert b.public(T0).failures == 0


def test_half_open_lets_probes_through_and_closes_on_success() -> None:
    b = breaker(probes=2)
    feed(b, ["error"] * 10)
    later = T0 + timedelta(seconds=300)
    assert b.allows(later)
    assert b.state is BreakerState.HALF_OPEN
    b.on_routed(later)
    b.on_routed(later)
    assert not b.allows(later), "no more than `probes` requests in flight"
    b.on_report(error=False, timeout=False, now=later)
    assert b.state is BreakerState.HALF_OPEN
    b.on_report(error=False, timeout=False, now=later)
    assert b.state is BreakerState.CLOSED


def test_half_open_failure_reopens() -> None:
    b = breaker()
    feed(b, ["error"] * 10)
    later = T0 + timedelta(seconds=301)
    assert b.allows(later)
    b.on_routed(later)
    b.on_report(error=True, timeout=False, now=later)
    assert b.state is BreakerState.OPEN
    assert b.retry_at == later + timedelta(seconds=300)


def test_lost_probe_does_not_block_forever() -> None:
    b = breaker(probes=1)
    feed(b, ["error"] * 10)
    later = T0 + timedelta(seconds=300)
    assert b.allows(later)
    b.on_routed(later)
    assert not b.allows(later + timedelta(seconds=1))
    assert b.allows(later + timedelta(seconds=21)), "a probe unreported for 2x timeout is dropped"


def test_manual_trip_stays_open_until_reset() -> None:
    b = breaker()
    b.trip(T0)
    assert not b.allows(T0 + timedelta(days=1))
    assert b.public(T0).manual
    b.reset()
    assert b.allows(T0) and b.state is BreakerState.CLOSED
