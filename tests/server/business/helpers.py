"""Shared by the business tests: driving the real gate, and prices from the database."""

from __future__ import annotations

from typing import Any

import httpx


def register(app: httpx.Client, user_id: str, tier: str = "free") -> None:
    response = app.put(f"/v1/users/{user_id}", json={"email": f"{user_id}@x.io", "tier": tier})
    assert response.status_code in (200, 201), response.text


def admit(app: httpx.Client, user_id: str, feature: str = "aiCoach") -> dict[str, Any]:
    response = app.post("/v1/gate/admit", json={"user_id": user_id, "feature": feature})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def report(
    app: httpx.Client,
    decision: dict[str, Any],
    *,
    input_tokens: int,
    output_tokens: int,
    status: str = "ok",
) -> None:
    body = {
        "decision_id": decision["decision_id"],
        "provider": decision["provider"],
        "model": decision["model"],
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "latency_ms": 500.0,
        "status": status,
        # A failed call is not billed; a successful one is priced by the server.
        "cost": 0.0 if status != "ok" else None,
    }
    response = app.post("/v1/gate/report", json=body)
    assert response.status_code == 200, response.text
