"""GET /v1/business: revenue, AI cost and margin by tier, checked against the rows themselves.

The history is simulated into the server's database; every figure is recomputed here from
the usage and user rows in plain Python, so a wrong GROUP BY, period or join shows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from opsconsole.server.gate.models import UsageEvent
from opsconsole.server.users.models import Tier, User
from opsconsole.sim.history import HistoryConfig, write_history
from opsconsole.wire.common import Role
from tests.live import LiveServer

pytestmark = pytest.mark.store

NOW = datetime(2026, 2, 10, 15, 30, tzinfo=UTC)


@dataclass
class Expected:
    tiers: dict[str, dict[str, Any]]
    totals: dict[str, Any]
    features: dict[str, tuple[int, float]]
    heavy: list[tuple[int, int, float]]  # (pk, requests, cost), heaviest first
    ids: dict[int, str]


def expected(server: LiveServer, start: datetime, cutoff: datetime) -> Expected:
    with server.db.reading() as session:
        events = [
            e
            for e in session.scalars(select(UsageEvent))
            if start <= e.at < cutoff  # the period, compared in Python
        ]
        users = list(session.scalars(select(User)))
        prices = {t.name: t.price_monthly for t in session.scalars(select(Tier))}
    paying: dict[str, int] = defaultdict(int)
    for user in users:
        if user.status != "erased" and user.joined_at < cutoff:
            paying[user.tier] += 1
    requests: dict[str, int] = defaultdict(int)
    cost: dict[str, float] = defaultdict(float)
    active: dict[str, set[int]] = defaultdict(set)
    features: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    per_user: dict[int, list[float]] = defaultdict(lambda: [0, 0.0])
    for e in events:
        requests[e.tier] += 1
        cost[e.tier] += e.cost
        active[e.tier].add(e.user_pk)
        features[e.feature][0] += 1
        features[e.feature][1] += e.cost
        per_user[e.user_pk][0] += 1
        per_user[e.user_pk][1] += e.cost
    tiers: dict[str, dict[str, Any]] = {}
    for tier, price in prices.items():
        revenue = price * paying[tier]
        n = len(active[tier])
        tiers[tier] = {
            "paying_users": paying[tier],
            "active_users": n,
            "requests": requests[tier],
            "revenue": revenue,
            "ai_cost": cost[tier],
            "gross_margin": revenue - cost[tier],
            "cost_per_active_user": cost[tier] / n if n else None,
            "revenue_per_active_user": revenue / n if n else None,
        }
    all_active = len(per_user)
    revenue = sum(t["revenue"] for t in tiers.values())
    total_cost = sum(cost.values())
    totals = {
        "paying_users": sum(paying.values()),
        "active_users": all_active,
        "requests": len(events),
        "revenue": revenue,
        "ai_cost": total_cost,
        "gross_margin": revenue - total_cost,
        "gross_margin_pct": 100 * (revenue - total_cost) / revenue,
        "cost_per_active_user": total_cost / all_active,
        "revenue_per_active_user": revenue / all_active,
    }
    ranked = sorted(per_user.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    heavy = [(pk, int(n), c) for pk, (n, c) in ranked[: math.ceil(0.1 * all_active)]]
    return Expected(
        tiers=tiers,
        totals=totals,
        features={f: (int(n), c) for f, (n, c) in features.items()},
        heavy=heavy,
        ids={u.pk: u.id for u in users},
    )


def assert_figures(actual: dict[str, Any], wanted: dict[str, Any]) -> None:
    for key, value in wanted.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert actual[key] == value, key


@pytest.fixture
def history(server: LiveServer) -> LiveServer:
    write_history(server.db, HistoryConfig(days=45, users=150, seed=21, end=NOW))
    server.clock.set(NOW)
    return server


def test_current_month_against_the_rows(history: LiveServer) -> None:
    admin = history.operator("ada", Role.ADMIN)
    history.step_up(admin)
    # One user suspended (still a subscriber), one erased (no longer paying).
    with history.db.reading() as session:
        premium = list(session.scalars(select(User.id).where(User.tier == "premium").limit(2)))
    reason = {"reason": "chargeback under review"}
    assert admin.post(f"/v1/users/{premium[0]}/suspend", json=reason).status_code == 200
    assert admin.delete(f"/v1/users/{premium[1]}").status_code in (200, 204)
    # Billing changes the premium price: revenue follows at once.
    billing = history.operator("bill", Role.BILLING)
    tier = next(t for t in billing.get("/v1/tiers").json() if t["name"] == "premium")
    tier.pop("name")
    response = billing.put("/v1/tiers/premium", json={**tier, "price_monthly": 12.5})
    assert response.status_code == 200, response.text

    response = billing.get("/v1/business")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["month"] == "2026-02" and body["complete"] is False
    assert body["period"] == {"start": "2026-02-01T00:00:00Z", "end": "2026-02-10T15:30:00Z"}
    wanted = expected(history, datetime(2026, 2, 1, tzinfo=UTC), NOW)
    assert wanted.tiers["premium"]["revenue"] == pytest.approx(
        12.5 * wanted.tiers["premium"]["paying_users"]
    )
    tiers = {row["tier"]: row for row in body["tiers"]}
    assert set(tiers) == {"free", "premium", "unlimited"}
    for name, figures in wanted.tiers.items():
        assert_figures(tiers[name], figures)
    assert tiers["free"]["revenue"] == 0 and tiers["free"]["gross_margin_pct"] is None
    assert tiers["unlimited"]["price_monthly"] == 29.99
    assert_figures(body["totals"], wanted.totals)
    assert body["totals"]["ai_cost"] > 0 and body["totals"]["gross_margin"] > 0
    features = {f["feature"]: f for f in body["features"]}
    assert set(features) == set(wanted.features)
    for name, (requests, cost) in wanted.features.items():
        assert features[name]["requests"] == requests
        assert features[name]["cost"] == pytest.approx(cost, rel=1e-9)
        assert features[name]["share_of_cost"] == pytest.approx(cost / wanted.totals["ai_cost"])
    heavy = body["heavy_users"]
    assert heavy["count"] == len(wanted.heavy) == math.ceil(0.1 * wanted.totals["active_users"])
    assert heavy["requests"] == sum(n for _, n, _ in wanted.heavy)
    assert heavy["cost"] == pytest.approx(sum(c for _, _, c in wanted.heavy), rel=1e-9)
    assert heavy["min_requests"] == wanted.heavy[-1][1]
    assert [(u["user_id"], u["requests"]) for u in heavy["top"]] == [
        (wanted.ids[pk], n) for pk, n, _ in wanted.heavy[:50]
    ]
    # While the month runs, its end is forecast on top of what is recorded.
    month_end = body["month_end_cost"]
    assert month_end["recorded"] == pytest.approx(wanted.totals["ai_cost"], rel=1e-9)
    assert month_end["low"] <= month_end["expected"] <= month_end["high"]
    assert month_end["expected"] > month_end["recorded"]


def test_past_month_is_complete_and_viewers_see_no_user_ids(history: LiveServer) -> None:
    viewer = history.operator("vic", Role.VIEWER)
    response = viewer.get("/v1/business", params={"month": "2026-01"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["complete"] is True and body["month_end_cost"] is None
    assert body["period"] == {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}
    wanted = expected(history, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert_figures(body["totals"], wanted.totals)
    heavy = body["heavy_users"]["top"]
    assert heavy and all(u["user_id"] is None for u in heavy)
    assert [u["requests"] for u in heavy] == [n for _, n, _ in wanted.heavy[:50]]
    # A month before any usage: zeros, not errors.
    empty = viewer.get("/v1/business", params={"month": "2025-06"}).json()
    assert empty["totals"]["ai_cost"] == 0 and empty["totals"]["active_users"] == 0
    assert empty["heavy_users"]["count"] == 0


def test_empty_database(server: LiveServer) -> None:
    client: httpx.Client = server.operator("bill", Role.BILLING)
    body = client.get("/v1/business").json()
    assert body["totals"]["requests"] == 0 and body["totals"]["revenue"] == 0
    assert body["totals"]["cost_per_active_user"] is None
    assert body["month_end_cost"] is None  # no history, no forecast
