"""A console's side of `WS /v1/stream` for tests: a real `websockets` client that reads typed
messages with deadlines (never sleeps), and a helper to poll server state with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from opsconsole.wire.stream import parse_message

TIMEOUT_S = 10.0


def stream_url(base: str, **params: object) -> str:
    query = "&".join(f"{name}={value}" for name, value in params.items() if value is not None)
    url = base.replace("http://", "ws://", 1) + "/v1/stream"
    return f"{url}?{query}" if query else url


class Console:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[Any] = []  # typed messages; Any keeps the tests readable

    async def next(self, timeout: float = TIMEOUT_S) -> Any:
        async with asyncio.timeout(timeout):
            message = parse_message(await self.ws.recv())
        self.received.append(message)
        return message

    async def expect(
        self,
        type_: str,
        where: Callable[[Any], bool] = lambda _: True,
        timeout: float = TIMEOUT_S,
    ) -> Any:
        """The next message of ``type_`` that matches ``where``, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.next(max(0.01, deadline - time.monotonic()))
            if message.type == type_ and where(message):
                return message

    async def until_closed(self, timeout: float = TIMEOUT_S) -> tuple[int, str]:
        """Read everything left until the server closes; the close code and reason."""
        try:
            while True:
                await self.next(timeout)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame from the server"
            return closed.rcvd.code, closed.rcvd.reason

    def of_type(self, type_: str) -> list[Any]:
        return [m for m in self.received if m.type == type_]


@asynccontextmanager
async def console(
    base: str, token: str, *, since: int | None = None, epoch: str | None = None, **options: Any
) -> AsyncIterator[Console]:
    """A connected console that has read its `hello`."""
    async with connect(
        stream_url(base, since=since, epoch=epoch),
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=TIMEOUT_S,
        **options,
    ) as ws:
        client = Console(ws)
        hello = await client.next()
        assert hello.type == "hello", hello
        yield client


async def until(condition: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    """Poll ``condition`` until it holds; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)
