"""What the screenshot scripts on the demo share: the Qt application on an asyncio loop, the
demo back end in a child process, a throw-away console home, and where the pictures go.

    def main(seconds: float) -> int:
        with demo_session() as session:
            connection = session.connection()
            ...  # build the windows to photograph

            async def scenario() -> None:
                await session.log_in(connection)
                ...
                session.save(window, "window.png")

            session.run(scenario())
        return 0

Not a test module (pytest does not collect it).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsconsole.console import demo
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection, ConnectionState
from opsconsole.console.profiles import Profile, ProfileStore
from opsconsole.console.qt import QApplication, QEventLoop, QWidget
from opsconsole.console.settings import ConsoleSettings
from opsconsole.console.tokens import TokenStore

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def seconds_argument(default: float) -> float:
    """The scripts' one optional argument: how long the simulated traffic runs first."""
    return float(sys.argv[1]) if len(sys.argv) > 1 else default


async def until(condition: Callable[[], object], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.2)


@dataclass
class DemoSession:
    """A running demo back end, and a console home to connect to it from."""

    app: QApplication
    loop: QEventLoop
    info: demo.DemoInfo
    settings: ConsoleSettings
    child: subprocess.Popen[str]
    connections: list[Connection] = field(default_factory=list)

    def connection(
        self, name: str = "demo", *, impersonation_url: str = "", **options: Any
    ) -> Connection:
        """A connection to the demo through a new profile ``name`` (its own cache file).

        ``options`` are further keyword arguments of :class:`Connection`.
        """
        profile = Profile(
            name=name,
            url=self.info.url,
            colour="#6a1b9a",
            pinned_pem=self.info.cert_pem,
            impersonation_url=impersonation_url,
        )
        ProfileStore(self.settings).save(profile)
        cache = Cache(self.settings.cache_dir / f"{name}.sqlite")
        connection = Connection(
            profile, cache=cache, tokens=TokenStore(memory_only=True), **options
        )
        self.connections.append(connection)
        return connection

    async def log_in(self, connection: Connection) -> None:
        """Start ``connection`` and log in as the demo's admin once it asks for a session."""
        await connection.start()
        await until(lambda: connection.status.state is ConnectionState.SESSION_EXPIRED, 30)
        await connection.login(self.info.username, self.info.password)
        await until(lambda: connection.online, 30)

    def save(self, widget: QWidget, name: str) -> None:
        """Save what ``widget`` shows now as ``name`` in docs/screenshots/."""
        OUT.mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(OUT / name))
        print(f"saved {OUT / name}")

    def run(self, scenario: Coroutine[Any, Any, None]) -> None:
        """Run ``scenario`` on the Qt loop to its end, close the connections, close the loop."""
        self.loop.run_until_complete(scenario)
        for connection in self.connections:
            self.loop.run_until_complete(connection.close())
        self.loop.close()

    def stop_back_end(self) -> None:
        demo._stop_child(self.child)


@contextmanager
def demo_session() -> Iterator[DemoSession]:
    """Start the demo back end (`opsconsole demo --no-gui --ready-json`: control plane and
    simulated traffic) and stop it on the way out, however the scenario ended."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # closing a window must not stop the loop
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    child = subprocess.Popen(
        [sys.executable, "-m", "opsconsole.cli", "demo", "--no-gui", "--ready-json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = demo._wait_ready(child)
        assert info is not None, "the demo back end did not start"
        with tempfile.TemporaryDirectory(prefix="opsconsole-shots-") as home:
            settings = ConsoleSettings(Path(home) / "config", Path(home) / "data")
            yield DemoSession(app, loop, info, settings, child)
    finally:
        demo._stop_child(child)
