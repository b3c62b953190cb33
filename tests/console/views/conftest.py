"""Fixtures for the views: a real console connection, logged in to a real control plane on
loopback (TLS, certificate confirmed), and the main window or a single pane on top of it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
from tests.console.conftest import TlsServer, until
from tests.console.core.helpers import make_connection
from tests.live import DEFAULT_PASSWORD

from opsconsole.console.connection import Connection, ConnectionState
from opsconsole.console.settings import ConsoleSettings
from opsconsole.wire.auth import StepUpRequest
from opsconsole.wire.common import Role
from opsconsole.wire.metrics import MetricsSnapshot

T = TypeVar("T")


async def password_step_up(_detail: str, _totp_enrolled: bool) -> StepUpRequest:
    """What the step-up dialog answers when the operator types the password."""
    return StepUpRequest(password=DEFAULT_PASSWORD)


@dataclass
class Console:
    """A logged-in connection, its settings and the server behind it."""

    server: TlsServer
    connection: Connection
    settings: ConsoleSettings
    loop: asyncio.AbstractEventLoop
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def wait(self, condition: Callable[[], Any], what: str = "", timeout: float = 10.0) -> None:
        self.run(until(condition, timeout=timeout, what=what), timeout=timeout + 5)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.run(self.connection.close())

    def stop_server(self) -> None:
        """Stop the server while the console's loop runs (it sees the stream close)."""
        self.run(asyncio.to_thread(self.server.stop))

    def start_server(self) -> None:
        self.run(asyncio.to_thread(self.server.start))

    def tick(self, seconds: float = 1.0) -> MetricsSnapshot:
        """Move the server's clock on and wait for the snapshot of the seconds that closed.

        Until the stream is subscribed a snapshot can go to no one: then move on again.
        """
        received: list[MetricsSnapshot] = []
        self.connection.snapshot_received.connect(received.append)
        try:
            for _ in range(15):
                self.server.clock.advance(timedelta(seconds=seconds))
                with contextlib.suppress(AssertionError, TimeoutError):
                    self.wait(lambda: received, "a snapshot", timeout=3.0)
                    return received[-1]
        finally:
            self.connection.snapshot_received.disconnect(received.append)
        raise AssertionError("no snapshot arrived on the stream")

    def operator_client(self, username: str, role: Role = Role.ADMIN) -> httpx.Client:
        """Another operator, acting on the same server over HTTPS (not through the console)."""
        if username in self.clients:
            return self.clients[username]
        self.server.create_operator(username, role)
        trusted = ssl.create_default_context(cafile=str(self.server.cert.cert_path))
        client = httpx.Client(base_url=self.server.url, verify=trusted, timeout=30)
        response = client.post(
            "/v1/auth/login", json={"username": username, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        step = client.post("/v1/auth/step-up", json={"password": DEFAULT_PASSWORD})
        assert step.status_code == 200, step.text
        self.clients[username] = client
        return client


def open_console(
    server: TlsServer, loop: asyncio.AbstractEventLoop, username: str, role: Role
) -> Console:
    server.create_operator(username, role)
    connection, settings, _ = make_connection(server)
    connection.set_step_up_prompt(password_step_up)
    console = Console(server, connection, settings, loop)

    async def login() -> None:
        await connection.start()
        await until(
            lambda: connection.status.state is ConnectionState.SESSION_EXPIRED, what="login asked"
        )
        await connection.login(username, DEFAULT_PASSWORD)
        await until(lambda: connection.online, what="online")
        # And subscribed: a change made before the stream's hello reaches the panes only by
        # the reload the hello triggers.
        await until(lambda: connection._stream.last_seq is not None, what="stream open")

    console.run(login())
    return console


@pytest.fixture
def console(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, memory_keyring: Any
) -> Iterator[Console]:
    """An on-call operator's console (may flip switches and trip breakers)."""
    opened = open_console(tls_server, loop, "olivia", Role.ONCALL)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def viewer_console(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, memory_keyring: Any
) -> Iterator[Console]:
    """A viewer's console (the wall display: may change nothing)."""
    opened = open_console(tls_server, loop, "victor", Role.VIEWER)
    try:
        yield opened
    finally:
        opened.close()
