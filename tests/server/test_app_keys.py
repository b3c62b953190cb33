"""App keys as admins manage them over HTTP: created once-shown, listed without secrets,
revoked for good, audited."""

from __future__ import annotations

import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store


def test_created_key_works_is_listed_without_its_secret_and_is_audited(
    server: LiveServer,
) -> None:
    admin = server.operator("alice")
    server.step_up(admin)
    created = admin.post("/v1/app-keys", json={"name": "backend-prod"})
    assert created.status_code == 201, created.text
    secret = created.json()["key"]
    assert secret.startswith(created.json()["prefix"])

    app = server.client(secret)
    assert app.put("/v1/users/u-1", json={}).status_code in (200, 201)

    listed = admin.get("/v1/app-keys").json()
    assert [(k["name"], k["revoked_at"]) for k in listed] == [("backend-prod", None)]
    assert "key" not in listed[0]
    audit = admin.get("/v1/audit", params={"action": "app_keys.create"}).json()["items"]
    assert [row["target"] for row in audit] == ["app_key:backend-prod"]
    assert secret not in str(audit)


def test_revoked_key_is_refused_at_once_on_the_gate_fast_path(server: LiveServer) -> None:
    admin = server.operator("alice")
    server.step_up(admin)
    secret = admin.post("/v1/app-keys", json={"name": "backend"}).json()["key"]
    app = server.client(secret)
    assert app.put("/v1/users/u-1", json={}).status_code in (200, 201)
    # Warm the app-key cache the gate's fast path reads.
    assert app.post("/v1/gate/admit", json={"user_id": "u-1", "feature": "chat"}).status_code == 200

    revoked = admin.delete("/v1/app-keys/backend")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert_problem(
        app.post("/v1/gate/admit", json={"user_id": "u-1", "feature": "chat"}),
        401,
        "invalid-app-key",
    )
    rows = admin.get("/v1/audit", params={"action": "app_keys.revoke"}).json()["items"]
    assert [(row["actor"], row["target"]) for row in rows] == [("alice", "app_key:backend")]


def test_bad_names_unknown_keys_and_duplicates_get_clear_errors(server: LiveServer) -> None:
    admin = server.operator("alice")
    server.step_up(admin)
    assert_problem(admin.post("/v1/app-keys", json={"name": "Has Spaces"}), 422)
    assert admin.post("/v1/app-keys", json={"name": "backend"}).status_code == 201
    assert_problem(admin.post("/v1/app-keys", json={"name": "backend"}), 409, "conflict")
    assert_problem(admin.delete("/v1/app-keys/nope"), 404, "not-found")
    assert [k["name"] for k in admin.get("/v1/app-keys").json()] == ["backend"]


def test_only_admins_manage_keys_and_creating_needs_step_up(server: LiveServer) -> None:
    oncall = server.operator("olga", Role.ONCALL)
    assert_problem(oncall.get("/v1/app-keys"), 403)
    admin = server.operator("alice")
    assert_problem(admin.post("/v1/app-keys", json={"name": "backend"}), 403, "step-up-required")
