"""What every pane shares: its connection, a stable object name, action guards and saved state.

A pane never does I/O itself: it awaits the connection's reads and writes and reacts to its
signals. Buttons that change something are "guarded": disabled with a tooltip that says why
when the role lacks the permission or the console is offline (actions are never queued).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from opsconsole.console.qt import QObject, QWidget, Signal

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection, ConnectionStatus
    from opsconsole.wire.metrics import MetricsSnapshot

log = logging.getLogger("opsconsole.console.panes")

OFFLINE_TIP = "Offline: actions are disabled until the server is back (they are never queued)."

# Permission names as the server spells them (server/permissions.py; the console never imports
# the server, so they are repeated here).
PROVIDERS_WRITE = "providers:write"
CONTROLS_WRITE = "controls:write"
ALERTS_WRITE = "alerts:write"


_running: set[asyncio.Future[Any]] = set()


def spawn(coroutine: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
    """Run ``coroutine`` on the (qasync) loop from a Qt slot; failures are logged, not lost."""
    task = asyncio.ensure_future(coroutine)
    _running.add(task)  # the loop keeps only weak references to its tasks
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Future[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("pane task failed", exc_info=task.exception())


class ServerClock(QObject):
    """The server's time, as far as the console knows it: the end of the newest snapshot.

    Expiries ("silence for an hour", "pause for 15 minutes") count from the server's clock,
    which runs faster than the wall clock in the demo.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._latest: datetime | None = None
        connection.snapshot_received.connect(self._on_connection_snapshot_received)

    def now(self) -> datetime:
        return self._latest or datetime.now(UTC)

    def _on_connection_snapshot_received(self, snapshot: MetricsSnapshot) -> None:
        end = snapshot.at + timedelta(seconds=snapshot.interval_s)
        if self._latest is None or end > self._latest:
            self._latest = end


class Pane(QWidget):
    """Base of the dock panes.

    Signals:
        notified(str): something the operator should notice now (a switch someone else
            flipped, an action that failed); the main window shows it as a notification.
    """

    notified = Signal(str)

    title: ClassVar[str] = ""
    name: ClassVar[str] = ""  # the dock's objectName is "dock_<name>": saved layouts use it

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"pane_{self.name}")
        self.connection = connection
        self.clock = clock
        self._guarded: list[tuple[QWidget, str, str]] = []
        connection.status_changed.connect(self._on_connection_status_changed)

    async def load(self) -> None:
        """Fetch what the pane shows (at start, after a reconnect, on a reload request)."""

    def save_state(self) -> dict[str, Any]:
        """What the operator chose in this pane (ranges, column widths), for the layout."""
        return {}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Apply what :meth:`save_state` returned; unknown or stale keys are ignored."""

    def guard(self, widget: QWidget, permission: str, tip: str = "") -> None:
        """Enable ``widget`` only while online and for roles with ``permission``."""
        self._guarded.append((widget, permission, tip))
        self._apply_guard(widget, permission, tip)

    def refresh_guards(self) -> None:
        for widget, permission, tip in self._guarded:
            self._apply_guard(widget, permission, tip)

    def permitted(self, permission: str) -> bool:
        return self.connection.online and self.connection.can(permission)

    def _apply_guard(self, widget: QWidget, permission: str, tip: str) -> None:
        if not self.connection.online:
            widget.setEnabled(False)
            widget.setToolTip(OFFLINE_TIP)
        elif not self.connection.can(permission):
            widget.setEnabled(False)
            widget.setToolTip(self.connection.why_not(permission))
        else:
            widget.setEnabled(self._extra_enabled(widget))
            widget.setToolTip(tip)

    def _extra_enabled(self, widget: QWidget) -> bool:
        """A pane's own condition on top of the guard (a row selected, say)."""
        return True

    def _on_connection_status_changed(self, status: ConnectionStatus) -> None:
        self.refresh_guards()
