"""A control plane served by uvicorn on a loopback port, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from opsconsole.server import migrate
from opsconsole.server.app import create_app
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth import service as auth
from opsconsole.server.clock import ManualClock
from opsconsole.server.db import Database
from opsconsole.server.embedded import serve_in_thread
from opsconsole.server.settings import Settings
from opsconsole.wire.common import Role

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class LiveServer:
    url: str
    app: Any
    db: Database
    clock: ManualClock
    settings: Settings
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def create_operator(
        self, username: str, role: Role = Role.ADMIN, password: str = DEFAULT_PASSWORD
    ) -> None:
        with self.db.writing() as session:
            auth.create_operator(
                session=session,
                username=username,
                role=role,
                password=password,
                actor=SYSTEM,
                now=self.clock.now(),
            )

    def login(self, username: str, password: str = DEFAULT_PASSWORD) -> str:
        response = self.client().post(
            "/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def operator(self, username: str, role: Role = Role.ADMIN) -> httpx.Client:
        """A client logged in as a new operator with the given role."""
        self.create_operator(username, role)
        return self.client(self.login(username))

    def step_up(self, client: httpx.Client, password: str = DEFAULT_PASSWORD) -> None:
        response = client.post("/v1/auth/step-up", json={"password": password})
        assert response.status_code == 200, response.text

    def gate_sync(self) -> None:
        """What the gate's background sync does every half second, done now."""
        self.app.state.gate.sync_once(slow=True)

    def gate_flush(self) -> None:
        """Wait until the decisions queued so far are written."""
        self.app.state.gate.writer.flush()

    def app_key(self, name: str = "backend") -> str:
        with self.db.writing() as session:
            _, secret = auth.create_app_key(
                session=session, name=name, actor=SYSTEM, now=self.clock.now()
            )
        return secret


@contextmanager
def start_server(db_url: str, data_dir: Path, **overrides: object) -> Iterator[LiveServer]:
    settings = Settings(data_dir=data_dir, db=db_url, insecure_http=True, **overrides)  # type: ignore[arg-type]
    db = Database(db_url)
    if db.dialect != "sqlite":
        migrate.upgrade(db.engine)
    clock = ManualClock()
    app = create_app(settings, clock=clock, db=db)
    with serve_in_thread(app) as url:
        live = LiveServer(url=url, app=app, db=db, clock=clock, settings=settings)
        try:
            yield live
        finally:
            for client in live.clients:
                client.close()
    db.dispose()
