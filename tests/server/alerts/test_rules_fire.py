"""Every default rule fires after its `for` duration and resolves when its condition ends.

Real admits and reports over HTTP with an app key; the ManualClock moves and each round of
evaluation runs at the clock's time. History older than the server (last week's users, the
trailing day's cost) is written into the tables as the gate would have written it.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.live import LiveServer
from tests.server.alerts.helpers import (
    at,
    evaluate,
    later,
    past_usage,
    put_rule,
    register,
    state_of,
    the_alert,
    traffic,
)

pytestmark = pytest.mark.store


def relax_breaker(oncall: httpx.Client, provider: str = "gpt-4o") -> None:
    """Keep the provider's breaker closed whatever its error rate (the alert is under test)."""
    response = oncall.patch(
        f"/v1/providers/{provider}",
        json={"breaker_settings": {"error_rate": 1.0, "timeout_rate": 1.0}},
    )
    assert response.status_code == 200, response.text


def test_error_rate_per_provider_and_total(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    relax_breaker(oncall)
    register(app, "ann")
    traffic(app, "ann", 16)
    traffic(app, "ann", 4, status="error")  # 20% of 20 reports, threshold 5%, for 60 s
    t0 = server.clock.now()
    later(server, seconds=1)  # the second of the reports has closed
    evaluate(server)
    for subject in ("total", "gpt-4o"):
        alert = the_alert(oncall, "error_rate", subject)
        assert alert["state"] == "pending" and alert["value"] == pytest.approx(20.0)
    assert the_alert(oncall, "error_rate", "gpt-4o")["labels"]["provider"] == "gpt-4o"
    later(server, seconds=59)
    evaluate(server)
    assert state_of(oncall, "error_rate") == "pending"  # 59 s of the 60
    later(server, seconds=1)
    evaluate(server)
    firing = the_alert(oncall, "error_rate")
    assert firing["state"] == "firing" and at(firing["firing_since"]) == server.clock.now()
    assert "20.0%" in firing["summary"] and "4 of 20" in firing["summary"]

    server.clock.set(t0 + timedelta(seconds=300))  # the reports are still in the 5 min window
    evaluate(server)
    assert state_of(oncall, "error_rate") == "firing"
    server.clock.set(t0 + timedelta(seconds=301))
    evaluate(server)
    for subject in ("total", "gpt-4o"):
        resolved = the_alert(oncall, "error_rate", subject)
        assert resolved["state"] == "resolved"
        assert at(resolved["resolved_at"]) == server.clock.now()


def test_error_rate_needs_its_floor_of_reports(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    register(app, "ann")
    traffic(app, "ann", 5, status="error")  # 100% errors, but 5 reports of the 20 needed
    later(server, seconds=1)
    evaluate(server)
    later(server, minutes=2)
    evaluate(server)
    assert state_of(oncall, "error_rate") is None


def test_latency_p95(server: LiveServer, app: httpx.Client, oncall: httpx.Client) -> None:
    register(app, "ann")
    traffic(app, "ann", 10, latency_ms=7000.0)  # over 5 s, under the breaker's 10 s timeout
    t0 = server.clock.now()
    later(server, seconds=1)
    evaluate(server)
    assert state_of(oncall, "latency_p95") == "pending"
    later(server, seconds=119)
    evaluate(server)
    assert state_of(oncall, "latency_p95") == "pending"
    later(server, seconds=1)  # for 120 s
    evaluate(server)
    alert = the_alert(oncall, "latency_p95", "gpt-4o")
    assert alert["state"] == "firing" and alert["value"] == pytest.approx(7000.0, rel=0.02)
    # Fast requests push p95 down within the window (four users: 60 requests/min each).
    for name in ("b0", "b1", "b2", "b3"):
        register(app, name)
        traffic(app, name, 50, latency_ms=300.0)
    later(server, seconds=1)
    evaluate(server)
    assert state_of(oncall, "latency_p95", "gpt-4o") == "resolved"
    assert server.clock.now() - t0 < timedelta(seconds=300)


def test_provider_down(server: LiveServer, oncall: httpx.Client) -> None:
    response = oncall.post(
        "/v1/providers/gpt-4o/breaker", json={"action": "trip", "reason": "vendor outage"}
    )
    assert response.status_code == 200, response.text
    evaluate(server)
    alert = the_alert(oncall, "provider_down", "gpt-4o")
    assert alert["state"] == "pending" and alert["severity"] == "critical"
    later(server, seconds=60)
    evaluate(server)
    assert state_of(oncall, "provider_down", "gpt-4o") == "firing"
    response = oncall.post(
        "/v1/providers/gpt-4o/breaker", json={"action": "reset", "reason": "vendor is back"}
    )
    assert response.status_code == 200, response.text
    later(server, seconds=5)
    evaluate(server)
    resolved = the_alert(oncall, "provider_down", "gpt-4o")
    assert resolved["state"] == "resolved" and at(resolved["resolved_at"]) == server.clock.now()


def test_cost_spike(server: LiveServer, app: httpx.Client, oncall: httpx.Client) -> None:
    register(app, "ann")
    now = server.clock.now()
    # Yesterday's rhythm: $0.50 an hour for a day, before the last hour.
    past_usage(server, "ann", [now - timedelta(hours=h, minutes=30) for h in range(1, 25)], 0.5)
    traffic(app, "ann", 4, cost=0.5)  # $2 in the last hour: 300% above $0.50/h
    t0 = server.clock.now()
    later(server, seconds=1)
    evaluate(server)
    alert = the_alert(oncall, "cost_spike")
    assert alert["state"] == "pending"
    assert alert["value"] == pytest.approx(300.0, rel=0.05)
    assert alert["labels"]["baseline_per_hour"] == pytest.approx(0.5, rel=0.05)
    later(server, seconds=599)
    evaluate(server)
    assert state_of(oncall, "cost_spike") == "pending"
    later(server, seconds=1)  # for 10 min
    evaluate(server)
    assert state_of(oncall, "cost_spike") == "firing"
    server.clock.set(t0 + timedelta(seconds=3601))  # the spike has left the hour
    evaluate(server)
    assert state_of(oncall, "cost_spike") == "resolved"


def test_global_budget_levels(server: LiveServer, app: httpx.Client, oncall: httpx.Client) -> None:
    response = oncall.put(
        "/v1/controls/global_budget_cap", json={"value": 10, "reason": "tight budget today"}
    )
    assert response.status_code == 200, response.text
    register(app, "ann")
    traffic(app, "ann", 1, cost=8.5)
    evaluate(server)  # for 0 s: firing at once
    assert state_of(oncall, "budget_80") == "firing"
    assert state_of(oncall, "budget_90") is None
    traffic(app, "ann", 1, cost=1.0)
    evaluate(server)
    assert state_of(oncall, "budget_90") == "firing"
    assert state_of(oncall, "budget_100") is None
    traffic(app, "ann", 1, cost=0.6)
    evaluate(server)
    alert = the_alert(oncall, "budget_100")
    assert alert["state"] == "firing" and alert["value"] == pytest.approx(101.0)
    assert "$10.10 of $10.00" in alert["summary"]
    # A new day: today's spend starts again (the week's $10 is 1% of its $1,000 cap).
    server.clock.set(server.clock.now().replace(hour=0, minute=0, second=0) + timedelta(days=1))
    evaluate(server)
    for name in ("budget_80", "budget_90", "budget_100"):
        assert state_of(oncall, name) == "resolved"


def test_active_users_drop(server: LiveServer, app: httpx.Client, oncall: httpx.Client) -> None:
    put_rule(oncall, "active_users_drop", floor=3)
    names = [f"u{i}" for i in range(5)]
    for name in names:
        register(app, name)
    now = server.clock.now()
    for name in names:  # five users in this hour last week
        past_usage(server, name, [now - timedelta(days=7, minutes=20)], 0.01)
    traffic(app, "u0", 1)
    traffic(app, "u1", 1)  # two now: 60% fewer, threshold 20%
    later(server, seconds=1)
    evaluate(server)
    alert = the_alert(oncall, "active_users_drop")
    assert alert["state"] == "pending" and alert["value"] == pytest.approx(60.0)
    later(server, seconds=899)
    evaluate(server)
    assert state_of(oncall, "active_users_drop") == "pending"
    later(server, seconds=1)  # for 15 min
    evaluate(server)
    assert state_of(oncall, "active_users_drop") == "firing"
    for name in names[2:]:
        traffic(app, name, 1)
    later(server, seconds=1)
    evaluate(server)
    assert state_of(oncall, "active_users_drop") == "resolved"


def test_tickets_breaching_sla(server: LiveServer, app: httpx.Client, oncall: httpx.Client) -> None:
    register(app, "ann")
    response = app.post(
        "/v1/tickets",
        json={"user_id": "ann", "subject": "charged twice", "body": "help", "priority": "urgent"},
    )
    assert response.status_code == 201, response.text
    ticket = response.json()["id"]
    later(server, hours=1)  # at the first-response deadline: not late yet
    evaluate(server)
    assert state_of(oncall, "sla_breach", "tickets") is None
    later(server, seconds=1)
    evaluate(server)
    alert = the_alert(oncall, "sla_breach", "tickets")
    assert alert["state"] == "firing" and alert["labels"]["tickets"] == [ticket]
    assert f"#{ticket}" in alert["summary"]
    response = oncall.patch(f"/v1/tickets/{ticket}", json={"status": "resolved"})
    assert response.status_code == 200, response.text
    evaluate(server)
    assert state_of(oncall, "sla_breach", "tickets") == "resolved"


def test_heavy_user(server: LiveServer, app: httpx.Client, oncall: httpx.Client) -> None:
    put_rule(oncall, "heavy_user", threshold=50, floor=1)
    register(app, "whale")
    register(app, "minnow")
    traffic(app, "whale", 3, cost=1.0)
    traffic(app, "minnow", 1, cost=0.5)  # whale: $3 of $3.50 today
    evaluate(server)
    alert = the_alert(oncall, "heavy_user", "whale")
    assert alert["state"] == "pending" and alert["value"] == pytest.approx(100 * 3 / 3.5)
    assert state_of(oncall, "heavy_user", "minnow") is None
    later(server, seconds=300)
    evaluate(server)
    assert state_of(oncall, "heavy_user", "whale") == "firing"
    traffic(app, "minnow", 5, cost=1.0)  # whale: $3 of $8.50
    evaluate(server)
    assert state_of(oncall, "heavy_user", "whale") == "resolved"
