"""Operators and their sessions as admins manage them, and where app keys may go."""

from __future__ import annotations

import pytest

from opsconsole.wire.common import Role
from tests.live import DEFAULT_PASSWORD, LiveServer
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store


def session_owners(client: object) -> list[str]:
    response = client.get("/v1/auth/sessions")  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return sorted(item["username"] for item in response.json())


def test_admin_sees_every_session_others_only_their_own(server: LiveServer) -> None:
    admin = server.operator("alice")
    bob = server.operator("bob", Role.SUPPORT)
    server.operator("carol", Role.VIEWER)
    assert session_owners(admin) == ["alice", "bob", "carol"]
    assert session_owners(bob) == ["bob"]
    assert [s["current"] for s in bob.get("/v1/auth/sessions").json()] == [True]


def test_admin_ends_a_session_and_its_token_dies(server: LiveServer) -> None:
    admin = server.operator("alice")
    bob = server.operator("bob", Role.SUPPORT)
    bob_other = server.client(server.login("bob"))
    (target,) = [s["id"] for s in bob.get("/v1/auth/sessions").json() if s["current"]]
    assert admin.delete(f"/v1/auth/sessions/{target}").status_code == 204
    assert_problem(bob.get("/v1/auth/me"), 401, "session-revoked")
    assert bob_other.get("/v1/auth/me").status_code == 200


def test_others_cannot_end_someone_elses_session(server: LiveServer) -> None:
    admin = server.operator("alice")
    bob = server.operator("bob", Role.ONCALL)
    (target,) = [s["id"] for s in admin.get("/v1/auth/sessions").json() if s["current"]]
    assert_problem(bob.delete(f"/v1/auth/sessions/{target}"), 404, "not-found")
    assert admin.get("/v1/auth/me").status_code == 200
    # Their own, yes.
    (own,) = [s["id"] for s in bob.get("/v1/auth/sessions").json()]
    assert bob.delete(f"/v1/auth/sessions/{own}").status_code == 204
    assert_problem(bob.get("/v1/auth/me"), 401, "session-revoked")


def test_admin_lists_operators(server: LiveServer) -> None:
    admin = server.operator("alice")
    server.create_operator("bob", Role.BILLING)
    response = admin.get("/v1/operators")
    assert response.status_code == 200
    listed = {o["username"]: o for o in response.json()}
    assert listed["bob"]["role"] == "billing"
    assert "password_hash" not in listed["bob"] and "totp_secret" not in listed["bob"]


def test_disabling_an_operator_ends_all_their_sessions_at_once(server: LiveServer) -> None:
    admin = server.operator("alice")
    bobs = [server.operator("bob", Role.SUPPORT)] + [
        server.client(server.login("bob")) for _ in range(2)
    ]
    server.step_up(admin)
    response = admin.patch("/v1/operators/bob", json={"disabled": True})
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is True
    for client in bobs:
        assert_problem(client.get("/v1/auth/me"), 401)
    assert session_owners(admin) == ["alice"]
    # A disabled operator cannot log in, and gets the answer a wrong password gets.
    login = server.client().post(
        "/v1/auth/login", json={"username": "bob", "password": DEFAULT_PASSWORD}
    )
    assert_problem(login, 401, "bad-credentials")
    # Enabled again: a new login works, the old sessions stay dead.
    assert admin.patch("/v1/operators/bob", json={"disabled": False}).status_code == 200
    assert server.client(server.login("bob")).get("/v1/auth/me").status_code == 200
    for client in bobs:
        assert_problem(client.get("/v1/auth/me"), 401, "session-revoked")


def test_role_change_takes_effect_on_live_sessions(server: LiveServer) -> None:
    admin = server.operator("alice")
    bob = server.operator("bob", Role.ADMIN)
    assert bob.get("/v1/operators").status_code == 200
    server.step_up(admin)
    assert admin.patch("/v1/operators/bob", json={"role": "viewer"}).json()["role"] == "viewer"
    assert_problem(bob.get("/v1/operators"), 403, "forbidden")


@pytest.mark.parametrize("change", [{"role": "viewer"}, {"role": "admin"}, {"disabled": True}])
def test_an_admin_cannot_demote_or_disable_themselves(
    server: LiveServer, change: dict[str, object]
) -> None:
    admin = server.operator("alice")
    server.step_up(admin)
    assert_problem(admin.patch("/v1/operators/alice", json=change), 409, "self-change")
    me = admin.get("/v1/auth/me").json()["operator"]
    assert (me["role"], me["disabled"]) == ("admin", False)


def test_create_operator_then_they_log_in(server: LiveServer) -> None:
    admin = server.operator("alice")
    server.step_up(admin)
    body = {"username": "dora", "role": "oncall", "password": "a long enough password"}
    created = admin.post("/v1/operators", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "oncall"
    assert_problem(admin.post("/v1/operators", json=body), 409, "conflict")
    assert server.login("dora", "a long enough password")
