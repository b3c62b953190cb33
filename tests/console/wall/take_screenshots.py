"""Screenshots of the wall display and of the main window in the dark theme, on the demo.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.console.wall.take_screenshots [SECONDS]

Starts the demo back end (`opsconsole demo --no-gui --ready-json`), adds a viewer operator
through the API (the wall's login), lets the simulated traffic run SECONDS (default 120),
then saves `docs/screenshots/wall.png` (1920x1080, first page), `wall-providers.png` and
`dark.png`. Not a test: run it by hand and look at them.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import tempfile

import httpx

from opsconsole.console import demo, themes
from opsconsole.console.app import MainWindow
from opsconsole.console.wall import WallWindow
from tests.console.screenshots import demo_session, seconds_argument, until

VIEWER, VIEWER_PASSWORD = "tv-lobby", "wall-display-password-1"


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


def main(seconds: float) -> int:
    with demo_session() as session:
        info = session.info
        add_viewer(info)
        wall_connection = session.connection("demo-wall")
        main_connection = session.connection("demo")
        wall = WallWindow(wall_connection, page_s=3600)
        wall.resize(1920, 1080)
        wall.show()
        window = MainWindow(main_connection, settings=session.settings)
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
            for page, name in ((0, "wall.png"), (1, "wall-trends.png"), (2, "wall-providers.png")):
                wall.show_page(page)
                await asyncio.sleep(0.5)
                session.save(wall, name)
            themes.manager(session.app, session.settings).set_choice(themes.Theme.DARK)
            await asyncio.sleep(1)
            session.save(window, "dark.png")
            wall.close()
            window.close()

        session.run(scenario())
    return 0


if __name__ == "__main__":
    sys.exit(main(seconds_argument(120.0)))
