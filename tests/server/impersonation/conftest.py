"""Fixtures for the impersonation tests: a live server, the app's key, operators by role."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer

REASON = "ticket 7: the coach answers in the wrong language"


@pytest.fixture
def app(server: LiveServer) -> httpx.Client:
    return server.client(server.app_key())


@pytest.fixture
def admin(server: LiveServer) -> httpx.Client:
    return server.operator("root", Role.ADMIN)


@pytest.fixture
def support(server: LiveServer) -> httpx.Client:
    return server.operator("sam", Role.SUPPORT)


def register(app: httpx.Client, user_id: str, tier: str = "premium") -> None:
    response = app.put(f"/v1/users/{user_id}", json={"email": f"{user_id}@x.io", "tier": tier})
    assert response.status_code in (200, 201), response.text


def start(client: httpx.Client, user_id: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/impersonations", json={"user_id": user_id, "reason": REASON, **body}
    )
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def introspect(app: httpx.Client, token: str) -> dict[str, Any]:
    response = app.post("/v1/impersonations/introspect", json={"token": token})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def audit(admin: httpx.Client, user_id: str, action: str = "impersonation.") -> list[Any]:
    """The impersonation rows about a user, oldest first."""
    response = admin.get(
        "/v1/audit", params={"target": f"user:{user_id}", "action": action, "limit": 500}
    )
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))
