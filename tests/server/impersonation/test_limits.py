"""What an impersonation may not do: too long, wrong role, wrong user, and never an operator."""

from __future__ import annotations

import re

import httpx
import pytest

from opsconsole.server.permissions import ROUTE_ACCESS
from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.impersonation.conftest import REASON, introspect, register, start
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store


@pytest.mark.parametrize("minutes", [0, 61, 600])
def test_minutes_outside_one_to_sixty_are_refused(
    app: httpx.Client, admin: httpx.Client, support: httpx.Client, minutes: int
) -> None:
    register(app, "ann")
    response = support.post(
        "/v1/impersonations", json={"user_id": "ann", "reason": REASON, "minutes": minutes}
    )
    assert_problem(response, 422)
    assert admin.get("/v1/impersonations").json()["items"] == []  # nothing was started


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "ann"},  # no reason
        {"user_id": "ann", "reason": REASON, "mode": "admin"},
        {"user_id": "ann", "reason": REASON, "scope": "operators"},  # unknown field
    ],
)
def test_bad_bodies_are_refused(app: httpx.Client, support: httpx.Client, body: object) -> None:
    register(app, "ann")
    assert_problem(support.post("/v1/impersonations", json=body), 422)


def test_full_mode_needs_its_permission_and_a_step_up(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "ann")
    oncall = server.operator("olga", Role.ONCALL)
    server.step_up(oncall)
    # On-call may look as the user, but not act as them.
    assert_problem(
        oncall.post(
            "/v1/impersonations", json={"user_id": "ann", "reason": REASON, "mode": "full"}
        ),
        403,
        "forbidden",
    )
    assert start(oncall, "ann")["mode"] == "read_only"
    # Support may act as the user, after re-authenticating.
    assert_problem(
        support.post(
            "/v1/impersonations", json={"user_id": "ann", "reason": REASON, "mode": "full"}
        ),
        403,
        "step-up-required",
    )
    server.step_up(support)
    started = start(support, "ann", mode="full")
    claims = introspect(app, started["token"])
    assert (claims["mode"], claims["scope"]) == ("full", "impersonation:full")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BILLING])
def test_roles_without_the_permission_are_refused(
    server: LiveServer, app: httpx.Client, role: Role
) -> None:
    register(app, "ann")
    client = server.operator(f"no-{role.value}", role)
    server.step_up(client)
    for mode in ("read_only", "full"):
        response = client.post(
            "/v1/impersonations", json={"user_id": "ann", "reason": REASON, "mode": mode}
        )
        assert_problem(response, 403, "forbidden")
    assert_problem(client.get("/v1/impersonations"), 403, "forbidden")
    # Nor can the app start one with its key.
    response = app.post("/v1/impersonations", json={"user_id": "ann", "reason": REASON})
    assert_problem(response, 403, "forbidden")


def test_unknown_suspended_and_erased_users_cannot_be_impersonated(
    server: LiveServer, app: httpx.Client, admin: httpx.Client, support: httpx.Client
) -> None:
    body = assert_problem(
        support.post("/v1/impersonations", json={"user_id": "nobody", "reason": REASON}),
        404,
        "unknown-user",
    )
    assert "nobody" in body["detail"]
    # An operator is not an end user: their name leads nowhere either.
    assert_problem(
        support.post("/v1/impersonations", json={"user_id": "root", "reason": REASON}),
        404,
        "unknown-user",
    )
    register(app, "sid")
    assert admin.post("/v1/users/sid/suspend", json={"reason": "chargeback"}).status_code == 200
    body = assert_problem(
        support.post("/v1/impersonations", json={"user_id": "sid", "reason": REASON}),
        409,
        "user-not-active",
    )
    assert "suspended" in body["detail"]
    register(app, "eri")
    server.step_up(admin)
    assert admin.delete("/v1/users/eri").status_code == 200
    assert_problem(
        support.post("/v1/impersonations", json={"user_id": "eri", "reason": REASON}),
        404,
        "unknown-user",
    )
    assert admin.get("/v1/impersonations").json()["items"] == []


def test_the_ticket_must_be_the_users(
    app: httpx.Client, admin: httpx.Client, support: httpx.Client
) -> None:
    register(app, "ann")
    register(app, "bob")
    ticket = app.post("/v1/tickets", json={"user_id": "bob", "subject": "s", "body": "b"})
    assert ticket.status_code == 201, ticket.text
    assert_problem(
        support.post(
            "/v1/impersonations",
            json={"user_id": "ann", "reason": REASON, "ticket_id": ticket.json()["id"]},
        ),
        422,
        "ticket-of-another-user",
    )
    assert_problem(
        support.post(
            "/v1/impersonations", json={"user_id": "ann", "reason": REASON, "ticket_id": 99999}
        ),
        422,
        "unknown-ticket",
    )
    assert admin.get("/v1/impersonations").json()["items"] == []


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "root", path)


def test_the_token_is_never_a_credential_of_the_control_plane(
    server: LiveServer, app: httpx.Client, admin: httpx.Client, support: httpx.Client
) -> None:
    # The hardest case: a full impersonation of an end user whose id is an admin's username.
    register(app, "root")
    server.step_up(support)
    started = start(support, "root", mode="full")
    assert introspect(app, started["token"])["sub"] == "root"
    as_user = server.client(started["token"])
    for method, path in sorted(ROUTE_ACCESS):
        if ROUTE_ACCESS[(method, path)].public:
            continue
        body: dict[str, object] | None = {} if method in {"POST", "PUT", "PATCH"} else None
        response = as_user.request(method, _concrete(path), json=body)
        assert_problem(response, 403, "impersonation-token-refused")
    # Nothing changed on the way: no tier, switch, operator or impersonation.
    assert admin.get("/v1/users/root").json()["tier"] == "premium"
    assert [i["id"] for i in admin.get("/v1/impersonations").json()["items"]] == [started["id"]]
    assert [o["username"] for o in admin.get("/v1/operators").json()] == ["root", "sam"]
    # And the token is still only what it was.
    assert introspect(app, started["token"])["act"] == {"sub": "sam"}


@pytest.mark.parametrize("token", ["oci_", "oci_short", "oci_" + "a" * 44])
def test_a_bad_token_that_only_starts_like_one_is_a_bad_credential(
    server: LiveServer, token: str
) -> None:
    """Only a token of an impersonation token's whole shape is refused as one (403); anything
    else with its prefix is an unknown credential, 401 like every other."""
    response = server.client(token).get("/v1/users")
    assert response.status_code == 401, response.text
    assert "impersonation" not in response.json()["type"]
