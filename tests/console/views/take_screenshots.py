"""Screenshots of the main window on the demo, live and then offline, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.console.views.take_screenshots [SECONDS]

Starts the demo back end (`opsconsole demo --no-gui --ready-json`: control plane and simulator,
a simulated day in about five minutes), opens the console's main window on it, waits SECONDS
(default 300: about a simulated day), saves `main-window.png`, stops the back end, waits for
the console to notice, and saves `offline.png`. Not a test: run it by hand and look at them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from opsconsole.console import demo
from opsconsole.console.app import MainWindow
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection, ConnectionState
from opsconsole.console.panes.charts import ChartsPane
from opsconsole.console.profiles import Profile, ProfileStore
from opsconsole.console.qt import QApplication, QEventLoop
from opsconsole.console.settings import ConsoleSettings
from opsconsole.console.tokens import TokenStore

OUT = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


async def until(condition: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.2)


def main(seconds: float) -> int:
    import subprocess
    import tempfile

    app = QApplication(sys.argv[:1])
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
            profile = Profile(name="demo", url=info.url, colour="#6a1b9a", pinned_pem=info.cert_pem)
            ProfileStore(settings).save(profile)
            cache = Cache(settings.cache_dir / "demo.sqlite")
            connection = Connection(
                profile, cache=cache, tokens=TokenStore(memory_only=True), backoff_cap_s=2.0
            )
            window = MainWindow(connection, settings=settings)
            window.resize(1600, 1000)
            window.show()

            async def scenario() -> None:
                await connection.start()
                await until(lambda: connection.status.state is ConnectionState.SESSION_EXPIRED, 30)
                await connection.login(info.username, info.password)
                await until(lambda: connection.online, 30)
                charts = window.pane("charts")
                assert isinstance(charts, ChartsPane)
                charts.range_combo.setCurrentText("1 h")
                await window.reload()
                await asyncio.sleep(seconds)
                await window.reload()
                await asyncio.sleep(3)
                OUT.mkdir(parents=True, exist_ok=True)
                window.grab().save(str(OUT / "main-window.png"))
                await asyncio.to_thread(demo._stop_child, child)
                await until(lambda: not connection.online, 60)
                await asyncio.sleep(2)
                window.grab().save(str(OUT / "offline.png"))
                window.close()
                await connection.close()

            loop.run_until_complete(scenario())
            loop.close()
    finally:
        demo._stop_child(child)
    print(f"saved {OUT / 'main-window.png'} and {OUT / 'offline.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0))
