"""The stream ends with `bye` when the session that opened it ends, expires or is revoked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.stream.console import console, until


def own_session_id(client: httpx.Client) -> str:
    response = client.get("/v1/auth/me")
    assert response.status_code == 200, response.text
    return str(response.json()["session"]["id"])


def logout(server: LiveServer, alice: httpx.Client) -> None:
    assert alice.post("/v1/auth/logout").status_code == 204


def revoked_by_admin(server: LiveServer, alice: httpx.Client) -> None:
    admin = server.operator("root", Role.ADMIN)
    response = admin.delete(f"/v1/auth/sessions/{own_session_id(alice)}")
    assert response.status_code == 204, response.text


def disabled_by_admin(server: LiveServer, alice: httpx.Client) -> None:
    admin = server.operator("root", Role.ADMIN)
    server.step_up(admin)
    response = admin.patch("/v1/operators/alice", json={"disabled": True})
    assert response.status_code == 200, response.text


def demoted_by_admin(server: LiveServer, alice: httpx.Client) -> None:
    admin = server.operator("root", Role.ADMIN)
    server.step_up(admin)
    response = admin.patch("/v1/operators/alice", json={"role": "viewer"})
    assert response.status_code == 200, response.text


def idle(server: LiveServer, alice: httpx.Client) -> None:
    server.clock.advance(timedelta(minutes=server.settings.session_idle_minutes))


def past_lifetime(server: LiveServer, alice: httpx.Client) -> None:
    # Active all along (REST calls touch the session), until the absolute lifetime ends.
    for _ in range(server.settings.session_lifetime_hours * 4 - 1):
        server.clock.advance(timedelta(minutes=15))
        assert alice.get("/v1/auth/me").status_code == 200
    server.clock.advance(timedelta(minutes=15))


@pytest.mark.parametrize(
    ("end", "kind"),
    [
        (logout, "session-revoked"),
        (revoked_by_admin, "session-revoked"),
        (disabled_by_admin, "operator-disabled"),
        (demoted_by_admin, "role-changed"),
        (idle, "session-idle"),
        (past_lifetime, "session-expired"),
    ],
)
def test_stream_says_bye_when_the_session_ends(
    server: LiveServer, end: Callable[[LiveServer, httpx.Client], None], kind: str
) -> None:
    server.create_operator("alice", Role.ONCALL)
    token = server.login("alice")
    alice = server.client(token)

    async def scenario() -> None:
        async with console(server.url, token) as client:
            await asyncio.to_thread(end, server, alice)
            code, reason = await client.until_closed()
            assert (code, reason) == (1008, kind)
            bye = client.received[-1]
            assert bye.type == "bye"
            assert bye.data.kind == kind
            assert bye.data.reason
        # A stream does not keep the session alive: the token stays refused.
        assert alice.get("/v1/auth/me").status_code == (200 if kind == "role-changed" else 401)

    asyncio.run(scenario())


def test_an_open_stream_is_not_activity(server: LiveServer) -> None:
    """Minutes of stream traffic do not move the idle timer; REST calls do."""
    server.create_operator("alice", Role.ONCALL)
    token = server.login("alice")
    alice = server.client(token)
    half = timedelta(minutes=server.settings.session_idle_minutes / 2)
    hub = server.app.state.stream

    async def scenario() -> None:
        async with console(server.url, token) as client:
            server.clock.advance(half)
            assert (await asyncio.to_thread(alice.get, "/v1/auth/me")).status_code == 200
            server.clock.advance(half)
            await hub_check(server)
            assert hub.consoles == 1  # the REST call half way kept it alive
            server.clock.advance(half)
            code, _ = await client.until_closed()
            assert code == 1008
            assert client.received[-1].data.kind == "session-idle"

    asyncio.run(scenario())


async def hub_check(server: LiveServer) -> None:
    """Wait until a whole session check has run since this call."""
    watch = server.app.state.stream_sessions
    done = watch.checks + 2  # the one under way may have read the clock before it moved
    await until(lambda: watch.checks >= done)
