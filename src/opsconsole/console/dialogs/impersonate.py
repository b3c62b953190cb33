"""The "Impersonate..." dialog: why, for which ticket, how long, and in which mode.

Full mode (acting as the user, not only looking) needs its own permission; the server also
asks for a fresh step-up, which the connection handles when the request goes out.
"""

from __future__ import annotations

from opsconsole.console.dialogs.user_actions import who
from opsconsole.console.qt import QComboBox, QRadioButton, QSpinBox, QWidget
from opsconsole.console.widgets.confirm import ReasonDialog
from opsconsole.wire.impersonation import (
    DEFAULT_MINUTES,
    MAX_MINUTES,
    ImpersonationCreate,
    ImpersonationMode,
)
from opsconsole.wire.tickets import TicketPublic
from opsconsole.wire.users import UserPublic


class ImpersonateDialog(ReasonDialog):
    """Ask what an impersonation needs before it starts."""

    def __init__(
        self,
        user: UserPublic,
        tickets: list[TicketPublic],
        *,
        full_allowed: bool,
        full_why_not: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            "Impersonate",
            f"See the app as <b>{who(user)}</b>. Starting, every use and the end are audited "
            "with your name and the user's.",
            action="Impersonate",
            parent=parent,
        )
        self.user = user
        self.ticket_combo = QComboBox()
        self.ticket_combo.setObjectName("ticket")
        self.ticket_combo.addItem("No ticket", None)
        for ticket in tickets:
            self.ticket_combo.addItem(f"#{ticket.id} {ticket.subject}", ticket.id)
        if tickets:
            self.ticket_combo.setCurrentIndex(1)  # most often it is for the open ticket
        self.minutes_spin = QSpinBox()
        self.minutes_spin.setObjectName("minutes")
        self.minutes_spin.setRange(1, MAX_MINUTES)
        self.minutes_spin.setValue(DEFAULT_MINUTES)
        self.minutes_spin.setSuffix(" minutes")
        self.read_only_radio = QRadioButton("Read only: look, change nothing")
        self.read_only_radio.setObjectName("modeReadOnly")
        self.read_only_radio.setChecked(True)
        self.full_radio = QRadioButton("Full: act as the user (step-up)")
        self.full_radio.setObjectName("modeFull")
        self.full_radio.setEnabled(full_allowed)
        if not full_allowed:
            self.full_radio.setToolTip(full_why_not)
        self.form.insertRow(1, "Ticket:", self.ticket_combo)
        self.form.insertRow(2, "Duration:", self.minutes_spin)
        self.form.insertRow(3, "Mode:", self.read_only_radio)
        self.form.insertRow(4, "", self.full_radio)
        self._on_form_changed()

    @property
    def mode(self) -> ImpersonationMode:
        return (
            ImpersonationMode.FULL if self.full_radio.isChecked() else ImpersonationMode.READ_ONLY
        )

    def body(self) -> ImpersonationCreate:
        return ImpersonationCreate(
            user_id=self.user.id,
            reason=self.reason,
            ticket_id=self.ticket_combo.currentData(),
            minutes=self.minutes_spin.value(),
            mode=self.mode,
        )
