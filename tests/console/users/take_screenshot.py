"""A screenshot of the users pane with a user's details open, on the demo, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.console.users.take_screenshot [SECONDS]

Starts the demo back end (control plane and simulated traffic), lets it run SECONDS (default
40) so users have requests, opens the users pane as the demo's admin, picks the user with the
most recent requests, asks "Why refused?" and saves `users.png`. Not a test: look at it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from opsconsole.console import demo
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection, ConnectionState
from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.users import UsersPane
from opsconsole.console.profiles import Profile, ProfileStore
from opsconsole.console.qt import QApplication, QEventLoop
from opsconsole.console.settings import ConsoleSettings
from opsconsole.console.tokens import TokenStore
from opsconsole.wire.activity import UserRequest
from opsconsole.wire.common import Page

OUT = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


async def until(condition: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.2)


def main(seconds: float) -> int:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
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
            profile = Profile(
                name="demo",
                url=info.url,
                colour="#6a1b9a",
                pinned_pem=info.cert_pem,
                impersonation_url="https://app.example.com/?impersonate={token}",
            )
            ProfileStore(settings).save(profile)
            cache = Cache(settings.cache_dir / "demo.sqlite")
            connection = Connection(profile, cache=cache, tokens=TokenStore(memory_only=True))
            pane = UsersPane(connection, ServerClock(connection))
            pane.resize(1700, 900)
            pane.show()

            async def scenario() -> None:
                await connection.start()
                await until(lambda: connection.status.state is ConnectionState.SESSION_EXPIRED, 30)
                await connection.login(info.username, info.password)
                await until(lambda: connection.online, 30)
                await asyncio.sleep(seconds)
                await pane.load()
                best, most = None, -1
                for row in range(min(40, pane.model.rowCount())):
                    user = pane.model.row(row)
                    page = await connection.get(
                        f"/v1/users/{user.id}/requests", Page[UserRequest], params={"limit": 100}
                    )
                    if len(page.items) > most:
                        best, most = row, len(page.items)
                assert best is not None
                pane.table.selectRow(best)
                await until(lambda: pane.details.user is not None, 30)
                await until(lambda: pane.details.tabs.requests_model.rowCount() > 0, 30)
                await pane.details.why_refused()
                pane.details.tabs.setCurrentIndex(0)
                await asyncio.sleep(1)
                OUT.mkdir(parents=True, exist_ok=True)
                pane.grab().save(str(OUT / "users.png"))
                pane.details.tabs.setCurrentIndex(2)
                await asyncio.sleep(0.5)
                pane.grab().save(str(OUT / "users-why.png"))
                pane.close()
                await connection.close()

            loop.run_until_complete(scenario())
            loop.close()
    finally:
        demo._stop_child(child)
    print(f"saved {OUT / 'users.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 40.0))
