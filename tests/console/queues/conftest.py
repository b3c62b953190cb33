"""Fixtures for the work-queue panes: the views' logged-in console on a real TLS control plane,
and the AI app's own client (an app key) that registers users and opens tickets."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsconsole.console.connection import ConnectionState
from opsconsole.server import tls
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth import service as auth
from opsconsole.server.db import Database
from opsconsole.wire.common import Role
from tests.console.conftest import TlsServer, until
from tests.console.core.helpers import make_connection
from tests.console.views.conftest import (
    Console,
    console,  # noqa: F401
    password_step_up,
    viewer_console,  # noqa: F401
)
from tests.live import DEFAULT_PASSWORD


@pytest.fixture
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[TlsServer]:
    """The console tests' server, with sessions that outlast the hours the SLA tests skip."""
    directory = tmp_path_factory.mktemp("server")
    db_path = directory / "opsconsole.db"
    shutil.copyfile(sqlite_template, db_path)
    server = TlsServer(data_dir=directory, db_path=db_path, cert=tls.ensure_self_signed(directory))
    server.start(session_idle_minutes=7 * 24 * 60, session_lifetime_hours=14 * 24)
    try:
        yield server
    finally:
        server.stop()


def second_console(
    server: TlsServer, loop: asyncio.AbstractEventLoop, username: str, role: Role
) -> Console:
    """Another operator's console beside the first (its own profile, so its own token)."""
    server.create_operator(username, role)
    connection, settings, _ = make_connection(server, name=username)
    connection.set_step_up_prompt(password_step_up)
    other = Console(server, connection, settings, loop)

    async def login() -> None:
        await connection.start()
        await until(lambda: connection.status.state is ConnectionState.SESSION_EXPIRED)
        await connection.login(username, DEFAULT_PASSWORD)
        await until(lambda: connection.online, what="online")

    other.run(login())
    return other


def database(server: TlsServer) -> Database:
    """The server's database, opened beside it (as an operator with shell access would)."""
    return Database(f"sqlite:///{server.db_path}")


@pytest.fixture
def app(console: Console) -> Iterator[httpx.Client]:  # noqa: F811
    """The AI app's backend: an app key over HTTPS, with two users registered."""
    server = console.server
    db = database(server)
    try:
        with db.writing() as session:
            _, secret = auth.create_app_key(
                session=session, name="backend", actor=SYSTEM, now=server.clock.now()
            )
    finally:
        db.dispose()
    trusted = ssl.create_default_context(cafile=str(server.cert.cert_path))
    client = httpx.Client(
        base_url=server.url,
        verify=trusted,
        timeout=30,
        headers={"Authorization": f"Bearer {secret}"},
    )
    for user_id, tier in (("u-ana", "premium"), ("u-ben", "free")):
        response = client.put(f"/v1/users/{user_id}", json={"tier": tier, "name": user_id[2:]})
        assert response.status_code in (200, 201), response.text
    try:
        yield client
    finally:
        client.close()


def open_ticket(
    app: httpx.Client, user_id: str, subject: str, priority: str = "normal", **extra: Any
) -> dict[str, Any]:
    response = app.post(
        "/v1/tickets",
        json={"user_id": user_id, "subject": subject, "body": f"{subject}, please help"}
        | {"priority": priority}
        | extra,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def tick(console: Console, seconds: float = 1.0, timeout: float = 60.0) -> None:  # noqa: F811
    """Move the server's clock on until a snapshot of it reaches the console.

    Like ``Console.tick`` with a longer patience: the first test of a run, on a busy machine,
    can take a while before its stream is subscribed.
    """
    received: list[object] = []
    console.connection.snapshot_received.connect(received.append)
    loop = console.loop
    deadline = loop.time() + timeout
    try:
        while not received:
            if loop.time() > deadline:
                raise AssertionError(f"no snapshot on the stream within {timeout} s")
            console.server.clock.advance(timedelta(seconds=seconds))
            with contextlib.suppress(AssertionError, TimeoutError):
                console.wait(lambda: received, "a snapshot", timeout=2.0)
    finally:
        console.connection.snapshot_received.disconnect(received.append)
