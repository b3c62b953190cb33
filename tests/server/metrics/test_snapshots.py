"""Per-second snapshots of a live server: counts, denials by reason, cost, percentiles."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from opsconsole.server.gate.models import UsageEvent
from opsconsole.wire.metrics import MetricsSnapshot
from tests.live import LiveServer
from tests.server.metrics.helpers import admit, nearest_rank, register, report

pytestmark = pytest.mark.store

LATENCIES = [120.0 + 37.5 * i for i in range(40)]  # 120 .. 1582.5 ms


def test_snapshot_counts_every_decision_and_report(live: LiveServer, app: httpx.Client) -> None:
    seen: list[MetricsSnapshot] = []
    live.app.state.metrics.on_snapshot(seen.append)
    for name in ("ann", "bob"):
        register(app, name, "premium")
    register(app, "fay", "free")
    reasons: Counter[str] = Counter()
    decisions = []
    for index, latency in enumerate(LATENCIES):
        decision = admit(app, "ann" if index % 2 else "bob")
        assert decision["allow"], decision["reason"]
        # Failures last: earlier ones would open every premium provider's breaker.
        status = {36: "error", 37: "timeout", 38: "error", 39: "timeout"}.get(index, "ok")
        report(app, decision, latency_ms=latency, status=status)
        decisions.append(decision)
    for _ in range(12):  # the free tier allows 10 a day: two daily_quota denials
        decision = admit(app, "fay")
        if not decision["allow"]:
            reasons[decision["reason"]] += 1
    reasons[admit(app, "nobody")["reason"]] += 1
    live.clock.advance(timedelta(seconds=1))

    snapshot = live.app.state.metrics.tick_once(live.clock.now())

    assert snapshot is not None and seen == [snapshot]
    assert snapshot.at == live.clock.now() - timedelta(seconds=1) and snapshot.interval_s == 1
    total = snapshot.total
    assert total.requests == 40 + 12 + 1
    assert total.admits == 40 + 12 - sum(reasons.values()) + reasons["unknown_user"]
    assert total.denials == dict(reasons) and reasons["unknown_user"] == 1
    assert (total.reports, total.errors, total.timeouts) == (40, 2, 2)
    assert (total.input_tokens, total.output_tokens) == (40 * 1200, 40 * 400)
    with live.db.reading() as session:
        cost = session.scalar(select(func.sum(UsageEvent.cost)))
    assert total.cost == pytest.approx(cost)
    for quantile, estimate in (
        (0.5, total.latency_ms.p50),
        (0.95, total.latency_ms.p95),
        (0.99, total.latency_ms.p99),
    ):
        exact = nearest_rank(LATENCIES, quantile)
        assert estimate == pytest.approx(exact, rel=0.01)
    assert sum(counts.reports for counts in snapshot.providers.values()) == 40
    assert snapshot.providers["gemini-flash"].reports >= 38
    assert snapshot.providers["gpt-4o"].requests == 0  # every provider is listed
    assert snapshot.tiers["premium"].admits == 40
    assert snapshot.tiers["free"].denials == {"daily_quota": 2}
    assert snapshot.gate_us.p50 is not None and snapshot.gate_us.p50 > 0
    assert (snapshot.active_users_5m, snapshot.active_users_today) == (3, 3)
    assert snapshot.last_report_at == live.clock.now() - timedelta(seconds=1)
    # Nothing new closed: no snapshot, nothing counted twice.
    assert live.app.state.metrics.tick_once(live.clock.now()) is None


def test_one_snapshot_covers_every_clock_second_that_closed(
    live: LiveServer, app: httpx.Client
) -> None:
    metrics = live.app.state.metrics
    register(app, "ann", "unlimited")
    start = live.clock.now()
    metrics.tick_once(start)
    for _ in range(3):
        admit(app, "ann")
        live.clock.advance(timedelta(seconds=7))  # a demo clock runs faster than real time

    snapshot = metrics.tick_once(live.clock.now())

    assert snapshot is not None
    assert (snapshot.at, snapshot.interval_s) == (start, 21.0)
    assert snapshot.total.admits == 3
    assert snapshot.providers["gpt-4o"].admits + snapshot.providers["gemini-pro"].admits >= 1
    live.clock.advance(timedelta(seconds=1))
    quiet = metrics.tick_once(live.clock.now())
    assert quiet is not None and quiet.total.requests == 0 and quiet.interval_s == 1


def test_windows_and_active_users_over_the_last_hour(live: LiveServer, app: httpx.Client) -> None:
    aggregator = live.app.state.metrics.aggregator
    register(app, "ann", "premium")
    register(app, "bob", "premium")
    report(app, admit(app, "ann"), latency_ms=400.0)
    live.clock.advance(timedelta(minutes=10))
    report(app, admit(app, "bob"), latency_ms=900.0)
    for _ in range(11):  # a tick a minute, as the running server does every second
        live.clock.advance(timedelta(minutes=1))
        live.app.state.metrics.tick_once(live.clock.now())
    now = live.clock.now()

    hour = aggregator.window(seconds=3600, now=now)
    assert (hour.requests, hour.reports) == (2, 2)
    assert hour.latency_ms.p50 == pytest.approx(400.0, rel=0.01)
    assert aggregator.window(seconds=300, now=now).requests == 0
    assert aggregator.window(seconds=700, now=now, provider="gemini-flash").requests == 1
    assert aggregator.window(seconds=3600, now=now, tier="free").requests == 0
    assert aggregator.active_users(seconds=900, now=now) == 1
    assert aggregator.active_users(seconds=3600, now=now) == 2
    assert aggregator.active_users_today(now) == 2
    with pytest.raises(ValueError, match="1 to 3600 seconds"):
        aggregator.window(seconds=7200, now=now)
