"""Help > About: versions (console, server, Qt), where logs and the cache live, and "copy
diagnostics" (what a bug report needs, never the session token or another secret).
"""

from __future__ import annotations

import asyncio
import logging
import platform
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import opsconsole
from opsconsole.console import logs
from opsconsole.console.connection import ConnectionState, ConnectionStatus
from opsconsole.console.panes.base import spawn
from opsconsole.console.qt import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGuiApplication,
    QLabel,
    QPushButton,
    Qt,
    QtCore,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection

log = logging.getLogger("opsconsole.console.about")

DIAGNOSTIC_LOG_LINES = 200
REDACTED = "[redacted]"
# Whatever a log line may carry by mistake: bearer tokens, passwords, app keys in a query.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)\S+"),
    re.compile(
        r"(?i)((?:password|passwd|token|secret|app[_-]?key)[\"']?\s*[=:]\s*[\"']?)[^\s\"',&]+"
    ),
)


def _public_url(url: str) -> str:
    """The URL without user info, query or fragment (where credentials could hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with the given secrets and anything shaped like a credential replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def qt_version() -> str:
    return f"Qt {QtCore.qVersion()}, PySide6 {getattr(QtCore, '__version__', '?')}"


def diagnostics(
    connection: Connection, *, server_version: str | None, log_lines: int = DIAGNOSTIC_LOG_LINES
) -> str:
    """What a bug report needs, as plain text: versions, platform, profile, paths, log tail."""
    profile = connection.profile
    operator = connection.operator
    log_file = logs.current_log_file()
    frozen = " (bundled)" if getattr(sys, "frozen", False) else ""
    lines = [
        f"opsconsole {opsconsole.__version__}{frozen}",
        f"server: {server_version or 'unknown (not connected)'}",
        f"python: {platform.python_version()} ({platform.python_implementation()})",
        f"platform: {platform.platform()}",
        f"qt: {qt_version()}, platform plugin {QGuiApplication.platformName() or '?'}",
        f"profile: {profile.name} {_public_url(profile.url)}",
        f"connection: {connection.status.describe()}",
        f"operator: {f'{operator.username} ({operator.role.value})' if operator else 'none'}",
        f"log file: {log_file or 'not set up'}",
        f"cache: {connection.cache.path}",
        "",
        f"--- last {log_lines} log lines ---",
        *logs.last_lines(log_lines, log_file),
    ]
    return redact("\n".join(lines), secrets=(connection.token or "",))


def copy_diagnostics(connection: Connection, *, server_version: str | None = None) -> str:
    """Put :func:`diagnostics` on the clipboard; returns the text copied."""
    text = diagnostics(connection, server_version=server_version)
    QGuiApplication.clipboard().setText(text)
    log.info("diagnostics copied to the clipboard (%d lines)", text.count("\n") + 1)
    return text


class AboutDialog(QDialog):
    """Versions, paths and the "copy diagnostics" button.

    The server's version is asked for when the dialog opens and again whenever the connection
    comes (back) online, so it is filled in once the console is connected.

    Signals: none.
    """

    def __init__(self, connection: Connection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About opsconsole")
        self.connection = connection
        self.server_version: str | None = None
        self._fetch: asyncio.Future[None] | None = None

        form = QFormLayout()
        self.version_label = self._value("consoleVersion", opsconsole.__version__)
        self.server_label = self._value("serverVersion", "")
        self.qt_label = self._value("qtVersion", qt_version())
        log_file = logs.current_log_file()
        self.log_label = self._value(
            "logPath", str(log_file.parent) if log_file else "not written (no log set up)"
        )
        self.cache_label = self._value("cachePath", str(Path(connection.cache.path).parent))
        form.addRow("Console:", self.version_label)
        form.addRow("Server:", self.server_label)
        form.addRow("Qt:", self.qt_label)
        form.addRow("Logs:", self.log_label)
        form.addRow("Cache:", self.cache_label)

        title = QLabel(f"<b>opsconsole {opsconsole.__version__}</b>")
        title.setObjectName("aboutTitle")
        blurb = QLabel("Operations console and control plane for AI-powered apps.")
        blurb.setWordWrap(True)
        self.copied_label = QLabel("")
        self.copied_label.setObjectName("copiedNote")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy diagnostics")
        self.copy_button.setObjectName("copyDiagnostics")
        self.copy_button.setToolTip(
            "Versions, platform, profile and the last log lines, for a bug report "
            "(no token or password)"
        )
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self._on_copy_clicked)

        column = QVBoxLayout(self)
        column.addWidget(title)
        column.addWidget(blurb)
        column.addLayout(form)
        column.addWidget(self.copied_label)
        column.addWidget(buttons)

        connection.status_changed.connect(self._on_connection_status_changed)
        self._show_server_version()
        self.refresh_server_version()

    # --- public -----------------------------------------------------------------------------

    def refresh_server_version(self) -> asyncio.Future[None] | None:
        """Ask the server for its version (when online); the label follows."""
        if not self.connection.online:
            self._show_server_version()
            return None
        if self._fetch is None or self._fetch.done():
            self._fetch = spawn(self._fetch_server_version())
        return self._fetch

    def copy_diagnostics(self) -> str:
        text = copy_diagnostics(self.connection, server_version=self.server_version)
        self.copied_label.setText("Diagnostics copied to the clipboard.")
        return text

    # --- private ----------------------------------------------------------------------------

    def _value(self, name: str, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName(name)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    async def _fetch_server_version(self) -> None:
        try:
            self.server_version = await self.connection.server_version()
        except Exception as error:  # ApiError, transport errors: the label says so
            log.info("server version not known: %s", error)
        self._show_server_version()

    def _show_server_version(self) -> None:
        if self.server_version:
            self.server_label.setText(self.server_version)
        elif self.connection.online:
            self.server_label.setText("asking the server…")
        else:
            self.server_label.setText(f"not connected ({self.connection.status.state.value})")

    def _on_copy_clicked(self) -> None:
        self.copy_diagnostics()

    def _on_connection_status_changed(self, status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED:
            self.refresh_server_version()
        else:
            self._show_server_version()
