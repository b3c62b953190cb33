"""Help > About and "copy diagnostics", and the console's rotating log file."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

import opsconsole
from opsconsole.console import logs
from opsconsole.console.about import REDACTED, AboutDialog, redact
from opsconsole.console.app import MainWindow
from opsconsole.console.connection import ConnectionState
from opsconsole.console.qt import QGuiApplication, Qt
from tests.console.views.conftest import Console

log = logging.getLogger("opsconsole.console.test")


def _about(console: Console, qtbot: QtBot) -> AboutDialog:
    dialog = AboutDialog(console.connection)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_about_shows_the_server_version_and_where_logs_and_cache_live(
    console: Console, qtbot: QtBot, tmp_path: Path
) -> None:
    log_file = logs.setup(tmp_path / "logs")
    dialog = _about(console, qtbot)
    assert dialog.version_label.text() == opsconsole.__version__
    # The server's version comes from its /healthz once the dialog asks.
    console.wait(lambda: dialog.server_label.text() == opsconsole.__version__, "server version")
    assert dialog.log_label.text() == str(log_file.parent)
    assert dialog.cache_label.text() == str(console.connection.cache.path.parent)
    assert "Qt " in dialog.qt_label.text()


def test_server_version_fills_in_once_the_console_is_connected(
    console: Console, qtbot: QtBot
) -> None:
    console.stop_server()
    console.wait(lambda: not console.connection.online, "offline")
    dialog = _about(console, qtbot)
    assert dialog.server_label.text().startswith("not connected")
    assert dialog.server_version is None

    console.start_server()
    console.wait(lambda: console.connection.online, "back online", timeout=20)
    console.wait(lambda: dialog.server_label.text() == opsconsole.__version__, "server version")


def test_copy_diagnostics_has_what_a_report_needs_and_no_secret(
    console: Console, qtbot: QtBot, tmp_path: Path
) -> None:
    logs.setup(tmp_path / "logs")
    token = console.connection.token
    assert token
    log.info("a line before the report: marker-1234")
    log.warning("a careless line: Authorization: Bearer %s", token)
    log.warning("another: password=hunter2-hunter2 app_key=ak_live_secret")
    dialog = _about(console, qtbot)
    console.wait(lambda: dialog.server_version is not None, "server version")

    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)

    text = QGuiApplication.clipboard().text()
    profile = console.connection.profile
    assert f"opsconsole {opsconsole.__version__}" in text
    assert f"server: {opsconsole.__version__}" in text
    assert "platform: " in text
    assert "qt: Qt " in text
    assert f"profile: {profile.name} {profile.url}" in text
    assert "operator: olivia (oncall)" in text
    assert "marker-1234" in text  # the last log lines
    assert token not in text
    assert "hunter2" not in text
    assert "ak_live_secret" not in text
    assert REDACTED in text
    assert dialog.copied_label.text() == "Diagnostics copied to the clipboard."


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /v1/stream Authorization: Bearer abc.DEF-123", "abc.DEF-123"),
        ('{"password": "correct horse"}', "correct"),
        ("url https://x/?token=t0k3n&x=1", "t0k3n"),
        ("APP_KEY=ak_live_1", "ak_live_1"),
    ],
)
def test_redact_hides_credentials(line: str, secret: str) -> None:
    assert secret not in redact(line)
    assert REDACTED in redact(line)


def test_main_window_help_menu_opens_about_and_copies_diagnostics(
    console: Console, qtbot: QtBot
) -> None:
    window = MainWindow(console.connection, settings=console.settings)
    qtbot.addWidget(window)
    window.show()
    actions = window.help_menu.actions()
    assert window.about_action in actions
    assert window.diagnostics_action in actions

    window.about_action.trigger()
    dialog = window.about_dialog
    assert dialog is not None
    assert dialog.isVisible()
    window.about_action.trigger()
    assert window.about_dialog is dialog  # one dialog, raised again
    console.wait(lambda: dialog.server_version == opsconsole.__version__, "server version")

    window.diagnostics_action.trigger()
    text = QGuiApplication.clipboard().text()
    assert f"profile: {console.connection.profile.name}" in text
    assert f"server: {opsconsole.__version__}" in text
    assert console.connection.status.state is ConnectionState.CONNECTED


def test_logs_rotate_and_the_last_lines_span_the_rotation(tmp_path: Path) -> None:
    path = logs.setup(tmp_path / "logs", max_bytes=2_000)
    for i in range(400):
        log.info("line %04d %s", i, "x" * 40)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["console.log", *[f"console.log.{n}" for n in range(1, logs.BACKUPS + 1)]]
    assert all(p.stat().st_size <= 2_100 for p in path.parent.iterdir())
    tail = logs.last_lines(60)
    assert len(tail) == 60
    numbers = [int(line.split("line ")[1][:4]) for line in tail]
    assert numbers == list(range(340, 400))  # newest last, across console.log.1 and console.log


def test_logs_follow_a_redirected_data_directory(console_dirs: tuple[Path, Path]) -> None:
    """Tests and the demo redirect the data directory: the log goes with it, never to the
    user's own log directory."""
    _, data = console_dirs
    assert logs.default_log_dir() == data / "logs"
    assert logs.setup() == data / "logs" / "console.log"
    assert logs.setup() == logs.current_log_file()  # a second setup adds no second handler
    rotating = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.handlers.RotatingFileHandler)
    ]
    assert len(rotating) == 1
