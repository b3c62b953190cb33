"""Automations: off by default; when on, they act as `automation` through the gate's own
change functions (audited, visible as switch and breaker state, applied at once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.live import LiveServer
from tests.server.alerts.helpers import (
    admit,
    audit,
    evaluate,
    later,
    past_usage,
    put_rule,
    register,
    the_alert,
    traffic,
)

pytestmark = pytest.mark.store


def controls(client: httpx.Client) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/controls")
    assert response.status_code == 200, response.text
    return {s["name"]: s for s in response.json()}


def providers(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in client.get("/v1/providers").json()}


def test_automations_are_off_by_default(server: LiveServer, oncall: httpx.Client) -> None:
    rules = oncall.get("/v1/alert-rules").json()
    assert {r["automation"] for r in rules} == {"none"}
    assert {r["name"] for r in rules} >= {
        "cost_spike",
        "error_rate",
        "latency_p95",
        "provider_down",
        "budget_80",
        "budget_90",
        "budget_100",
        "active_users_drop",
        "sla_breach",
        "heavy_user",
    }


def test_cost_spike_switches_to_fallback(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    put_rule(oncall, "cost_spike", automation="fallback_only", for_s=0)
    register(app, "ann")
    now = server.clock.now()
    past_usage(server, "ann", [now - timedelta(hours=h, minutes=30) for h in range(1, 25)], 0.5)
    traffic(app, "ann", 4, cost=0.5)
    later(server, seconds=1)
    evaluate(server)
    alert = the_alert(oncall, "cost_spike")
    assert alert["state"] == "firing"
    assert alert["labels"]["automation_result"] == "turned fallback_only on"
    switch = controls(oncall)["fallback_only"]
    assert switch["active"] is True and switch["set_by"] == "automation:automation"
    assert f"alert #{alert['id']} cost_spike" in switch["reason"]
    [entry] = audit(oncall, action="controls.set", target="switch:fallback_only")
    assert entry["actor_type"] == "automation" and entry["after"]["value"] is True
    assert admit(app, "ann")["provider"] == "fallback"  # the gate obeys at once
    later(server, seconds=5)
    evaluate(server)  # still firing: nothing is done twice
    assert len(audit(oncall, action="controls.set")) == 1


def test_error_spike_trips_that_providers_breaker(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    response = oncall.patch(
        "/v1/providers/gpt-4o", json={"breaker_settings": {"error_rate": 1.0, "timeout_rate": 1.0}}
    )
    assert response.status_code == 200
    put_rule(oncall, "error_rate", automation="trip_breaker", for_s=0)
    register(app, "ann")
    traffic(app, "ann", 20, status="error")
    later(server, seconds=1)
    evaluate(server)
    alert = the_alert(oncall, "error_rate", "gpt-4o")
    assert alert["labels"]["automation_result"] == "tripped the breaker of gpt-4o"
    # All its reports failed, so its health says down: the alert is inhibited (no page), yet
    # the automation still acts.
    assert alert["labels"]["inhibited_by"].startswith("provider gpt-4o is down")
    breaker = providers(oncall)["gpt-4o"]["breaker"]
    assert breaker["state"] == "open" and breaker["manual"] is True
    [entry] = audit(oncall, action="providers.breaker_trip")
    assert entry["actor_type"] == "automation" and entry["target"] == "provider:gpt-4o"
    total = the_alert(oncall, "error_rate", "total")
    assert total["labels"]["automation_result"].startswith("no breaker tripped")
    assert admit(app, "ann")["provider"] == "gemini-pro"  # routed around it


def test_budget_exceeded_pauses_non_premium(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    put_rule(oncall, "budget_100", automation="pause_non_premium")
    response = oncall.put(
        "/v1/controls/global_budget_cap", json={"value": 5, "reason": "tight budget"}
    )
    assert response.status_code == 200
    register(app, "ann")
    traffic(app, "ann", 1, cost=5.0)
    evaluate(server)
    alert = the_alert(oncall, "budget_100")
    assert (
        alert["state"] == "firing" and alert["labels"]["automation_result"] == "paused tiers free"
    )
    switch = controls(oncall)["pause_tiers"]
    assert switch["active"] is True and switch["value"] == ["free"]
    assert switch["set_by"] == "automation:automation"
    [entry] = audit(oncall, action="controls.set", target="switch:pause_tiers")
    assert entry["actor_type"] == "automation"


def test_silenced_rule_does_not_automate(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    put_rule(oncall, "budget_100", automation="pause_non_premium")
    until = (server.clock.now() + timedelta(hours=1)).isoformat()
    response = oncall.post(
        "/v1/silences", json={"rule": "budget_100", "until": until, "reason": "known: launch"}
    )
    assert response.status_code == 201
    response = oncall.put("/v1/controls/global_budget_cap", json={"value": 5, "reason": "tight"})
    assert response.status_code == 200
    register(app, "ann")
    traffic(app, "ann", 1, cost=5.0)
    evaluate(server)
    assert the_alert(oncall, "budget_100")["state"] == "firing"
    assert controls(oncall)["pause_tiers"]["active"] is False
