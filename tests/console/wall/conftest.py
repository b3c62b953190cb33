"""Fixtures for quick search, shortcuts, themes, progress and the wall display: the views'
consoles on a real TLS control plane, plus end users, tickets and app traffic on that server."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from opsconsole.console.app import MainWindow
from opsconsole.console.qt import QApplication
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth import service as auth
from opsconsole.wire.common import Role
from tests.console.conftest import TlsServer
from tests.console.views.conftest import (  # noqa: F401 - fixtures, re-exported for this dir
    Console,
    console,
    open_console,
    viewer_console,
)


@dataclass(frozen=True)
class EndUser:
    id: str
    email: str
    name: str


PEOPLE = (
    EndUser("u-ada-7731", "ada.lovelace@example.org", "Ada Lovelace"),
    EndUser("u-alan-4412", "alan.turing@example.org", "Alan Turing"),
    EndUser("u-grace-9023", "grace.hopper@example.org", "Grace Hopper"),
)


def app_client(server: TlsServer) -> httpx.Client:
    """The AI app's backend, with an app key, over HTTPS to the test server."""
    assert server._db is not None
    with server._db.writing() as session:
        _, secret = auth.create_app_key(
            session=session, name="backend", actor=SYSTEM, now=server.clock.now()
        )
    trusted = ssl.create_default_context(cafile=str(server.cert.cert_path))
    client = httpx.Client(base_url=server.url, verify=trusted, timeout=30)
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


def register_people(app: httpx.Client) -> None:
    for person in PEOPLE:
        response = app.put(
            f"/v1/users/{person.id}",
            json={"email": person.email, "name": person.name, "tier": "unlimited"},
        )
        assert response.status_code in (200, 201), response.text


def open_ticket(app: httpx.Client, user_id: str, subject: str) -> int:
    response = app.post(
        "/v1/tickets", json={"user_id": user_id, "subject": subject, "body": "It stopped."}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def support_console(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, memory_keyring: Any
) -> Iterator[Console]:
    """A support operator's console: may read users and tickets."""
    opened = open_console(tls_server, loop, "sam", Role.SUPPORT)
    try:
        yield opened
    finally:
        opened.close()


def open_window(opened: Console, qtbot: Any) -> MainWindow:
    window = MainWindow(opened.connection, settings=opened.settings)
    qtbot.addWidget(window)
    window.show()
    opened.run(window.reload())
    return window


@pytest.fixture(autouse=True)
def light_theme_after(qapp: QApplication) -> Iterator[None]:
    """A test that switches to dark leaves the application light for the next one."""
    yield
    from opsconsole.console import themes

    found = qapp.findChild(themes.ThemeManager, "themeManager")
    if isinstance(found, themes.ThemeManager):
        found.settings = None
        found.choice = themes.Theme.LIGHT
        found.apply()
