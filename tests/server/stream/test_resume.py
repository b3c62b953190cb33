"""A console that reconnects with its last sequence number gets exactly what it missed, or
`reload` when that is gone (older than five minutes, or from another server process)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.stream.console import console


def flip(client: httpx.Client, rounds: int) -> None:
    for index in range(rounds):
        body = {"value": True if index % 2 == 0 else None, "reason": f"round {index}"}
        response = client.put("/v1/controls/cheapest_only", json=body)
        assert response.status_code == 200, response.text


def test_resume_gets_exactly_the_missed_messages_then_live_ones(server: LiveServer) -> None:
    bob = server.operator("bob", Role.ONCALL)
    server.step_up(bob)
    token = server.login("bob")
    hub = server.app.state.stream

    async def scenario() -> None:
        async with console(server.url, token) as client:
            epoch = client.received[0].data["epoch"]
            await asyncio.to_thread(flip, bob, 2)
            last = (await client.expect("switch", lambda m: m.data.reason == "round 1")).seq
        await asyncio.to_thread(flip, bob, 3)  # missed while away: 3 audit rows + 3 switches
        missed_until = hub.last_seq
        assert missed_until == last + 6
        async with console(server.url, token, since=last, epoch=epoch) as client:
            hello = client.received[0]
            assert hello.data["resumed"] is True
            assert hello.data["replayed"] == 6
            replayed = [await client.next() for _ in range(6)]
            assert [m.seq for m in replayed] == list(range(last + 1, missed_until + 1))
            assert [m.data.reason for m in replayed if m.type == "switch"] == [
                "round 0",
                "round 1",
                "round 2",
            ]
            await asyncio.to_thread(flip, bob, 1)  # and then live, without a gap or a repeat
            live = [await client.next() for _ in range(2)]
            assert [m.seq for m in live] == [missed_until + 1, missed_until + 2]

    asyncio.run(scenario())


def test_resume_from_the_last_message_gets_nothing_twice(server: LiveServer) -> None:
    bob = server.operator("bob", Role.ONCALL)
    server.step_up(bob)
    token = server.login("bob")

    async def scenario() -> None:
        async with console(server.url, token) as client:
            epoch = client.received[0].data["epoch"]
            await asyncio.to_thread(flip, bob, 1)
            last = (await client.expect("switch")).seq
        async with console(server.url, token, since=last, epoch=epoch) as client:
            hello = client.received[0]
            assert (hello.data["resumed"], hello.data["replayed"]) == (True, 0)
            await asyncio.to_thread(flip, bob, 1)
            assert (await client.next()).seq == last + 1

    asyncio.run(scenario())


def test_reload_when_what_was_missed_is_gone(server: LiveServer) -> None:
    bob = server.operator("bob", Role.ONCALL)
    server.step_up(bob)
    token = server.login("bob")

    async def reload_kind(since: int, epoch: str) -> str:
        async with console(server.url, token, since=since, epoch=epoch) as client:
            assert client.received[0].data["resumed"] is False
            message = await client.next()
            assert message.type == "reload"
            assert message.data.reason
            return str(message.data.kind)

    async def scenario() -> None:
        async with console(server.url, token) as client:
            epoch = client.received[0].data["epoch"]
            await asyncio.to_thread(flip, bob, 1)
            last = (await client.expect("switch")).seq
        await asyncio.to_thread(flip, bob, 1)  # missed, then kept five minutes only
        server.clock.advance(timedelta(minutes=5, seconds=1))
        assert await reload_kind(last, epoch) == "too-old"
        assert await reload_kind(last, "another-process") == "server-restarted"
        assert await reload_kind(last + 1000, epoch) == "unknown-seq"

    asyncio.run(scenario())
