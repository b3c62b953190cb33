"""Batch registration: up to 1000 users in one request, audited like single upserts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.test_users import audit, problem

pytestmark = pytest.mark.store


@pytest.fixture
def app(server: LiveServer) -> httpx.Client:
    return server.client(server.app_key())


@pytest.fixture
def admin(server: LiveServer) -> httpx.Client:
    return server.operator("root", Role.ADMIN)


def batch(app: httpx.Client, users: list[dict[str, Any]], expect: int = 200) -> dict[str, Any]:
    response = app.put("/v1/users", json={"users": users})
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def test_batch_creates_updates_and_audits_each_user(app: httpx.Client, admin: httpx.Client) -> None:
    users = [{"id": f"u{i}", "tier": "premium", "country": "de"} for i in range(1000)]
    assert batch(app, users) == {"created": 1000, "updated": 0, "unchanged": 0}
    first = admin.get("/v1/users/u7").json()
    assert (first["tier"], first["country"], first["status"]) == ("premium", "DE", "active")
    [created] = audit(admin, "u7")
    assert created["action"] == "users.create" and created["after"]["tier"] == "premium"

    # Sent again with one change: one update (one audit row), the rest unchanged.
    again = [{"id": "u7", "tier": "unlimited"}, {"id": "u8", "tier": "premium"}]
    assert batch(app, again) == {"created": 0, "updated": 1, "unchanged": 1}
    assert [row["action"] for row in audit(admin, "u7")] == ["users.create", "users.update"]
    assert audit(admin, "u7")[-1]["before"] == {"tier": "premium"}
    assert len(audit(admin, "u8")) == 1
    # A field left out keeps its value, as with PUT /v1/users/{id}.
    assert admin.get("/v1/users/u7").json()["country"] == "DE"


def test_batch_change_reaches_the_gate_at_once(server: LiveServer, app: httpx.Client) -> None:
    batch(app, [{"id": "ann", "tier": "free"}])
    assert app.post("/v1/gate/admit", json={"user_id": "ann"}).json()["provider"] == "gemini-flash"
    batch(app, [{"id": "ann", "tier": "unlimited"}])
    assert app.post("/v1/gate/admit", json={"user_id": "ann"}).json()["provider"] == "gpt-4o"


@pytest.mark.parametrize(
    ("users", "fragment"),
    [
        ([], "at least 1"),
        ([{"id": "a"}, {"id": "a"}], "once in a batch"),
        ([{"id": "has space"}], "pattern"),
        ([{"id": "a", "country": "XX"}], "country code"),
        ([{"id": f"u{i}"} for i in range(1001)], "at most 1000"),
    ],
)
def test_bad_batches_change_nothing(
    app: httpx.Client, admin: httpx.Client, users: list[dict[str, Any]], fragment: str
) -> None:
    body = problem(app.put("/v1/users", json={"users": users}), 422)
    assert fragment in str(body)
    assert admin.get("/v1/users").json()["items"] == []


def test_one_bad_entry_refuses_the_whole_batch(app: httpx.Client, admin: httpx.Client) -> None:
    users = [{"id": "ok-1"}, {"id": "ok-2", "tier": "platinum"}]
    body = problem(app.put("/v1/users", json={"users": users}), 422)
    assert "platinum" in body["detail"]
    assert admin.get("/v1/users").json()["items"] == []


def test_an_erased_user_refuses_the_whole_batch(
    server: LiveServer, app: httpx.Client, admin: httpx.Client
) -> None:
    batch(app, [{"id": "gone"}])
    server.step_up(admin)
    erased = admin.delete("/v1/users/gone")
    assert erased.status_code == 200, erased.text
    erased_id = erased.json()["id"]
    users = [{"id": "new-1"}, {"id": erased_id, "tier": "premium"}]
    assert "erased" in problem(app.put("/v1/users", json={"users": users}), 409)["detail"]
    assert admin.get("/v1/users/new-1").status_code == 404


def test_only_the_app_key_may_register_in_batches(server: LiveServer, admin: httpx.Client) -> None:
    assert admin.put("/v1/users", json={"users": [{"id": "a"}]}).status_code == 403
    assert server.client().put("/v1/users", json={"users": [{"id": "a"}]}).status_code == 401
