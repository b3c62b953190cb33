"""Console test fixtures: offscreen Qt, an in-memory keyring, a qasync loop, and a control
plane with a self-signed certificate on loopback that can be stopped and restarted on the
same port.
"""

from __future__ import annotations

import os

# Before anything imports Qt: no display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import gc
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from opsconsole.console.qt import QApplication, QEventLoop
from opsconsole.server import tls
from opsconsole.server.app import create_app
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth import service as auth
from opsconsole.server.clock import ManualClock
from opsconsole.server.db import Database
from opsconsole.server.embedded import serve_in_thread
from opsconsole.server.settings import Settings
from opsconsole.wire.common import Role
from tests.live import DEFAULT_PASSWORD


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict (a desktop keyring, for tests)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(before)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """Headless Linux as it is: keyring's fail backend."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(before)


@pytest.fixture(autouse=True)
def console_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Settings and cache in the test's own directories, never the user's."""
    config, data = tmp_path / "config", tmp_path / "data"
    monkeypatch.setenv("OPSCONSOLE_CONSOLE_CONFIG_DIR", str(config))
    monkeypatch.setenv("OPSCONSOLE_CONSOLE_DATA_DIR", str(data))
    return config, data


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """asyncio running on the Qt event loop (qasync), as in the console."""
    # As in the console: closing a dialog must not end the application (and the loop).
    qapp.setQuitOnLastWindowClosed(False)
    event_loop = QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    try:
        yield event_loop
    finally:
        event_loop.close()
        asyncio.set_event_loop(None)
        # Qt objects (the loop's timers, connections) must die on this thread: left to the
        # garbage collector they may be freed on a server thread, which Qt does not survive.
        del event_loop
        gc.collect()


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` until it is true, or fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await asyncio.sleep(0.02)


@dataclass
class TlsServer:
    """A control plane with a self-signed certificate that can stop and start on one port."""

    data_dir: Path
    db_path: Path
    cert: tls.Certificate
    clock: ManualClock = field(default_factory=ManualClock)
    port: int = 0
    url: str = ""
    app: Any = None
    _running: AbstractContextManager[str] | None = None
    _db: Database | None = None

    def start(self, **overrides: Any) -> str:
        settings = Settings(data_dir=self.data_dir, db=f"sqlite:///{self.db_path}", **overrides)
        self._db = Database(settings.database_url)
        self.app = create_app(settings, clock=self.clock, db=self._db)
        self._running = serve_in_thread(
            self.app,
            port=self.port,
            ssl_certfile=str(self.cert.cert_path),
            ssl_keyfile=str(self.cert.key_path),
            # Open streams would otherwise hold a stop for the thread's whole join timeout.
            timeout_graceful_shutdown=1,
        )
        self.url = self._running.__enter__()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None
        if self._db is not None:
            self._db.dispose()
            self._db = None

    @property
    def running(self) -> bool:
        return self._running is not None

    def create_operator(
        self, username: str, role: Role = Role.ADMIN, password: str = DEFAULT_PASSWORD
    ) -> None:
        assert self._db is not None
        with self._db.writing() as session:
            auth.create_operator(
                session=session,
                username=username,
                role=role,
                password=password,
                actor=SYSTEM,
                now=self.clock.now(),
            )

    def replace_certificate(self) -> None:
        """A new self-signed certificate (as if the server's were swapped); restart to use it."""
        fresh = self.data_dir / "other-cert"
        shutil.rmtree(fresh, ignore_errors=True)
        self.cert = tls.ensure_self_signed(fresh)


@pytest.fixture
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[TlsServer]:
    directory = tmp_path_factory.mktemp("server")
    db_path = directory / "opsconsole.db"
    shutil.copyfile(sqlite_template, db_path)
    server = TlsServer(data_dir=directory, db_path=db_path, cert=tls.ensure_self_signed(directory))
    server.start()
    try:
        yield server
    finally:
        server.stop()
