"""Entry of the desktop console: QApplication + qasync loop, trust, login, then the main window.

The window is shown first (the operator sees the profile and the cached state at once); the
connection then checks the certificate, logs in (token from the keyring, else the login
dialog) and starts streaming. An expired session asks for the password again over the same
window, so the layout is never lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

import opsconsole
from opsconsole.console import logs
from opsconsole.console.app import MainWindow
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection, ConnectionState, ConnectionStatus
from opsconsole.console.dialogs.fingerprint import confirm_certificate, warn_certificate_changed
from opsconsole.console.dialogs.login import log_in
from opsconsole.console.dialogs.stepup import step_up_prompt
from opsconsole.console.profiles import Profile, ProfileStore
from opsconsole.console.qt import (
    QApplication,
    QEventLoop,
    QMessageBox,
    QTimer,
    QWidget,
)
from opsconsole.console.settings import (
    CACHE_RETENTION_DAYS,
    RECONNECT_BASE_S,
    RECONNECT_CAP_S,
    REQUEST_TIMEOUT_S,
    WALL_PAGE_S,
    ConsoleSettings,
)
from opsconsole.console.tokens import TokenStore
from opsconsole.console.trust import PeerCertificate
from opsconsole.console.wall import WallWindow

log = logging.getLogger("opsconsole.console")

# Set to 1 to log the time to the first frame and quit there (cold-start measurement).
FIRST_FRAME_ENV = "OPSCONSOLE_FIRST_FRAME_EXIT"


@dataclass(frozen=True)
class AutoLogin:
    """Credentials the console logs in with by itself (the demo's operator)."""

    username: str
    password: str


def run(
    profile: Profile,
    *,
    settings: ConsoleSettings,
    offline: bool = False,
    auto_login: AutoLogin | None = None,
    tokens: TokenStore | None = None,
    wall: bool = False,
) -> int:
    """Open the console for ``profile`` and run until its window is closed.

    ``wall`` opens the full-screen wall display (wall.py) instead of the main window.
    """
    started = time.perf_counter()
    log_file = logs.setup()
    log.info("opsconsole %s console starting; log file %s", opsconsole.__version__, log_file)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("opsconsole")
    app.setQuitOnLastWindowClosed(False)  # we close the connection first, then quit
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return int(
                loop.run_until_complete(
                    _session(
                        app,
                        profile,
                        settings=settings,
                        offline=offline,
                        auto_login=auto_login,
                        tokens=tokens or TokenStore(),
                        started=started,
                        wall=wall,
                    )
                )
            )
    finally:
        asyncio.set_event_loop(None)


async def _session(
    app: QApplication,
    profile: Profile,
    *,
    settings: ConsoleSettings,
    offline: bool,
    auto_login: AutoLogin | None,
    tokens: TokenStore,
    started: float,
    wall: bool = False,
) -> int:
    store = ProfileStore(settings)
    store.remember(profile)
    cache = Cache(
        settings.cache_dir / f"{profile.name}.sqlite",
        retention_days=settings.get(CACHE_RETENTION_DAYS),
    )
    connection = Connection(
        profile,
        cache=cache,
        tokens=tokens,
        offline=offline,
        backoff_base_s=settings.get(RECONNECT_BASE_S),
        backoff_cap_s=settings.get(RECONNECT_CAP_S),
        request_timeout_s=settings.get(REQUEST_TIMEOUT_S),
    )
    window: QWidget
    if wall:
        window = WallWindow(connection, page_s=settings.get(WALL_PAGE_S))
    else:
        window = MainWindow(connection, settings=settings)
    closed = asyncio.Event()
    window.destroyed.connect(closed.set)
    app.lastWindowClosed.connect(closed.set)

    async def trust_prompt(presented: PeerCertificate) -> bool:
        return await confirm_certificate(connection.profile, presented, window)

    connection.set_trust_prompt(trust_prompt, store.save)
    connection.set_step_up_prompt(step_up_prompt(window))
    connection.certificate_refused.connect(lambda text: warn_certificate_changed(text, window))
    relogin = _Relogin(connection, window)
    connection.status_changed.connect(relogin.on_status_changed)

    if wall:
        window.showFullScreen()
    else:
        window.show()
    QTimer.singleShot(0, lambda: _first_frame(started, closed))
    previous_sigterm = _close_on_sigterm(window)
    notice = tokens.take_warning()
    if notice and not offline:
        QMessageBox.information(window, "Session token kept in memory", notice)
    # Old rows go in the background: the window must not wait for them.
    asyncio.get_running_loop().run_in_executor(None, cache.prune)
    if auto_login is not None:
        await connection.login(auto_login.username, auto_login.password)
    await connection.start()
    try:
        await closed.wait()
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        await connection.close()
    log.info("console closed")
    return 0


def _close_on_sigterm(window: QWidget) -> Any:
    """SIGTERM (a session logout, a service manager) closes the window as the operator would:
    the layout is saved and the connection closed. Returns the handler it replaced.

    Python runs the handler when Qt next calls into it (the window's 1 s status tick at
    the latest), so the close happens on the loop, not inside Qt's own code.
    """
    loop = asyncio.get_running_loop()
    try:
        return signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(window.close))
    except ValueError:  # not the main thread (an embedding test): leave signals alone
        return None


class _Relogin:
    """Shows the login dialog whenever the connection needs a session, once at a time."""

    def __init__(self, connection: Connection, window: QWidget) -> None:
        self.connection = connection
        self.window = window
        self.asking = False
        self.first = True

    def on_status_changed(self, status: ConnectionStatus) -> None:
        if status.state is ConnectionState.SESSION_EXPIRED and not self.asking:
            self.asking = True
            asyncio.get_running_loop().create_task(self._ask())

    async def _ask(self) -> None:
        message = (
            ""
            if self.first
            else "Your session has ended. Enter your password again; your layout is kept."
        )
        self.first = False
        try:
            if not await log_in(self.connection, self.window, message):
                log.info("login cancelled: the console stays on its cached data")
        finally:
            self.asking = False


def _first_frame(started: float, closed: asyncio.Event) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    log.info("first frame %.0f ms after the console started", elapsed_ms)
    if os.environ.get(FIRST_FRAME_ENV) == "1":
        print(f"first frame: {elapsed_ms:.0f} ms after run(), at {time.time():.3f}", flush=True)
        closed.set()
