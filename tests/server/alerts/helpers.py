"""Driving the gate over HTTP and reading alerts back, for the alert tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select

from opsconsole.server.gate.models import DecisionRow, UsageEvent
from opsconsole.server.users.models import User
from opsconsole.wire.alerts import Alert
from tests.live import LiveServer


def register(app: httpx.Client, user_id: str, tier: str = "unlimited") -> None:
    response = app.put(f"/v1/users/{user_id}", json={"email": f"{user_id}@x.io", "tier": tier})
    assert response.status_code in (200, 201), response.text


def admit(app: httpx.Client, user_id: str) -> dict[str, Any]:
    response = app.post("/v1/gate/admit", json={"user_id": user_id, "feature": "coach"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["allow"], body
    return body


def traffic(
    app: httpx.Client,
    user_id: str,
    n: int,
    *,
    status: str = "ok",
    latency_ms: float = 800.0,
    cost: float | None = None,
) -> list[dict[str, Any]]:
    """`n` admitted requests of one user, each reported with the given outcome."""
    decisions = [admit(app, user_id) for _ in range(n)]
    reports = [
        {
            "decision_id": d["decision_id"],
            "provider": d["provider"],
            "model": d["model"],
            "input_tokens": 500,
            "output_tokens": 200,
            "latency_ms": latency_ms,
            "status": status,
            **({"cost": cost} if cost is not None else {}),
        }
        for d in decisions
    ]
    response = app.post("/v1/gate/report", json={"reports": reports})
    assert response.status_code == 200, response.text
    return decisions


def evaluate(server: LiveServer) -> list[Alert]:
    """One round of evaluation at the server's clock time (decisions written first)."""
    server.gate_flush()
    changed: list[Alert] = server.app.state.alerts.evaluate(server.clock.now())
    return changed


def alerts(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/alerts", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def the_alert(client: httpx.Client, rule: str, subject: str = "total") -> dict[str, Any]:
    """The newest alert of a rule about a subject."""
    found = [a for a in alerts(client, rule=rule) if a["subject"] == subject]
    assert found, f"no {rule} alert about {subject}: {alerts(client)}"
    return found[0]


def state_of(client: httpx.Client, rule: str, subject: str = "total") -> str | None:
    found = [a for a in alerts(client, rule=rule) if a["subject"] == subject]
    return str(found[0]["state"]) if found else None


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def put_rule(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    response = client.put(f"/v1/alert-rules/{name}", json=fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audit(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["items"]
    return entries


def past_usage(server: LiveServer, user_id: str, at_times: list[datetime], cost: float) -> None:
    """Usage (and its decisions) recorded earlier, as the gate would have written it."""
    with server.db.writing() as session:
        user_pk = session.scalar(select(User.pk).where(User.id == user_id))
        for index, moment in enumerate(at_times):
            decision_id = f"past-{user_id}-{index}-{moment.timestamp():.0f}"
            session.execute(
                insert(DecisionRow).values(
                    decision_id=decision_id,
                    at=moment,
                    user_pk=user_pk,
                    tier="unlimited",
                    feature="coach",
                    allow=True,
                    reason="ok",
                    provider="gpt-4o",
                    model="gpt-4o",
                )
            )
            session.execute(
                insert(UsageEvent).values(
                    decision_id=decision_id,
                    at=moment,
                    decided_at=moment,
                    user_pk=user_pk,
                    tier="unlimited",
                    feature="coach",
                    provider="gpt-4o",
                    model="gpt-4o",
                    input_tokens=500,
                    output_tokens=200,
                    latency_ms=800.0,
                    status="ok",
                    cost=cost,
                )
            )


def later(server: LiveServer, **delta: float) -> None:
    server.clock.advance(timedelta(**delta))
