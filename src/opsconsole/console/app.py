"""The main window: the profile's colour band, the panes as docks, the connection's status.

The window never talks to the server: it hands the connection to each pane, tells the panes
to load (at start, after a reconnect, when the stream asks for a reload) and shows what the
connection says about itself. The operator's arrangement is saved per profile on close.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from opsconsole.console import shortcuts
from opsconsole.console.about import AboutDialog, copy_diagnostics
from opsconsole.console.connection import ConnectionState, ConnectionStatus
from opsconsole.console.impersonation_restore import ImpersonationRestore
from opsconsole.console.layout import LAYOUT_VERSION, LayoutStore, PaneStates
from opsconsole.console.panes.alerts import AlertsPane
from opsconsole.console.panes.audit import AuditPane
from opsconsole.console.panes.base import Pane, ServerClock, spawn
from opsconsole.console.panes.business import BusinessPane
from opsconsole.console.panes.charts import RANGES, ChartsPane
from opsconsole.console.panes.controls import ControlsPane
from opsconsole.console.panes.headline import HeadlinePane
from opsconsole.console.panes.providers import ProvidersPane
from opsconsole.console.panes.tickets import TicketsPane
from opsconsole.console.panes.users import UsersPane
from opsconsole.console.progress import ProgressHost
from opsconsole.console.qt import (
    QAction,
    QByteArray,
    QCloseEvent,
    QColor,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMenuBar,
    QPushButton,
    QScrollArea,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.console.settings import ConsoleSettings

log = logging.getLogger("opsconsole.console.app")

NOTIFICATION_MS = 15_000  # long enough to read a sentence twice
PANE_TYPES: tuple[type[Pane], ...] = (
    HeadlinePane,
    ChartsPane,
    ControlsPane,
    ProvidersPane,
    AlertsPane,
    UsersPane,
    TicketsPane,
    AuditPane,
    BusinessPane,
)


def _text_colour(background: str) -> str:
    colour = QColor(background)
    luminance = 0.299 * colour.red() + 0.587 * colour.green() + 0.114 * colour.blue()
    return "#000000" if luminance > 150 else "#ffffff"


def _hhmm(status_time: object) -> str:
    if not isinstance(status_time, datetime):
        return "?"
    return f"{status_time.astimezone():%H:%M}"


class MainWindow(QMainWindow):
    """The console's window for one profile.

    Signals: none of its own; the panes' ``notified`` signals end in its notification banner.
    """

    def __init__(self, connection: Connection, *, settings: ConsoleSettings) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.connection = connection
        self.settings = settings
        self.profile = connection.profile
        self.layout_store = LayoutStore(settings.ui_state(), self.profile.name)
        self.clock = ServerClock(connection)
        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )

        self.about_dialog: AboutDialog | None = None
        self._build_top()
        self._build_status_bar()
        # Long calls (chart history, exports) show progress and Cancel in the status bar.
        self.progress = ProgressHost(self, self.statusBar())
        self.panes: dict[str, Pane] = {}
        self.docks: dict[str, QDockWidget] = {}
        for pane_type in PANE_TYPES:
            pane = pane_type(connection, self.clock)
            self._add_dock(pane)
            pane.notified.connect(self.notify)
        users = self.panes.get("users")
        self.impersonation_restore: ImpersonationRestore | None = None
        if isinstance(users, UsersPane):
            self._lift_impersonation_banner(users)
        tickets = self.panes.get("tickets")
        if isinstance(tickets, TicketsPane) and isinstance(users, UsersPane):
            # "Open user" beside a ticket: the users pane, with its actions, on that user.
            def open_user(user_id: str, users: UsersPane = users) -> None:
                self._focus("users")
                users.open_user(user_id)

            tickets.set_user_opener(open_user)
        self._arrange_default()
        self._default_state: QByteArray = self.saveState(LAYOUT_VERSION)
        self._default_panes: PaneStates = {k: p.save_state() for k, p in self.panes.items()}
        self._build_menus()
        shortcuts.install(self)  # quick search, shortcuts help, theme, full screen

        saved = self.layout_store.restore(self)
        if saved:
            self._restore_panes(saved)
        else:
            room = self.screen().availableGeometry()
            self.resize(min(1600, room.width()), min(1000, room.height()))
        self._hold_middle_row()

        self._retry_deadline: float | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._show_status)
        self._tick.start()
        self._load_task: asyncio.Future[None] | None = None
        self._was_online = connection.online
        connection.status_changed.connect(self._on_connection_status_changed)
        connection.reload_required.connect(self.reload)
        self._on_connection_status_changed(connection.status)

    # --- public -----------------------------------------------------------------------------

    def reload(self) -> asyncio.Future[None]:
        """Have every pane fetch its state again (from the cache when offline)."""
        if self._load_task is not None and not self._load_task.done():
            return self._load_task
        self._load_task = spawn(self._load_all())
        return self._load_task

    def notify(self, text: str) -> None:
        """Show ``text`` in the banner under the band for a while, and in the status bar."""
        self.notification_text.setText(text)
        self.notification.show()
        self._hide_notification.start(NOTIFICATION_MS)
        self.statusBar().showMessage(text, NOTIFICATION_MS)
        log.info("notification: %s", text)

    def save_layout(self) -> None:
        self.layout_store.save(self, {k: p.save_state() for k, p in self.panes.items()})

    def reset_layout(self) -> None:
        """Back to the default arrangement, every pane shown; forget the saved one."""
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self._restore_panes(self._default_panes)
        self._hold_middle_row()
        self.layout_store.clear()

    def pane(self, name: str) -> Pane:
        return self.panes[name]

    def show_about(self) -> AboutDialog:
        """Help > About: one dialog, raised again when asked twice."""
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.connection, self)
        else:
            self.about_dialog.refresh_server_version()
        self.about_dialog.show()
        self.about_dialog.raise_()
        return self.about_dialog

    def copy_diagnostics(self) -> str:
        """Help > Copy diagnostics (no secrets), with the server's version once known."""
        known = self.about_dialog.server_version if self.about_dialog is not None else None
        text = copy_diagnostics(self.connection, server_version=known)
        self.statusBar().showMessage("Diagnostics copied to the clipboard.", NOTIFICATION_MS)
        return text

    # --- building ---------------------------------------------------------------------------

    def _build_top(self) -> None:
        # The band sits under the menu bar, above every dock, so no arrangement can hide it.
        top = QWidget()
        top.setObjectName("top")
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.menu_bar = QMenuBar()
        column.addWidget(self.menu_bar)
        self.band = QLabel()
        self.band.setObjectName("profileBand")
        self.band.setMargin(6)
        colour = self.profile.colour
        self.band.setStyleSheet(
            f"QLabel#profileBand {{ background: {colour}; color: {_text_colour(colour)};"
            " font-weight: bold; }"
        )
        column.addWidget(self.band)
        self.offline_banner = QLabel()
        self.offline_banner.setObjectName("offlineBanner")
        self.offline_banner.setMargin(4)
        self.offline_banner.setStyleSheet(
            "QLabel#offlineBanner { background: #fff3cd; color: #5c4400;"
            " border-bottom: 1px solid #e0c060; }"
        )
        self.offline_banner.hide()
        column.addWidget(self.offline_banner)
        self.notification = QWidget()
        self.notification.setObjectName("notification")
        self.notification.setStyleSheet(
            "QWidget#notification { background: #e3f2fd; border-bottom: 1px solid #90caf9; }"
            "QLabel { color: #0d3c61; }"
        )
        row = QHBoxLayout(self.notification)
        row.setContentsMargins(8, 3, 4, 3)
        self.notification_text = QLabel()
        self.notification_text.setObjectName("notificationText")
        self.notification_text.setWordWrap(True)
        close = QPushButton("Dismiss")
        close.setFlat(True)
        close.clicked.connect(self.notification.hide)
        row.addWidget(self.notification_text, 1)
        row.addWidget(close)
        self.notification.hide()
        column.addWidget(self.notification)
        self._hide_notification = QTimer(self)
        self._hide_notification.setSingleShot(True)
        self._hide_notification.timeout.connect(self.notification.hide)
        self.setMenuWidget(top)
        # Docks fill the window; Qt still wants a central widget, so an empty one that takes
        # no width. While docks sit in the middle row it must count as there (hidden, keeping
        # its place; see _hold_middle_row) and be free to grow in height.
        self._centre = QWidget()
        self._centre.setMaximumWidth(0)
        self.setCentralWidget(self._centre)
        self._centre.hide()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel()
        self.status_label.setObjectName("connectionStatus")
        self.offline_marker = QLabel()
        self.offline_marker.setObjectName("offlineMarker")
        self.offline_marker.setStyleSheet(
            "QLabel { background: #ffcc00; color: #000000; padding: 1px 6px; font-weight: bold; }"
        )
        self.offline_marker.hide()
        self.operator_label = QLabel()
        self.operator_label.setObjectName("operator")
        bar.addPermanentWidget(self.offline_marker)
        bar.addPermanentWidget(self.status_label)
        bar.addPermanentWidget(self.operator_label)

    def _lift_impersonation_banner(self, users: UsersPane) -> None:
        top = self.menuWidget()
        top_layout = top.layout() if top is not None else None
        if top_layout is None:
            return
        # Above every dock, like the band: no arrangement may hide an impersonation.
        top_layout.addWidget(users.banner)
        # One the server still holds from an earlier session comes back on connecting.
        self.impersonation_restore = ImpersonationRestore(self.connection, users.banner, self)
        self.impersonation_restore.notified.connect(self.notify)

    def _add_dock(self, pane: Pane) -> None:
        dock = QDockWidget(pane.title, self)
        dock.setObjectName(f"dock_{pane.name}")
        # A pane wider or taller than its room scrolls instead of pushing the window past the
        # screen (the tickets pane alone wants ~1,300 px; a laptop screen has 1,366).
        room = QScrollArea(dock)
        room.setWidgetResizable(True)
        room.setFrameShape(QFrame.Shape.NoFrame)
        room.setWidget(pane)
        dock.setWidget(room)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.panes[pane.name] = pane
        self.docks[pane.name] = dock
        dock.visibilityChanged.connect(self._on_dock_moved)
        dock.dockLocationChanged.connect(self._on_dock_moved)
        dock.topLevelChanged.connect(self._on_dock_moved)

    def _arrange_default(self) -> None:
        d = self.docks
        self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, d["headline"])
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["charts"])
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d["controls"])
        self.splitDockWidget(d["controls"], d["providers"], Qt.Orientation.Vertical)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, d["alerts"])
        self.resizeDocks([d["charts"], d["controls"]], [900, 660], Qt.Orientation.Horizontal)
        # The headline as tall as its tiles, the alerts a few rows; the middle row takes the
        # rest (asking it for more than the screen has squeezed the headline under its tiles).
        self.resizeDocks([d["headline"], d["alerts"]], [110, 200], Qt.Orientation.Vertical)
        if "users" in d:  # support staff's room: a tab beside the charts
            self.tabifyDockWidget(d["charts"], d["users"])
            d["charts"].raise_()
        for name in ("tickets", "audit", "business"):  # work queues: tabs beside the charts
            if name in d:
                self.tabifyDockWidget(d["charts"], d[name])
                d["charts"].raise_()

    def _build_menus(self) -> None:
        file_menu = self.menu_bar.addMenu("&File")
        self.reload_action = self._action("&Reload", shortcuts.RELOAD.keys[0], self.reload)
        file_menu.addAction(self.reload_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", shortcuts.QUIT.keys[0], self.close))

        view = self.menu_bar.addMenu("&View")
        self.view_menu = view
        for i, (name, dock) in enumerate(self.docks.items(), start=1):
            toggle = dock.toggleViewAction()
            toggle.setObjectName(f"toggle_{name}")
            toggle.setShortcut(QKeySequence(shortcuts.pane_toggle(i)))
            view.addAction(toggle)
        view.addSeparator()
        view.addAction(self._action("Show &all panes", shortcuts.SHOW_ALL.keys[0], self._show_all))
        self.reset_action = self._action(
            "Reset &layout", shortcuts.RESET_LAYOUT.keys[0], self.reset_layout
        )
        self.reset_action.setObjectName("resetLayout")
        view.addAction(self.reset_action)

        charts = self.panes["charts"]
        assert isinstance(charts, ChartsPane)
        range_menu = self.menu_bar.addMenu("&Charts")
        for i, rng in enumerate(RANGES, start=1):
            range_menu.addAction(
                self._action(
                    f"Last {rng.label}",
                    shortcuts.chart_range(i),
                    partial(charts.range_combo.setCurrentText, rng.label),
                )
            )
        controls = self.menu_bar.addMenu("&Emergency")
        controls.addAction(
            self._action(
                "Show emergency &controls",
                shortcuts.EMERGENCY_CONTROLS.keys[0],
                lambda: self._focus("controls"),
            )
        )
        # Help (C4): About and "copy diagnostics"; other Help entries go in this menu too.
        self.help_menu = self.menu_bar.addMenu("&Help")
        self.about_action = self._action("&About opsconsole", "", self.show_about)
        self.about_action.setObjectName("about")
        self.help_menu.addAction(self.about_action)
        self.diagnostics_action = self._action("Copy &diagnostics", "", self.copy_diagnostics)
        self.diagnostics_action.setObjectName("copyDiagnostics")
        self.help_menu.addAction(self.diagnostics_action)

    def _action(
        self, text: str, shortcut: str | QKeySequence.StandardKey, slot: Callable[[], object]
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)  # shortcuts work while the menu bar is hidden in a dock too
        return action

    # --- private ----------------------------------------------------------------------------

    def _hold_middle_row(self) -> None:
        # Without a central widget QMainWindow takes height from every row when the band above
        # the docks grows (a notification shown or rewrapped, the offline banner) but gives it
        # back only to the top and bottom docks: over half an hour of notifications the charts
        # shrank to nothing while the headline and alerts docks filled with empty space. With
        # one, the middle row takes every change and the docks above and below keep the height
        # the operator gave them. With no dock left beside it, it would be an empty hole: then
        # the top and bottom docks share the room as before.
        sides = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
        middle = any(
            not dock.isHidden() and not dock.isFloating() and self.dockWidgetArea(dock) in sides
            for dock in self.docks.values()
        )
        policy = self._centre.sizePolicy()
        if policy.retainSizeWhenHidden() != middle:
            policy.setRetainSizeWhenHidden(middle)
            self._centre.setSizePolicy(policy)

    def _restore_panes(self, states: PaneStates) -> None:
        for name, pane in self.panes.items():
            state = states.get(name)
            if isinstance(state, dict):
                try:
                    pane.restore_state(state)
                except (TypeError, ValueError) as exc:
                    log.warning("pane %s: saved state ignored (%s)", name, exc)

    def _show_all(self) -> None:
        for dock in self.docks.values():
            dock.show()

    def _focus(self, name: str) -> None:
        dock = self.docks[name]
        dock.show()
        dock.raise_()
        self.panes[name].setFocus()

    async def _load_all(self) -> None:
        failed = []
        for name, pane in self.panes.items():
            try:
                await pane.load()
            except Exception as exc:
                log.warning("pane %s could not load: %s", name, exc)
                failed.append(f"{pane.title}: {exc}")
        if failed:
            self.statusBar().showMessage("Not loaded: " + "; ".join(failed), NOTIFICATION_MS)

    def _show_band(self) -> None:
        profile = self.profile
        operator = self.connection.operator
        who = f"{operator.username} ({operator.role.value})" if operator else "not signed in"
        state = self.connection.status.state
        suffix = "" if state is ConnectionState.CONNECTED else f" · {state.value.upper()}"
        self.band.setText(f"{profile.name.upper()} · {profile.url} · {who}{suffix}")
        self.setWindowTitle(f"[{profile.name}] opsconsole · {profile.url}{suffix}")
        self.operator_label.setText(who)

    def _show_status(self) -> None:
        status = self.connection.status
        state = status.state
        if state is ConnectionState.CONNECTED:
            text = "Connected"
        elif state is ConnectionState.CONNECTING:
            text = "Connecting…"
        elif state is ConnectionState.RECONNECTING:
            left = (
                max(0.0, self._retry_deadline - time.monotonic())
                if self._retry_deadline is not None
                else None
            )
            text = "Reconnecting…" if left is None else f"Reconnecting in {left:.0f} s"
        elif state is ConnectionState.SESSION_EXPIRED:
            text = "Session expired: sign in again"
        elif status.offline_since is not None:
            text = f"Offline since {_hhmm(status.on_server_clock(status.offline_since))}"
        else:
            text = "Offline"
        if status.detail and state is not ConnectionState.CONNECTED:
            text += f" ({status.detail})"
        self.status_label.setText(text)
        if state is ConnectionState.CONNECTED:
            self.offline_marker.hide()
            self.offline_banner.hide()
        else:
            as_of = (
                f"offline, data as of {_hhmm(status.on_server_clock(status.data_as_of))}"
                if status.data_as_of is not None
                else "offline, nothing cached yet"
            )
            self.offline_marker.setText(as_of)
            self.offline_marker.show()
            self.offline_banner.setText(
                f"{text}. Showing cached data ({as_of}); actions are disabled until the "
                "server is back."
            )
            self.offline_banner.show()

    def _on_connection_status_changed(self, status: ConnectionStatus) -> None:
        self._retry_deadline = (
            time.monotonic() + status.retry_in_s if status.retry_in_s is not None else None
        )
        self._show_band()
        self._show_status()
        online = status.state is ConnectionState.CONNECTED
        if online and not self._was_online:
            self.reload()  # back from offline: catch up
        self._was_online = online

    def _on_dock_moved(self, *_: object) -> None:
        self._hold_middle_row()  # closed, shown, floated or put in another area

    # --- Qt overrides -----------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.save_layout()
        super().closeEvent(event)
