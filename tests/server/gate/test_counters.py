"""The two counter stores give the same answers; Redis's also under concurrency."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.server.gate.counters import CounterStore, Limits, MemoryCounters
from opsconsole.wire.gate import DenyReason

REDIS_ENV = "OPSCONSOLE_TEST_REDIS_URL"
T0 = datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC)
LIMITS = Limits(
    daily_requests=5,
    weekly_budget=1.0,
    monthly_budget=2.0,
    user_rpm=100,
    global_rpm=None,
    global_day_cap=10.0,
    global_week_cap=50.0,
)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[CounterStore]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis to test the shared counters on")
    import redis

    from opsconsole.server.gate.redis_counters import RedisCounters

    client = redis.Redis.from_url(url)
    prefix = f"opsconsole-test-{uuid.uuid4().hex[:8]}:"
    try:
        yield RedisCounters(client, prefix=prefix)
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_daily_quota(store: CounterStore) -> None:
    reasons = [store.admit("u", LIMITS, T0, count=True).reason for _ in range(6)]
    assert reasons == [DenyReason.OK] * 5 + [DenyReason.DAILY_QUOTA]
    assert store.user_usage("u", T0)[0] == 5
    assert store.admit("u", LIMITS, T0 + timedelta(days=1), count=True).reason is DenyReason.OK


def test_check_without_count_changes_nothing(store: CounterStore) -> None:
    for _ in range(10):
        assert store.admit("u", LIMITS, T0, count=False).reason is DenyReason.OK
    assert store.user_usage("u", T0) == (0, 0.0, 0.0)


def test_spend_budgets_and_global_cap(store: CounterStore) -> None:
    assert store.add_spend("u", 0.6, T0) == pytest.approx((0.6, 0.6))
    store.add_spend("u", 0.4, T0)
    assert store.admit("u", LIMITS, T0, count=True).reason is DenyReason.WEEKLY_BUDGET
    assert store.user_usage("u", T0)[1:] == pytest.approx((1.0, 1.0))
    store.add_spend("other", 9.0, T0)
    assert store.global_spend(T0) == pytest.approx((10.0, 10.0))
    assert store.admit("v", LIMITS, T0, count=True).reason is DenyReason.GLOBAL_BUDGET_CAP


def test_rate_limits(store: CounterStore) -> None:
    limits = Limits(
        1000, 100, 100, user_rpm=3, global_rpm=5, global_day_cap=None, global_week_cap=None
    )
    reasons = [store.admit("u", limits, T0, count=True).reason for _ in range(4)]
    assert reasons[-1] is DenyReason.USER_RATE_LIMITED
    admission = store.admit("v", limits, T0, count=True)
    assert admission.reason is DenyReason.OK
    admission = store.admit("w", limits, T0, count=True)
    assert admission.reason is DenyReason.OK
    admission = store.admit("x", limits, T0, count=True)
    assert admission.reason is DenyReason.GLOBAL_RATE_LIMITED
    assert admission.retry_after_s is not None and admission.retry_after_s > 0
    assert store.global_rpm(T0) == pytest.approx(5)


def test_no_over_admission_under_concurrency(store: CounterStore) -> None:
    limits = Limits(
        100, 100, 100, user_rpm=10_000, global_rpm=None, global_day_cap=None, global_week_cap=None
    )
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(
            pool.map(lambda _: store.admit("u", limits, T0, count=True).reason, range(300))
        )
    assert results.count(DenyReason.OK) == 100
