"""Fixtures for the users pane: consoles by role against a real control plane on loopback, the
app's own client (app key) to register users and make requests, and the pane itself."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.users import UsersPane
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth import service as auth
from opsconsole.wire.common import Role
from tests.console.conftest import TlsServer
from tests.console.views.conftest import Console, open_console


def _console(server: TlsServer, loop: asyncio.AbstractEventLoop, name: str, role: Role) -> Console:
    return open_console(server, loop, name, role)


@pytest.fixture
def support(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, memory_keyring: Any
) -> Iterator[Console]:
    """A support agent's console: finds users, suspends, changes tiers, exports, impersonates."""
    opened = _console(tls_server, loop, "sam", Role.SUPPORT)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def admin(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, memory_keyring: Any
) -> Iterator[Console]:
    opened = _console(tls_server, loop, "ada", Role.ADMIN)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def app(tls_server: TlsServer) -> Iterator[httpx.Client]:
    """The AI app's backend: registers users and asks the gate, with its app key."""
    assert tls_server._db is not None
    with tls_server._db.writing() as session:
        _, secret = auth.create_app_key(
            session=session, name="backend", actor=SYSTEM, now=tls_server.clock.now()
        )
    trusted = ssl.create_default_context(cafile=str(tls_server.cert.cert_path))
    with httpx.Client(
        base_url=tls_server.url,
        verify=trusted,
        timeout=30,
        headers={"Authorization": f"Bearer {secret}"},
    ) as client:
        yield client


def register(app: httpx.Client, user_id: str, **fields: Any) -> None:
    fields.setdefault("email", f"{user_id}@example.org")
    fields.setdefault("name", user_id.replace("-", " ").title())
    response = app.put(f"/v1/users/{user_id}", json=fields)
    assert response.status_code in (200, 201), response.text


def register_many(app: httpx.Client, ids: list[str], **fields: Any) -> None:
    for start in range(0, len(ids), 1000):
        batch = [
            {"id": i, "email": f"{i}@example.org", "name": i.replace("-", " ").title(), **fields}
            for i in ids[start : start + 1000]
        ]
        response = app.put("/v1/users", json={"users": batch})
        assert response.status_code == 200, response.text


def make_pane(console: Console, qtbot: Any, *, load: bool = True) -> UsersPane:
    pane = UsersPane(console.connection, ServerClock(console.connection))
    qtbot.addWidget(pane)
    pane.resize(1500, 800)
    pane.show()
    if load:
        console.run(pane.load())
    return pane


def server_user(console: Console, user_id: str) -> dict[str, Any]:
    response = console.operator_client("checker").get(f"/v1/users/{user_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
