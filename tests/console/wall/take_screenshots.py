"""Screenshots of the wall display and of the main window in the dark theme, on the demo.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.console.wall.take_screenshots [SECONDS]

Starts the demo back end (`opsconsole demo --no-gui --ready-json`), adds a viewer operator
through the API (the wall's login), lets the simulated traffic run SECONDS (default 120),
then saves `docs/screenshots/wall.png` (1920x1080, first page), `wall-providers.png` and
`dark.png`. Not a test: run it by hand and look at them.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import httpx

from opsconsole.console import demo, themes
from opsconsole.console.app import MainWindow
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection
from opsconsole.console.profiles import Profile, ProfileStore
from opsconsole.console.qt import QApplication, QEventLoop
from opsconsole.console.settings import ConsoleSettings
from opsconsole.console.tokens import TokenStore
from opsconsole.console.wall import WallWindow

OUT = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
VIEWER, VIEWER_PASSWORD = "tv-lobby", "wall-display-password-1"


async def until(condition: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.2)


def add_viewer(info: demo.DemoInfo) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as pem:
        pem.write(info.cert_pem)
    context = ssl.create_default_context(cafile=pem.name)
    with httpx.Client(base_url=info.url, verify=context, timeout=30) as admin:
        token = admin.post(
            "/v1/auth/login", json={"username": info.username, "password": info.password}
        ).json()["token"]
        admin.headers["Authorization"] = f"Bearer {token}"
        admin.post("/v1/auth/step-up", json={"password": info.password}).raise_for_status()
        response = admin.post(
            "/v1/operators",
            json={"username": VIEWER, "role": "viewer", "password": VIEWER_PASSWORD},
        )
        assert response.status_code in (200, 201, 409), response.text


def connection_for(settings: ConsoleSettings, info: demo.DemoInfo, name: str) -> Connection:
    profile = Profile(name=name, url=info.url, colour="#6a1b9a", pinned_pem=info.cert_pem)
    ProfileStore(settings).save(profile)
    cache = Cache(settings.cache_dir / f"{name}.sqlite")
    return Connection(profile, cache=cache, tokens=TokenStore(memory_only=True))


def main(seconds: float) -> int:
    import subprocess

    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # closing the wall must not stop the loop
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
        add_viewer(info)
        with tempfile.TemporaryDirectory(prefix="opsconsole-shots-") as home:
            settings = ConsoleSettings(Path(home) / "config", Path(home) / "data")
            wall_connection = connection_for(settings, info, "demo-wall")
            main_connection = connection_for(settings, info, "demo")
            wall = WallWindow(wall_connection, page_s=3600)
            wall.resize(1920, 1080)
            wall.show()
            window = MainWindow(main_connection, settings=settings)
            window.resize(1600, 1000)
            window.show()

            async def scenario() -> None:
                await wall_connection.start()
                await main_connection.start()
                await wall_connection.login(VIEWER, VIEWER_PASSWORD)
                await main_connection.login(info.username, info.password)
                await until(lambda: wall_connection.online and main_connection.online, 30)
                await wall.load()
                await window.reload()
                await asyncio.sleep(seconds)
                await wall.load()
                await window.reload()
                await asyncio.sleep(3)
                OUT.mkdir(parents=True, exist_ok=True)
                wall.show_page(0)
                await asyncio.sleep(0.5)
                wall.grab().save(str(OUT / "wall.png"))
                for page, name in ((1, "wall-trends.png"), (2, "wall-providers.png")):
                    wall.show_page(page)
                    await asyncio.sleep(0.5)
                    wall.grab().save(str(OUT / name))
                themes.manager(app, settings).set_choice(themes.Theme.DARK)
                await asyncio.sleep(1)
                window.grab().save(str(OUT / "dark.png"))
                wall.close()
                window.close()
                await wall_connection.close()
                await main_connection.close()

            loop.run_until_complete(scenario())
            loop.close()
    finally:
        demo._stop_child(child)
    print(f"saved wall.png, wall-trends.png, wall-providers.png and dark.png in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 120.0))
