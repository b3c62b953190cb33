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


def test_memory_holds_only_users_active_this_week_or_month() -> None:
    """A server running for months keeps one record per recently active user, not one per
    user per day."""
    counters = MemoryCounters()
    for day in range(60):
        moment = T0 + timedelta(days=day)
        counters.admit(f"user-{day}", LIMITS, moment, count=True)
        counters.add_spend(f"user-{day}", 0.01, moment)
    last = T0 + timedelta(days=59)
    assert len(counters.users) <= 31 + 7  # this month's and this week's users at most
    assert counters.user_usage("user-59", last) == pytest.approx((1, 0.01, 0.01))
    assert counters.user_usage("user-0", last) == (0, 0.0, 0.0)


def test_checks_alone_leave_no_record() -> None:
    counters = MemoryCounters()
    for index in range(100):
        counters.admit(f"dry-{index}", LIMITS, T0, count=False)
    assert counters.users == {}


def test_a_clock_step_back_keeps_counting_in_the_newest_day() -> None:
    counters = MemoryCounters()
    tomorrow = T0 + timedelta(days=1)
    for _ in range(5):
        counters.admit("u", LIMITS, tomorrow, count=True)
    # The clock steps back across midnight: the quota already used is not forgotten.
    assert counters.admit("u", LIMITS, T0, count=True).reason is DenyReason.DAILY_QUOTA
    assert counters.user_usage("u", tomorrow)[0] == 5


def test_restore_sets_the_current_windows() -> None:
    counters = MemoryCounters()
    counters.restore(
        T0,
        requests_today={"u": 4},
        spent_week={"u": 0.5, "v": 0.25},
        spent_month={"u": 1.5},
        everyone_day=0.75,
        everyone_week=0.75,
    )
    assert counters.user_usage("u", T0) == pytest.approx((4, 0.5, 1.5))
    assert counters.user_usage("v", T0) == pytest.approx((0, 0.25, 0.0))
    assert counters.global_spend(T0) == pytest.approx((0.75, 0.75))
    assert counters.admit("u", LIMITS, T0, count=True).reason is DenyReason.OK
    assert counters.admit("u", LIMITS, T0, count=True).reason is DenyReason.DAILY_QUOTA
