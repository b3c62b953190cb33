"""Provider health and its changes, the summary tiles and the Prometheus figures."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from opsconsole.wire.common import Role
from opsconsole.wire.stream import HealthChange
from tests.live import LiveServer
from tests.server.metrics.helpers import admit, register, report

pytestmark = pytest.mark.store


def tick(live: LiveServer) -> None:
    live.clock.advance(timedelta(seconds=1))
    live.app.state.metrics.tick_once(live.clock.now())


def health_of(client: httpx.Client, name: str) -> dict[str, object]:
    response = client.get("/v1/metrics/health")
    assert response.status_code == 200, response.text
    found: dict[str, object] = next(h for h in response.json() if h["name"] == name)
    return found


def test_slow_provider_degrades_and_open_breaker_is_down(
    live: LiveServer, app: httpx.Client
) -> None:
    changes: list[HealthChange] = []
    live.app.state.metrics.on_health_change(changes.append)
    viewer = live.operator("wall", Role.VIEWER)
    register(app, "ann", "premium")
    tick(live)  # the baseline: every provider healthy, no change to tell
    assert health_of(viewer, "gemini-flash")["status"] == "healthy" and changes == []

    for _ in range(10):
        report(app, admit(app, "ann"), latency_ms=8000.0)
    tick(live)

    slow = health_of(viewer, "gemini-flash")
    assert slow["status"] == "degraded" and slow["breaker"] == "closed"
    assert slow["p95_ms"] == pytest.approx(8000.0, rel=0.01)
    assert "p95 latency 8" in str(slow["reason"]) and "above 5000 ms" in str(slow["reason"])
    assert slow["success_rate"] == 1.0 and slow["share"] == 1.0
    assert [(c.provider, c.before, c.after) for c in changes] == [
        ("gemini-flash", "healthy", "degraded")
    ]

    oncall = live.operator("olga", Role.ONCALL)
    tripped = oncall.post(
        "/v1/providers/gemini-flash/breaker", json={"action": "trip", "reason": "incident 7"}
    )
    assert tripped.status_code == 200, tripped.text
    tick(live)

    down = health_of(viewer, "gemini-flash")
    assert down["status"] == "down" and down["breaker"] == "open"
    assert "circuit breaker open by an operator" in str(down["reason"])
    assert changes[-1].after == "down" and "breaker open" in changes[-1].reason

    oncall.post(
        "/v1/providers/gemini-flash/breaker", json={"action": "reset", "reason": "fixed now"}
    )
    live.clock.advance(timedelta(minutes=6))  # the slow reports leave the 5-minute window
    live.app.state.metrics.tick_once(live.clock.now())
    assert health_of(viewer, "gemini-flash")["status"] == "healthy"
    assert changes[-1].after == "healthy"


def test_failing_provider_is_down_from_its_success_rate(
    live: LiveServer, app: httpx.Client
) -> None:
    register(app, "ann", "unlimited")
    for index in range(10):
        decision = admit(app, "ann")
        report(app, decision, status="error" if index % 2 else "ok")
    tick(live)
    by_name = {h.name: h for h in live.app.state.metrics.aggregator.health(live.clock.now())}
    failing = [h for h in by_name.values() if h.success_rate is not None]
    assert failing and all(h.status == "down" for h in failing)
    assert all("below 50%" in h.reason or "breaker open" in h.reason for h in failing)


def test_summary_tiles(live: LiveServer, app: httpx.Client) -> None:
    viewer = live.operator("wall", Role.VIEWER)
    register(app, "ann", "premium")
    register(app, "bob", "premium")
    for user, latency, status in (("ann", 500.0, "ok"), ("bob", 700.0, "error")):
        report(app, admit(app, user), latency_ms=latency, status=status, cost=0.25)
    tick(live)

    summary = viewer.get("/v1/metrics/summary").json()

    assert summary["active_users_now"] == summary["active_users_today"] == 2
    assert summary["requests_per_s"] == pytest.approx(2 / 60)
    assert summary["cost_per_hour"] == summary["cost_today"] == pytest.approx(0.5)
    assert summary["daily_target"] == 200.0
    assert summary["p95_latency_ms"] == pytest.approx(500.0, rel=0.01)
    assert summary["error_rate"] == 0.5
    assert summary["spend_by_provider_24h"]["gemini-flash"] == pytest.approx(0.5)
    assert summary["spend_by_provider_24h"]["gpt-4o"] == 0.0
    assert {h["name"] for h in summary["health"]} >= {"gemini-flash", "fallback"}

    oncall = live.operator("olga", Role.ONCALL)
    live.step_up(oncall)
    capped = oncall.put(
        "/v1/controls/global_budget_cap", json={"value": 50, "reason": "cost spike, incident 9"}
    )
    assert capped.status_code == 200, capped.text
    assert viewer.get("/v1/metrics/summary").json()["daily_target"] == 50.0


def test_prometheus_figures(live: LiveServer, app: httpx.Client) -> None:
    register(app, "ann", "premium")
    for _ in range(3):
        report(app, admit(app, "ann"), latency_ms=900.0)
    report(app, admit(app, "ann"), latency_ms=900.0, status="timeout")
    admit(app, "nobody")
    tick(live)

    text = live.client().get("/metrics").text

    for line in (
        'opsconsole_gate_decisions_total{reason="ok"} 4.0',
        'opsconsole_gate_decisions_total{reason="unknown_user"} 1.0',
        'opsconsole_gate_reports_total{provider="gemini-flash",status="ok"} 3.0',
        'opsconsole_gate_reports_total{provider="gemini-flash",status="timeout"} 1.0',
        'opsconsole_gate_tokens_total{direction="input",provider="gemini-flash"} 4800.0',
        'opsconsole_active_users{window="5m"} 1.0',
        'opsconsole_provider_health{provider="gemini-flash"} 0.0',
        'opsconsole_provider_success_ratio{provider="gemini-flash"} 0.75',
    ):
        assert line in text, line
    assert 'opsconsole_provider_latency_ms{provider="gemini-flash",quantile="0.95"} 9' in text
    assert 'opsconsole_gate_decision_microseconds{quantile="0.5"}' in text
    assert "opsconsole_gate_cost_dollars_total" in text
