"""Emergency controls: one button per switch showing its state, who set it, why and until when.

A click opens the confirmation (reason, expiry, the typed name for pause_all); the switch goes
to the server with the expiry counted on the server's clock. A change made by anyone else
(another operator, or an alert's automation) arrives on the stream, updates the button at
once and is announced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.console.panes.base import CONTROLS_WRITE, Pane, ServerClock, log, spawn
from opsconsole.console.qt import (
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.confirm import SWITCH_HELP, SWITCH_TITLES, SwitchConfirmDialog
from opsconsole.wire.gate import SwitchName, SwitchPublic

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.wire.metrics import MetricsSnapshot
    from opsconsole.wire.stream import SwitchChange

_OFF_STYLE = "QPushButton { text-align: left; padding: 6px 10px; }"
_ON_STYLE = (
    "QPushButton { text-align: left; padding: 6px 10px; background: #c62828; color: white;"
    " border: 1px solid #8e0000; border-radius: 4px; }"
    "QPushButton:disabled { background: #e6a5a5; color: #4a0000; }"
)


def person(actor: str | None) -> str:
    """``operator:alice`` as ``alice``, ``automation:automation`` as ``automation``."""
    if not actor:
        return "unknown"
    kind, _, name = actor.partition(":")
    if not name:
        return kind
    return name if kind in {"operator", name} else actor


def describe_value(switch: SwitchPublic) -> str:
    value: Any = switch.value
    if switch.name is SwitchName.PAUSE_TIERS and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if switch.name is SwitchName.GLOBAL_BUDGET_CAP and isinstance(value, int | float):
        return f"${value:,.2f}/day"
    if switch.name is SwitchName.GLOBAL_RATE_LIMIT and isinstance(value, int | float):
        return f"{value:,.0f}/min"
    return ""


def button_text(switch: SwitchPublic) -> str:
    """Three lines: the name and state, who set it and why, and until when."""
    title = SWITCH_TITLES[switch.name]
    if not switch.active:
        who = f"cleared by {person(switch.set_by)}" if switch.set_by else "never set"
        return f"{title}: OFF\n{who}\nclick to turn on"
    value = describe_value(switch)
    head = f"{title}: ON" + (f" ({value})" if value else "")
    why = f"by {person(switch.set_by)}: {switch.reason or 'no reason given'}"
    until = (
        f"until {switch.expires_at.astimezone():%d %b %H:%M}"
        if switch.expires_at
        else "until cleared"
    )
    return f"{head}\n{why}\n{until}"


class SwitchButton(QPushButton):
    """The button of one switch; its text and colour follow the switch's state."""

    def __init__(self, name: SwitchName, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.switch_name = name
        self.setObjectName(f"switch_{name.value}")
        self.switch = SwitchPublic(
            name=name,
            active=False,
            value=None,
            set_by=None,
            reason=None,
            set_at=None,
            expires_at=None,
        )
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(64)
        self.show_switch(self.switch)

    def show_switch(self, switch: SwitchPublic) -> None:
        self.switch = switch
        self.setText(button_text(switch))
        self.setStyleSheet(_ON_STYLE if switch.active else _OFF_STYLE)
        self.setAccessibleName(self.text().split("\n", 1)[0])


class ControlsPane(Pane):
    """A button per switch in two columns."""

    title = "Emergency controls"
    name = "controls"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.buttons: dict[SwitchName, SwitchButton] = {}
        self.dialog: SwitchConfirmDialog | None = None
        self.message = QLabel("")
        self.message.setObjectName("controlsMessage")
        self.message.setWordWrap(True)
        self.tiers: list[str] = []
        grid = QGridLayout()
        grid.setSpacing(6)
        for i, name in enumerate(SwitchName):
            button = SwitchButton(name)
            button.clicked.connect(lambda _=False, n=name: self.ask(n))
            self.buttons[name] = button
            grid.addWidget(button, i // 2, i % 2)
            self.guard(button, CONTROLS_WRITE, SWITCH_HELP[name])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addWidget(self.message)
        layout.addStretch(1)
        connection.switch_changed.connect(self._on_connection_switch_changed)
        connection.snapshot_received.connect(self._on_connection_snapshot_received)

    async def load(self) -> None:
        for switch in await self.connection.controls():
            self.show_switch(switch)

    def show_switch(self, switch: SwitchPublic) -> None:
        button = self.buttons[switch.name]
        button.show_switch(switch)
        # The guard's tooltip stays the help text; the details are in the button itself.

    def ask(self, name: SwitchName) -> SwitchConfirmDialog:
        """Open the confirmation for the switch ``name`` (turning it on if off, else off)."""
        switch = self.buttons[name].switch
        self.dialog = SwitchConfirmDialog(
            switch, turning_on=not switch.active, tiers=self.tiers, parent=self
        )
        self.dialog.setObjectName("switchDialog")
        self.dialog.accepted.connect(lambda d=self.dialog: spawn(self._send(d)))
        self.dialog.open()
        return self.dialog

    # --- private ----------------------------------------------------------------------------

    async def _send(self, dialog: SwitchConfirmDialog) -> None:
        name = dialog.switch.name
        update = dialog.update_at(self.clock.now())
        self.message.setText(f"{SWITCH_TITLES[name]}: sending…")
        try:
            switch = await self.connection.set_switch(name, update)
        except Exception as exc:
            log.warning("switch %s: %s", name.value, exc)
            self.message.setText(f"{SWITCH_TITLES[name]} was not changed: {exc}")
            self.notified.emit(f"{SWITCH_TITLES[name]} was not changed: {exc}")
            return
        self.show_switch(switch)
        state = "on" if switch.active else "off"
        self.message.setText(f"{SWITCH_TITLES[name]} is {state}.")

    def _on_connection_switch_changed(self, change: SwitchChange) -> None:
        self.show_switch(change.switch)
        me = self.connection.operator.username if self.connection.operator else None
        actor = person(change.actor)
        if actor != me:
            title = SWITCH_TITLES[change.switch.name]
            state = "on" if change.switch.active else "off"
            why = f": {change.reason}" if change.reason else ""
            self.notified.emit(f"{actor} turned {title} {state}{why}")

    def _on_connection_snapshot_received(self, snapshot: MetricsSnapshot) -> None:
        # The tiers to offer for pause_tiers: those the traffic names.
        for tier in snapshot.tiers:
            if tier and tier not in self.tiers:
                self.tiers.append(tier)
                self.tiers.sort()
