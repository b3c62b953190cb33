"""A slow console never slows the others: it is told it fell behind and is dropped, while
the rest keep receiving; heartbeats keep flowing when nothing else does."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from opsconsole.server.stream.hub import Audience
from opsconsole.wire.metrics import Health
from opsconsole.wire.stream import HealthChange
from tests.live import LiveServer, start_server
from tests.server.stream.console import console, until

QUEUE = 16
EVERYONE = Audience.of()


@pytest.fixture
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    overrides = {"stream_queue_messages": QUEUE, "stream_heartbeat_s": 0.2}
    with start_server(db_url, tmp_path_factory.mktemp("data"), **overrides) as live:
        yield live


def big_change(index: int) -> HealthChange:
    # Incompressible, so socket buffers fill after a few megabytes, not hundreds.
    return HealthChange(
        provider=f"sim-{index}",
        before=Health.HEALTHY,
        after=Health.DEGRADED,
        reason=os.urandom(16_384).hex(),
    )


def test_a_console_that_does_not_read_is_dropped_while_another_keeps_up(
    server: LiveServer,
) -> None:
    server.create_operator("fast")
    server.create_operator("slow")
    fast_token, slow_token = server.login("fast"), server.login("slow")
    hub = server.app.state.stream

    async def scenario() -> None:
        async with (
            console(server.url, fast_token) as fast,
            # Reads nothing once connected; buffers as little as the client library allows.
            console(server.url, slow_token, max_queue=1, compression=None) as slow,
        ):
            sent = 0
            while hub.dropped == 0:
                assert sent < 2000, "the slow console was never dropped"
                hub.publish("health", big_change(sent), EVERYONE)
                sent += 1
                # The fast console keeps up with every message, in order.
                message = await fast.expect("health")
                assert message.data.provider == f"sim-{sent - 1}"
            assert hub.consoles == 2  # the slow one is still being told
            code, reason = await slow.until_closed()
            assert (code, reason) == (1013, "too-far-behind")
            last = slow.received[-1]
            assert last.type == "dropped"
            assert "behind" in last.data.reason
            await until(lambda: hub.consoles == 1)
            hub.publish("health", big_change(sent), EVERYONE)
            assert (await fast.expect("health")).data.provider == f"sim-{sent}"
            assert hub.dropped == 1

    asyncio.run(scenario())


def test_heartbeats_carry_the_last_sequence_number(server: LiveServer) -> None:
    server.create_operator("watcher")
    token = server.login("watcher")
    hub = server.app.state.stream

    async def scenario() -> None:
        async with console(server.url, token) as client:
            first = await client.expect("heartbeat")
            assert first.seq == hub.last_seq
            hub.publish("health", big_change(0), EVERYONE)
            published = await client.expect("health")
            beat = await client.expect("heartbeat")
            assert beat.seq == published.seq

    asyncio.run(scenario())
