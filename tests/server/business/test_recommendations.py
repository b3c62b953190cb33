"""Recommendations priced from recorded requests: a small case worked out by hand.

Prices per 1k tokens (the defaults): gemini-flash $0.000075 in / $0.0003 out, fallback
$0.00005 / $0.0001. Monday 2026-01-05, 10:00 UTC (no peak hour, so the free tier's first
choice, gemini-flash, serves everything):

* fay (free) is admitted 10 times, request i with 100*i input and 20*i output tokens, so it
  costs 0.0000135 * i dollars; request 9 fails (not billed). Her 11th is refused (quota 10).
* gus (free) is admitted 5 times, 1000 in / 100 out each: $0.000105 each.
* pia (premium) is admitted 3 times, 2000 in / 500 out: $0.0009 in all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.business.helpers import admit, register, report

pytestmark = pytest.mark.store

MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def fay_cost(i: int) -> float:
    return (100 * i * 0.000075 + 20 * i * 0.0003) / 1000


@pytest.fixture
def recorded(server: LiveServer) -> httpx.Client:
    """The hand-made day on record; returns a billing operator's client, the next morning."""
    app = server.client(server.app_key())
    server.clock.set(MONDAY - timedelta(hours=1))
    for user, tier in (("fay", "free"), ("gus", "free"), ("pia", "premium")):
        register(app, user, tier)
    server.clock.set(MONDAY)
    failed = None
    for i in range(1, 12):
        server.clock.advance(timedelta(seconds=10))  # under the free tier's 10 per minute
        decision = admit(app, "fay")
        if i == 11:
            assert decision["reason"] == "daily_quota"
        elif i == 9:
            failed = decision
        else:
            assert decision["provider"] == "gemini-flash", decision
            report(app, decision, input_tokens=100 * i, output_tokens=20 * i)
    for _ in range(5):
        server.clock.advance(timedelta(seconds=10))
        report(app, admit(app, "gus"), input_tokens=1000, output_tokens=100)
    for _ in range(3):
        server.clock.advance(timedelta(seconds=10))
        report(app, admit(app, "pia"), input_tokens=2000, output_tokens=500)
    # The failure is reported last: one error in the breaker's window would open it and send
    # the later requests to fallback, which is the gate's business, not this test's.
    assert failed is not None
    report(app, failed, input_tokens=900, output_tokens=0, status="error")
    # Tuesday morning: today's requests are outside "the last 7 days" (full days only).
    server.clock.set(MONDAY + timedelta(hours=23))
    report(app, admit(app, "fay"), input_tokens=50_000, output_tokens=9_000)
    server.gate_flush()
    return server.operator("bill", Role.BILLING)


def by_tier(rows: list[dict[str, Any]], tier: str) -> dict[str, Any]:
    return next(row for row in rows if row["tier"] == tier)


def test_routing_priced_at_other_providers(recorded: httpx.Client) -> None:
    response = recorded.get("/v1/business/recommendations")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"] == 7
    assert body["period"] == {"start": "2025-12-30T00:00:00Z", "end": "2026-01-06T00:00:00Z"}
    free = by_tier(body["routing"], "free")
    # Successful calls only: fay's nine (4600 in, 920 out) and gus's five (5000 in, 500 out).
    recorded_cost = (9600 * 0.000075 + 1420 * 0.0003) / 1000
    assert free["requests"] == 15  # the failed one was reported too
    assert free["by_provider"] == {"gemini-flash": 15}
    assert free["recorded_cost"] == pytest.approx(recorded_cost, rel=1e-9)
    alternatives = {alt["provider"]: alt for alt in free["alternatives"]}
    fallback = (9600 * 0.00005 + 1420 * 0.0001) / 1000
    assert alternatives["fallback"]["cost"] == pytest.approx(fallback, rel=1e-9)
    assert alternatives["fallback"]["saving"] == pytest.approx(recorded_cost - fallback, rel=1e-9)
    assert alternatives["fallback"]["allowed_for_tier"] is True
    assert alternatives["gpt-4o"]["allowed_for_tier"] is False
    assert alternatives["gpt-4o"]["cost"] == pytest.approx((9600 * 0.0025 + 1420 * 0.01) / 1000)
    assert alternatives["gemini-flash"]["saving"] == pytest.approx(0.0, abs=1e-12)
    # Premium already runs on its cheapest allowed provider: nothing to recommend there,
    # even though fallback (not allowed for premium) would be cheaper.
    premium = by_tier(body["routing"], "premium")
    assert premium["recorded_cost"] == pytest.approx(0.0009, rel=1e-9)
    assert {alt["provider"]: alt["cost"] for alt in premium["alternatives"]}[
        "fallback"
    ] == pytest.approx((6000 * 0.00005 + 1500 * 0.0001) / 1000)
    texts = [r["text"] for r in body["recommendations"] if r["kind"] == "routing"]
    assert texts == [
        "Routing tier free to fallback would have cost $0.0006 instead of $0.0011 over the "
        "last 7 days (saving $0.0005, 46%)."
    ]


def test_lower_free_quota_saves_the_requests_beyond_it(recorded: httpx.Client) -> None:
    body = recorded.get("/v1/business/recommendations").json()
    free = by_tier(body["quotas"], "free")
    # fay's 8th, 9th and 10th admitted requests; the 9th failed and cost nothing.
    assert free["current_quota"] == 10 and free["proposed_quota"] == 7
    assert free["saving"] == pytest.approx(fay_cost(8) + fay_cost(10), rel=1e-9)
    assert (free["requests_refused"], free["users_affected"], free["user_days_affected"]) == (
        3,
        1,
        1,
    )
    premium = by_tier(body["quotas"], "premium")
    assert (premium["proposed_quota"], premium["saving"], premium["requests_refused"]) == (
        70,
        0,
        0,
    )
    assert "unlimited" not in {q["tier"] for q in body["quotas"]}  # no cap to lower
    quota = next(r for r in body["recommendations"] if r["kind"] == "quota")
    assert quota["text"] == (
        "Lowering the free tier's daily quota from 10 to 7 would have saved $0.0002 over the "
        "last 7 days, refusing 3 requests of 1 users on 1 user-days."
    )
    assert quota["saving"] == pytest.approx(fay_cost(8) + fay_cost(10), rel=1e-9)


def test_a_chosen_lower_quota(recorded: httpx.Client) -> None:
    response = recorded.get(
        "/v1/business/recommendations", params={"quota_tier": "free", "quota": 4}
    )
    assert response.status_code == 200, response.text
    (free,) = response.json()["quotas"]
    expected = sum(fay_cost(i) for i in (5, 6, 7, 8, 10)) + (1000 * 0.000075 + 100 * 0.0003) / 1000
    assert free["saving"] == pytest.approx(expected, rel=1e-9)
    assert (free["requests_refused"], free["users_affected"], free["user_days_affected"]) == (
        7,
        2,
        2,
    )


def test_window_of_one_day_and_of_none(server: LiveServer, recorded: httpx.Client) -> None:
    # Days=1 is Monday alone: the same figures. A week later, Monday is out of the window.
    one = recorded.get("/v1/business/recommendations", params={"days": 1}).json()
    assert by_tier(one["quotas"], "free")["requests_refused"] == 3
    server.clock.advance(timedelta(days=7))
    client = server.operator("bill-again", Role.BILLING)  # the first session has expired
    later = client.get("/v1/business/recommendations").json()
    assert [q["requests_refused"] for q in later["quotas"]] == [0, 0]
    assert by_tier(later["routing"], "free")["requests"] == 1  # Tuesday's request only
