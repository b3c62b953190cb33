"""Webhooks: Slack-compatible messages, retried with growing delays, never holding up
evaluation."""

from __future__ import annotations

import time

import httpx

from tests.live import LiveServer
from tests.server.alerts.helpers import evaluate, later
from tests.server.alerts.receiver import Receiver


def trip(oncall: httpx.Client, provider: str, action: str = "trip") -> None:
    response = oncall.post(
        f"/v1/providers/{provider}/breaker", json={"action": action, "reason": "vendor outage"}
    )
    assert response.status_code == 200, response.text


def test_retries_with_backoff_until_the_receiver_accepts(
    server: LiveServer, oncall: httpx.Client, receiver: Receiver
) -> None:
    receiver.fail_first = 3
    trip(oncall, "gpt-4o")
    evaluate(server)
    later(server, seconds=60)
    started = time.monotonic()
    [alert] = evaluate(server)
    took = time.monotonic() - started
    notifier = server.app.state.alerts.notifier
    assert notifier.flush(timeout=20)
    # 0.05 s, 0.1 s, 0.2 s (+-20%) between the four attempts: evaluation did not wait for them.
    assert took < 0.3, took
    assert len(receiver.attempts) == 4
    gaps = [b - a for a, b in zip(receiver.attempts, receiver.attempts[1:], strict=False)]
    for gap, base in zip(gaps, (0.05, 0.1, 0.2), strict=True):
        assert base * 0.8 <= gap <= base * 1.2 + 0.25, gaps
    [body] = receiver.bodies
    assert body["event"] == "firing" and body["alert"]["id"] == alert.id
    assert body["text"].startswith(":rotating_light: [CRITICAL] provider_down on gpt-4o")
    assert notifier.stats.delivered == 1 and notifier.stats.failed == 0

    # The resolution follows, and so does an ack in between.
    response = oncall.post(f"/v1/alerts/{alert.id}/ack", json={"comment": "on it"})
    assert response.status_code == 200
    trip(oncall, "gpt-4o", "reset")
    evaluate(server)
    assert notifier.flush(timeout=20)
    assert [b["event"] for b in receiver.bodies] == ["firing", "acknowledged", "resolved"]
    assert "olga acknowledged" in receiver.bodies[1]["text"]
    assert receiver.bodies[2]["text"].startswith(":white_check_mark: RESOLVED provider_down")


def test_gives_up_after_the_last_attempt(
    server: LiveServer, oncall: httpx.Client, receiver: Receiver
) -> None:
    receiver.fail_first = 1000
    trip(oncall, "gpt-4o")
    put = oncall.put("/v1/alert-rules/provider_down", json={"for_s": 0})
    assert put.status_code == 200
    evaluate(server)
    notifier = server.app.state.alerts.notifier
    assert notifier.flush(timeout=30)
    assert len(receiver.attempts) == server.settings.alerts_webhook_attempts
    assert receiver.bodies == []
    assert notifier.stats.failed == 1 and "gave up" in notifier.stats.errors[-1]


def test_a_pending_alert_pages_nobody(
    server: LiveServer, oncall: httpx.Client, receiver: Receiver
) -> None:
    trip(oncall, "gpt-4o")
    evaluate(server)  # pending for 60 s
    later(server, seconds=30)
    trip(oncall, "gpt-4o", "reset")
    evaluate(server)  # gone before it fired
    server.app.state.alerts.notifier.flush()
    assert receiver.attempts == []
