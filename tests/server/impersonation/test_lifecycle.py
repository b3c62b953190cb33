"""An impersonation's life over HTTP: start, introspection by the app, expiry, early end, audit."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.impersonation.conftest import REASON, audit, introspect, register, start
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store


def test_start_introspect_end_audited_with_both_identities(
    server: LiveServer, app: httpx.Client, admin: httpx.Client, support: httpx.Client
) -> None:
    register(app, "ann")
    ticket = app.post(
        "/v1/tickets", json={"user_id": "ann", "subject": "wrong language", "body": "help"}
    )
    assert ticket.status_code == 201, ticket.text
    ticket_id = ticket.json()["id"]
    now = server.clock.now()

    started = start(support, "ann", ticket_id=ticket_id)
    assert set(started) >= {"id", "token", "expires_at"}
    assert started["mode"] == "read_only"  # the default
    assert datetime.fromisoformat(started["expires_at"]) == now + timedelta(minutes=15)

    claims = introspect(app, started["token"])
    assert claims == {
        "active": True,
        "sub": "ann",
        "act": {"sub": "sam"},
        "mode": "read_only",
        "scope": "impersonation:read_only",
        "token_type": "impersonation",
        "exp": int((now + timedelta(minutes=15)).timestamp()),
        "iat": int(now.timestamp()),
        "expires_at": claims["expires_at"],
        "jti": started["id"],
        "ticket_id": ticket_id,
    }
    introspect(app, started["token"])  # a second use

    ended = support.delete(f"/v1/impersonations/{started['id']}")
    assert ended.status_code == 200, ended.text
    assert ended.json()["active"] is False and ended.json()["ended_by"] == "sam"
    assert ended.json()["uses"] == 2
    # Ended means inactive at once, and an inactive answer says nothing more (RFC 7662).
    assert introspect(app, started["token"]) == {"active": False}

    rows = audit(admin, "ann")
    assert [row["action"] for row in rows] == [
        "impersonation.start",
        "impersonation.use",
        "impersonation.use",
        "impersonation.end",
    ]
    for row in rows:
        assert (row["actor_type"], row["actor"], row["impersonated_user"]) == (
            "operator",
            "sam",
            "ann",
        ), row
        assert row["after"]["impersonation"] == started["id"]
    assert rows[0]["after"]["reason"] == REASON and rows[0]["after"]["minutes"] == 15
    assert rows[1]["after"]["app"] == "backend"
    assert "token" not in rows[0]["after"]  # the secret never enters the log


def test_inactive_from_the_second_it_expires(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "bob")
    started = start(support, "bob", minutes=5)
    server.clock.advance(timedelta(minutes=5) - timedelta(seconds=1))
    assert introspect(app, started["token"])["active"] is True
    listed = support.get("/v1/impersonations", params={"active": "true"}).json()["items"]
    assert [item["id"] for item in listed] == [started["id"]]

    server.clock.advance(timedelta(seconds=1))
    assert introspect(app, started["token"]) == {"active": False}
    assert support.get("/v1/impersonations", params={"active": "true"}).json()["items"] == []
    expired = support.get("/v1/impersonations", params={"active": "false"}).json()["items"]
    assert [(item["id"], item["active"]) for item in expired] == [(started["id"], False)]
    # Ending an expired one changes nothing (it ended by itself).
    response = support.delete(f"/v1/impersonations/{started['id']}")
    assert response.status_code == 200 and response.json()["ended_at"] is None


def test_sixty_minutes_is_the_longest(
    server: LiveServer, app: httpx.Client, support: httpx.Client
) -> None:
    register(app, "cat")
    started = start(support, "cat", minutes=60)
    server.clock.advance(timedelta(minutes=59, seconds=59))
    assert introspect(app, started["token"])["active"] is True
    server.clock.advance(timedelta(seconds=1))
    assert introspect(app, started["token"])["active"] is False


def test_only_the_starter_or_an_admin_ends_it(
    server: LiveServer, app: httpx.Client, admin: httpx.Client, support: httpx.Client
) -> None:
    register(app, "dan")
    started = start(support, "dan")
    other = server.operator("sue", Role.SUPPORT)
    assert_problem(other.delete(f"/v1/impersonations/{started['id']}"), 404, "not-found")
    # Other support staff do not see it; an admin sees everyone's.
    assert other.get("/v1/impersonations").json()["items"] == []
    assert [i["id"] for i in admin.get("/v1/impersonations").json()["items"]] == [started["id"]]
    assert introspect(app, started["token"])["active"] is True

    ended = admin.delete(f"/v1/impersonations/{started['id']}")
    assert ended.status_code == 200, ended.text
    assert ended.json()["ended_by"] == "root" and ended.json()["operator"] == "sam"
    assert introspect(app, started["token"]) == {"active": False}
    end_row = audit(admin, "dan", "impersonation.end")[0]
    assert (end_row["actor"], end_row["impersonated_user"]) == ("root", "dan")
    assert end_row["after"]["operator"] == "sam"
    # A second end is a no-op: no second row.
    assert admin.delete(f"/v1/impersonations/{started['id']}").status_code == 200
    assert len(audit(admin, "dan", "impersonation.end")) == 1


def test_token_dies_when_the_user_or_the_operator_is_stopped(
    server: LiveServer, app: httpx.Client, admin: httpx.Client, support: httpx.Client
) -> None:
    register(app, "eve")
    register(app, "fay")
    for_eve = start(support, "eve")
    for_fay = start(support, "fay")
    suspended = admin.post("/v1/users/eve/suspend", json={"reason": "chargeback fraud"})
    assert suspended.status_code == 200, suspended.text
    assert introspect(app, for_eve["token"]) == {"active": False}
    assert introspect(app, for_fay["token"])["active"] is True

    server.step_up(admin)
    disabled = admin.patch("/v1/operators/sam", json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    assert introspect(app, for_fay["token"]) == {"active": False}


def test_introspection_needs_the_app_key(
    server: LiveServer, app: httpx.Client, admin: httpx.Client, support: httpx.Client
) -> None:
    register(app, "gus")
    token = start(support, "gus")["token"]
    assert_problem(
        server.client().post("/v1/impersonations/introspect", json={"token": token}), 401
    )
    assert_problem(
        support.post("/v1/impersonations/introspect", json={"token": token}), 403, "forbidden"
    )
    # Unknown tokens, operator tokens and app keys are simply inactive.
    for other in ("oci_" + "x" * 43, "not-a-token", server.login("sam"), server.app_key("other")):
        assert introspect(app, other) == {"active": False}
    assert audit(admin, "gus", "impersonation.use") == []  # refused looks are no uses
