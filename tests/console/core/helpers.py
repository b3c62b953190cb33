"""Building a profile, cache and connection against a test server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection
from opsconsole.console.profiles import Profile, ProfileStore
from opsconsole.console.settings import ConsoleSettings
from opsconsole.console.tokens import TokenStore
from opsconsole.console.trust import PeerCertificate
from tests.console.conftest import TlsServer


class TrustRecorder:
    """A trust prompt that answers as told and remembers what it was shown."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.shown: list[PeerCertificate] = []

    async def __call__(self, presented: PeerCertificate) -> bool:
        self.shown.append(presented)
        return self.answer


def make_connection(
    server: TlsServer,
    *,
    name: str = "test",
    pin: str | None = None,
    trust_answer: bool = True,
    **options: Any,
) -> tuple[Connection, ConsoleSettings, TrustRecorder]:
    settings = ConsoleSettings()
    store = ProfileStore(settings)
    profile = Profile(name=name, url=f"https://127.0.0.1:{server.port}", pinned_pem=pin)
    store.save(profile)
    cache = Cache(settings.cache_dir / f"{name}.sqlite")
    options.setdefault("backoff_base_s", 0.05)
    options.setdefault("backoff_cap_s", 0.5)
    connection = Connection(profile, cache=cache, tokens=TokenStore(), **options)
    recorder = TrustRecorder(trust_answer)
    connection.set_trust_prompt(recorder, store.save)
    return connection, settings, recorder


def drive(
    loop: asyncio.AbstractEventLoop,
    scenario: Callable[[], Awaitable[None]],
    *connections: Connection,
) -> None:
    """Run a scenario on the Qt-driven loop; the connections are closed whatever happens."""

    async def run() -> None:
        try:
            await scenario()
        finally:
            for connection in connections:
                await connection.close()

    loop.run_until_complete(run())


def cache_path(settings: ConsoleSettings, name: str = "test") -> Path:
    return settings.cache_dir / f"{name}.sqlite"
