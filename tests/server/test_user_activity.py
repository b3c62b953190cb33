"""A user's activity for the console's user details: use against limits, last requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store


@pytest.fixture
def app(server: LiveServer) -> httpx.Client:
    return server.client(server.app_key())


@pytest.fixture
def support(server: LiveServer) -> httpx.Client:
    return server.operator("sam", Role.SUPPORT)


def register(app: httpx.Client, user_id: str, tier: str) -> None:
    response = app.put(f"/v1/users/{user_id}", json={"tier": tier})
    assert response.status_code in (200, 201), response.text


def admit(app: httpx.Client, user_id: str, feature: str = "coach") -> dict[str, Any]:
    response = app.post("/v1/gate/admit", json={"user_id": user_id, "feature": feature})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def report(app: httpx.Client, decision: dict[str, Any], **extra: Any) -> None:
    body = {
        "decision_id": decision["decision_id"],
        "provider": decision["provider"],
        "model": decision["model"],
        "input_tokens": 1000,
        "output_tokens": 500,
        "latency_ms": 850.0,
        "status": "ok",
        **extra,
    }
    response = app.post("/v1/gate/report", json=body)
    assert response.status_code == 200, response.text


def usage(client: httpx.Client, user_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/users/{user_id}/usage")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def requests_of(client: httpx.Client, user_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/users/{user_id}/requests", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_usage_against_the_tier_limits(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "ann", "premium")
    fresh = usage(support, "ann")
    assert (fresh["requests_today"], fresh["spent_week"], fresh["spent_today"]) == (0, 0.0, 0.0)
    assert fresh["limits"] == {
        "daily_requests": 100,
        "weekly_budget": 5.0,
        "monthly_budget": 20.0,
        "rate_per_minute": 30,
        "budget_bonus": None,
        "budget_bonus_until": None,
        "overridden": [],
    }

    decisions = [admit(app, "ann") for _ in range(3)]
    report(app, decisions[0], cost=0.25)
    report(app, decisions[1], cost=0.5, status="error")
    figures = usage(support, "ann")
    assert figures["requests_today"] == 3
    assert figures["spent_today"] == figures["spent_week"] == figures["spent_month"] == 0.75
    assert figures["errors_today"] == 1
    assert figures["remaining"] == {
        "requests_today": 97,
        "budget_week": 4.25,
        "budget_month": 19.25,
    }
    # What the next admission says agrees with the figures.
    assert admit(app, "ann")["remaining"]["requests_today"] == 96
    # 2026-01-05 09:00 UTC is a Monday: the day, the ISO week and the month reset at midnight.
    assert figures["day_resets_at"].startswith("2026-01-06T00:00:00")
    assert figures["week_resets_at"].startswith("2026-01-12T00:00:00")
    assert figures["month_resets_at"].startswith("2026-02-01T00:00:00")

    server.clock.advance(timedelta(days=1))  # Tuesday: a new day, the same week
    support = server.client(server.login("sam"))  # the idle session ended meanwhile
    next_day = usage(support, "ann")
    assert (next_day["requests_today"], next_day["spent_today"]) == (0, 0.0)
    assert next_day["spent_week"] == next_day["spent_month"] == 0.75


def test_usage_against_overrides_and_a_live_bonus(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "bob", "free")
    until = server.clock.now() + timedelta(hours=2)
    response = support.patch(
        "/v1/users/bob",
        json={
            "quota_daily_requests": 3,
            "budget_bonus": 1.5,
            "budget_bonus_until": until.isoformat(),
            "reason": "ticket 12: a demo for their school",
        },
    )
    assert response.status_code == 200, response.text
    limits = usage(support, "bob")["limits"]
    assert limits["daily_requests"] == 3 and limits["overridden"] == ["daily_requests"]
    assert (limits["weekly_budget"], limits["monthly_budget"]) == (2.0, 3.5)  # 0.5 + 1.5, 2 + 1.5
    assert limits["budget_bonus"] == 1.5

    server.clock.advance(timedelta(hours=2))
    support = server.client(server.login("sam"))  # the idle session ended meanwhile
    limits = usage(support, "bob")["limits"]
    assert (limits["weekly_budget"], limits["budget_bonus"]) == (0.5, None)


def test_last_requests_with_denials_and_reports(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "cat", "free")
    response = support.patch(
        "/v1/users/cat", json={"quota_daily_requests": 2, "reason": "trial user"}
    )
    assert response.status_code == 200, response.text
    first = admit(app, "cat", "coach")
    server.clock.advance(timedelta(seconds=1))
    second = admit(app, "cat", "summary")
    server.clock.advance(timedelta(seconds=1))
    refused = admit(app, "cat")
    assert refused["allow"] is False and refused["reason"] == "daily_quota"
    report(app, first, latency_ms=1234.5, input_tokens=800, output_tokens=200, cost=0.002)
    server.gate_flush()

    items = requests_of(support, "cat")["items"]
    assert [(i["allow"], i["reason"]) for i in items] == [
        (False, "daily_quota"),
        (True, "ok"),
        (True, "ok"),
    ]
    denial, unreported, reported = items
    assert denial["decision_id"] is None and denial["report"] is None
    assert "today's requests" in denial["reason_text"]
    assert unreported["decision_id"] == second["decision_id"] and unreported["report"] is None
    assert unreported["feature"] == "summary"
    assert reported["decision_id"] == first["decision_id"]
    assert (reported["provider"], reported["model"]) == (first["provider"], first["model"])
    assert reported["report"] == {
        "at": reported["report"]["at"],
        "latency_ms": 1234.5,
        "status": "ok",
        "input_tokens": 800,
        "output_tokens": 200,
        "cost": 0.002,
    }
    assert usage(support, "cat")["denied_today"] == 1
    assert [i["reason"] for i in requests_of(support, "cat", allow="false")["items"]] == [
        "daily_quota"
    ]


def test_requests_page_by_cursor(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "dan", "premium")
    register(app, "eve", "premium")
    ids = []
    for _ in range(5):
        ids.append(admit(app, "dan")["decision_id"])
        admit(app, "eve")  # another user's requests never show
    server.gate_flush()
    seen: list[str] = []
    page = requests_of(support, "dan", limit=2)
    while True:
        assert len(page["items"]) <= 2
        seen += [item["decision_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        page = requests_of(support, "dan", limit=2, cursor=page["next_cursor"])
    assert seen == list(reversed(ids))  # newest first, each once
    assert requests_of(support, "dan")["next_cursor"] is None  # 100 by default
    assert_problem(support.get("/v1/users/dan/requests", params={"cursor": "garbage"}), 400)
    assert_problem(support.get("/v1/users/dan/requests", params={"limit": 501}), 422)


def test_unknown_users_and_roles_without_users_read(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    assert_problem(support.get("/v1/users/nobody/usage"), 404)
    assert_problem(support.get("/v1/users/nobody/requests"), 404)
    register(app, "fay", "free")
    viewer = server.operator("wally", Role.VIEWER)
    for path in ("/v1/users/fay/usage", "/v1/users/fay/requests"):
        assert_problem(viewer.get(path), 403, "forbidden")
        assert_problem(app.get(path), 403, "forbidden")


def test_the_users_tickets_come_from_the_ticket_list(
    app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "gus", "free")
    register(app, "hal", "free")
    for user_id in ("gus", "hal"):
        response = app.post(
            "/v1/tickets", json={"user_id": user_id, "subject": "slow", "body": "why?"}
        )
        assert response.status_code == 201, response.text
    listed = support.get("/v1/tickets", params={"user": "gus"}).json()["items"]
    assert [ticket["user_id"] for ticket in listed] == ["gus"]
