"""The gate over HTTP: admit and report, switches, tiers, providers, restart, concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opsconsole.server.gate.models import DecisionRow, UsageEvent
from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store

REASON = "incident 42: provider outage"


@pytest.fixture
def app(server: LiveServer) -> httpx.Client:
    return server.client(server.app_key())


@pytest.fixture
def oncall(server: LiveServer) -> httpx.Client:
    client = server.operator("olga", Role.ONCALL)
    server.step_up(client)
    return client


def register(app: httpx.Client, user_id: str, tier: str = "free") -> None:
    response = app.put(f"/v1/users/{user_id}", json={"email": f"{user_id}@x.io", "tier": tier})
    assert response.status_code in (200, 201), response.text


def admit(app: httpx.Client, user_id: str, **extra: Any) -> dict[str, Any]:
    response = app.post("/v1/gate/admit", json={"user_id": user_id, "feature": "coach", **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def usage(decision: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "decision_id": decision["decision_id"],
        "provider": decision["provider"],
        "model": decision["model"],
        "input_tokens": 1200,
        "output_tokens": 400,
        "latency_ms": 850.0,
        "status": "ok",
        **extra,
    }


def count(server: LiveServer, table: type[DecisionRow] | type[UsageEvent]) -> int:
    server.gate_flush()
    with server.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_admit_report_and_durable_usage(server: LiveServer, app: httpx.Client) -> None:
    register(app, "ann", "premium")
    decision = admit(app, "ann")
    assert decision["allow"] is True and decision["reason"] == "ok"
    assert decision["provider"] == "gemini-flash" and decision["model"] == "gemini-1.5-flash"
    assert decision["remaining"]["requests_today"] == 99
    response = app.post("/v1/gate/report", json=usage(decision))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1}
    # Acknowledged means on disk: the row is there without waiting for anything.
    with server.db.reading() as session:
        row = session.get(UsageEvent, decision["decision_id"])
        assert row is not None and row.tier == "premium"
        assert row.cost == pytest.approx((1200 * 0.000075 + 400 * 0.0003) / 1000)
    assert count(server, DecisionRow) == 1


def test_denial_is_a_200_with_a_reason(app: httpx.Client) -> None:
    decision = admit(app, "nobody")
    assert decision == {
        "decision_id": None,
        "allow": False,
        "provider": None,
        "model": None,
        "reason": "unknown_user",
        "retry_after_s": None,
        "remaining": None,
        "experiment": None,
        "experiment_share": None,
        "policy": None,
    }


def test_bad_reports_change_nothing(server: LiveServer, app: httpx.Client) -> None:
    register(app, "ann")
    first, second = admit(app, "ann"), admit(app, "ann")
    batch = {"reports": [usage(first), usage(second, decision_id="made-up")]}
    refused = app.post("/v1/gate/report", json=batch)
    problem = assert_problem(refused, 422, "bad-report")
    assert [p["index"] for p in problem["problems"]] == [1]
    assert count(server, UsageEvent) == 0
    negative = app.post("/v1/gate/report", json=usage(first, input_tokens=-5))
    assert_problem(negative, 422, "validation-error")
    wrong_provider = app.post("/v1/gate/report", json=usage(first, provider="gpt-4o"))
    assert_problem(wrong_provider, 422, "bad-report")
    assert app.post("/v1/gate/report", json={"reports": [usage(first)]}).status_code == 200
    duplicate = app.post("/v1/gate/report", json=usage(first))
    assert "reported already" in assert_problem(duplicate, 422, "bad-report")["detail"]
    too_many = app.post("/v1/gate/report", json={"reports": [usage(first)] * 1001})
    assert_problem(too_many, 422, "validation-error")
    assert count(server, UsageEvent) == 1


def test_switch_needs_step_up_reaches_the_next_decision_and_expires(
    server: LiveServer, app: httpx.Client
) -> None:
    register(app, "ann", "unlimited")
    olga = server.operator("olga", Role.ONCALL)
    body = {"value": True, "reason": REASON}
    assert_problem(olga.put("/v1/controls/pause_all", json=body), 403, "step-up-required")
    server.step_up(olga)
    until = server.clock.now() + timedelta(minutes=15)
    response = olga.put("/v1/controls/pause_all", json={**body, "expires_at": until.isoformat()})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True and response.json()["set_by"] == "operator:olga"
    assert admit(app, "ann")["reason"] == "paused_all"
    viewer = server.operator("wall", Role.VIEWER)
    states = {s["name"]: s for s in viewer.get("/v1/controls").json()}
    assert states["pause_all"]["reason"] == REASON
    server.clock.advance(timedelta(minutes=15))
    server.gate_sync()
    assert admit(app, "ann")["allow"] is True
    rows = olga.get("/v1/audit", params={"target": "switch:pause_all"}).json()["items"]
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("controls.expired", "automation"),
        ("controls.set", "olga"),
    ]


@pytest.mark.parametrize(
    ("switch", "value", "problem"),
    [
        ("pause_all", 5, "bad-request"),
        ("pause_tiers", ["gold"], "bad-request"),
        ("global_budget_cap", -1, "bad-request"),
        ("nonsense", True, "not-found"),
    ],
)
def test_bad_switch_values(oncall: httpx.Client, switch: str, value: Any, problem: str) -> None:
    response = oncall.put(f"/v1/controls/{switch}", json={"value": value, "reason": REASON})
    assert_problem(response, 400 if problem == "bad-request" else 404, problem)


def test_roles_that_may_not_flip_switches(server: LiveServer) -> None:
    for role in (Role.SUPPORT, Role.BILLING, Role.VIEWER):
        client = server.operator(f"op-{role}", role)
        server.step_up(client)
        response = client.put("/v1/controls/pause_all", json={"value": True, "reason": REASON})
        assert_problem(response, 403, "forbidden")


def test_tier_change_applies_at_once(server: LiveServer, app: httpx.Client) -> None:
    register(app, "ann")
    billing = server.operator("bill", Role.BILLING)
    tier = {
        "daily_requests": 1,
        "weekly_budget": 1.0,
        "monthly_budget": 3.0,
        "rate_per_minute": 10,
        "providers": ["fallback"],
    }
    response = billing.put("/v1/tiers/free", json=tier)
    assert response.status_code == 200, response.text
    first = admit(app, "ann")
    assert first["provider"] == "fallback"
    assert admit(app, "ann")["reason"] == "daily_quota"
    unknown = billing.put("/v1/tiers/free", json={**tier, "providers": ["nope"]})
    assert "nope" in assert_problem(unknown, 400, "bad-request")["detail"]
    tiers = {t["name"]: t for t in billing.get("/v1/tiers").json()}
    assert tiers["free"]["daily_requests"] == 1 and tiers["premium"]["daily_requests"] == 100


def test_breaker_trip_and_reset_by_hand(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    register(app, "ann")
    tripped = oncall.post(
        "/v1/providers/gemini-flash/breaker", json={"action": "trip", "reason": REASON}
    )
    assert tripped.status_code == 200, tripped.text
    assert tripped.json()["breaker"]["state"] == "open" and tripped.json()["breaker"]["manual"]
    assert admit(app, "ann")["provider"] == "fallback"
    providers = {p["name"]: p for p in oncall.get("/v1/providers").json()}
    assert providers["gemini-flash"]["breaker"]["state"] == "open"
    reset = oncall.post(
        "/v1/providers/gemini-flash/breaker", json={"action": "reset", "reason": REASON}
    )
    assert reset.json()["breaker"]["state"] == "closed"
    assert admit(app, "ann")["provider"] == "gemini-flash"


def test_breaker_opens_from_reports(server: LiveServer, app: httpx.Client) -> None:
    register(app, "ann", "unlimited")
    reports = [usage(admit(app, "ann"), status="error") for _ in range(10)]
    assert app.post("/v1/gate/report", json={"reports": reports}).status_code == 200
    admin = server.operator("root", Role.ADMIN)
    providers = {p["name"]: p for p in admin.get("/v1/providers").json()}
    breaker = providers["gpt-4o"]["breaker"]
    assert breaker["state"] == "open" and breaker["failures"] == 10 and breaker["retry_at"]
    assert admit(app, "ann")["provider"] == "gemini-pro"


def test_dry_run_for_support_counts_nothing(server: LiveServer, app: httpx.Client) -> None:
    register(app, "ann")
    support = server.operator("sam", Role.SUPPORT)
    for _ in range(20):
        response = support.post("/v1/gate/dry-run", json={"user_id": "ann"})
        assert response.status_code == 200 and response.json()["allow"] is True
        assert response.json()["decision_id"] is None
    assert admit(app, "ann")["remaining"]["requests_today"] == 9
    assert count(server, DecisionRow) == 1


@pytest.fixture
def restartable(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield db_url, tmp_path


def test_restart_keeps_counts_and_open_decisions(restartable: tuple[str, Path]) -> None:
    db_url, tmp = restartable
    with start_server(db_url, tmp / "a") as first:
        app = first.client(first.app_key())
        register(app, "ann")
        decisions = [admit(app, "ann") for _ in range(9)]
        assert app.post("/v1/gate/report", json=usage(decisions[0])).status_code == 200
        clock = first.clock.now()
    with start_server(db_url, tmp / "b") as second:
        second.clock.set(clock + timedelta(minutes=5))
        app = second.client(second.app_key("backend-2"))
        assert admit(app, "ann")["remaining"]["requests_today"] == 0
        assert admit(app, "ann")["reason"] == "daily_quota"
        # A decision made before the restart can still be reported after it.
        assert app.post("/v1/gate/report", json=usage(decisions[1])).status_code == 200


def test_auto_register_setting(restartable: tuple[str, Path]) -> None:
    db_url, tmp = restartable
    with start_server(db_url, tmp / "a", gate_auto_register=True) as live:
        app = live.client(live.app_key())
        decision = admit(app, "brand-new")
        assert decision["allow"] is True and decision["provider"] == "gemini-flash"
        admin = live.operator("root", Role.ADMIN)
        user = admin.get("/v1/users/brand-new").json()
        assert user["tier"] == "free"


def test_no_over_admission_under_50_parallel_clients(server: LiveServer) -> None:
    key = server.app_key()
    app = server.client(key)
    register(app, "heavy", "unlimited")
    admin = server.operator("root", Role.ADMIN)
    override = admin.patch(
        "/v1/users/heavy", json={"quota_daily_requests": 100, "rate_per_minute": 10_000}
    )
    assert override.status_code == 200, override.text
    clients = [server.client(key) for _ in range(50)]

    def burst(client: httpx.Client) -> int:
        return sum(admit(client, "heavy")["allow"] for _ in range(4))

    with ThreadPoolExecutor(max_workers=50) as pool:
        admitted = sum(pool.map(burst, clients))
    assert admitted == 100
