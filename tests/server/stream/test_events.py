"""What consoles see on the stream when operators change things, filtered by their role."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.stream.console import console

REASON = {"reason": "checking the stream"}


def switch(client: httpx.Client, value: Any, reason: str) -> None:
    response = client.put("/v1/controls/pause_all", json={"value": value, "reason": reason})
    assert response.status_code == 200, response.text


def test_a_switch_change_reaches_every_console_with_who_and_why(server: LiveServer) -> None:
    bob = server.operator("bob", Role.ONCALL)
    server.step_up(bob)
    tokens = []
    for name, role in (("carol", Role.ADMIN), ("dave", Role.VIEWER)):
        server.create_operator(name, role)
        tokens.append(server.login(name))

    async def scenario() -> None:
        async with console(server.url, tokens[0]) as first, console(server.url, tokens[1]) as two:
            await asyncio.to_thread(switch, bob, True, "provider outage, stop spending")
            for client in (first, two):
                message = await client.expect("switch")
                assert message.data.actor == "bob"
                assert message.data.reason == "provider outage, stop spending"
                assert message.data.switch.name == "pause_all"
                assert message.data.switch.active is True
            # The audit row of the change comes just before it (one commit, one hop).
            audit = first.received[-2]
            assert audit.type == "audit"
            assert (audit.data.action, audit.data.actor) == ("controls.set", "bob")
            assert audit.data.target == "switch:pause_all"
            assert audit.seq == first.received[-1].seq - 1

    asyncio.run(scenario())


def test_a_switch_expiry_is_shown_as_done_by_automation(server: LiveServer) -> None:
    from datetime import timedelta

    bob = server.operator("bob", Role.ONCALL)
    server.step_up(bob)
    token = server.login("bob")
    expires = (server.clock.now() + timedelta(minutes=5)).isoformat()

    async def scenario() -> None:
        async with console(server.url, token) as client:
            body = {"value": True, "reason": "five minutes only", "expires_at": expires}
            response = await asyncio.to_thread(bob.put, "/v1/controls/fallback_only", json=body)
            assert response.status_code == 200, response.text
            await client.expect("switch", lambda m: m.data.switch.active)
            server.clock.advance(timedelta(minutes=6))
            await asyncio.to_thread(server.gate_sync)
            expired = await client.expect("switch", lambda m: not m.data.switch.active)
            assert expired.data.actor == "automation"
            assert expired.data.reason == "expired"

    asyncio.run(scenario())


def make_user(server: LiveServer, app: httpx.Client, user_id: str) -> None:
    response = app.put(f"/v1/users/{user_id}", json={"email": f"{user_id}@example.com"})
    assert response.status_code in (200, 201), response.text


def test_roles_see_only_what_they_may_read_over_rest(server: LiveServer) -> None:
    """Audit rows need audit:read, user changes users:read, tickets tickets:read; the
    viewer (a wall display) sees switches and metrics only."""
    app = server.client(server.app_key())
    make_user(server, app, "u-1")
    admin = server.operator("root", Role.ADMIN)
    server.step_up(admin)
    tokens = {}
    for role in (Role.ADMIN, Role.SUPPORT, Role.VIEWER):
        server.create_operator(f"op-{role.value}", role)
        tokens[role] = server.login(f"op-{role.value}")

    async def scenario() -> None:
        async with (
            console(server.url, tokens[Role.ADMIN]) as admin_console,
            console(server.url, tokens[Role.SUPPORT]) as support,
            console(server.url, tokens[Role.VIEWER]) as viewer,
        ):
            suspended = await asyncio.to_thread(admin.post, "/v1/users/u-1/suspend", json=REASON)
            assert suspended.status_code == 200, suspended.text
            body = {"user_id": "u-1", "subject": "Locked out", "body": "Help"}
            opened = await asyncio.to_thread(app.post, "/v1/tickets", json=body)
            assert opened.status_code == 201, opened.text
            # Tickets are loaded after their commit: wait for them before the last change.
            ticket = await admin_console.expect("ticket")
            assert ticket.data.id == opened.json()["id"]
            assert ticket.data.user_id == "u-1"
            await asyncio.to_thread(switch, admin, True, "marks the end of this test")
            for client in (admin_console, support, viewer):
                await client.expect("switch")  # after it, nothing earlier can still come
            seen = {
                client: {m.type for m in client.received}
                for client in (admin_console, support, viewer)
            }
            assert {"audit", "user", "ticket", "switch"} <= seen[admin_console]
            assert seen[support] == {"hello", "user", "ticket", "switch"}
            assert seen[viewer] == {"hello", "switch"}
            user = support.of_type("user")[0]
            assert (user.data.user_id, user.data.action, user.data.actor) == (
                "u-1",
                "users.suspend",
                "root",
            )

    asyncio.run(scenario())
