"""The banner shown while the operator impersonates an end user: who, which mode, time left.

It has no close button while the impersonation lasts (the operator must not forget they act
as someone else); it offers "End now", a test request as the user and, when the profile
knows the app's URL, "Open the app as this user". The countdown runs on the server's clock:
the expiry the server gave, against the server time the console last learned (the start
answer, then the snapshots), moved on by the local monotonic clock in between.

An impersonation started in an earlier session (the console was closed or crashed, or the
operator works on another machine) is shown again with :meth:`ImpersonationBanner.restore`:
the server shows a token only once and the console never keeps it, so such a banner cannot
open the app as the user.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypedDict, Unpack

from opsconsole.console.qt import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from opsconsole.wire.impersonation import ImpersonationMode

MODE_TEXT = {ImpersonationMode.READ_ONLY: "read only", ImpersonationMode.FULL: "FULL access"}
CANNOT_OPEN_RESTORED = (
    "Started in an earlier session: the token is not kept (the server shows it only once), "
    "so the app cannot be opened as this user from here. End it and start a new one for a "
    "token."
)


class BannerState(StrEnum):
    IDLE = "idle"
    ACTIVE = "active"
    ENDED = "ended"
    EXPIRED = "expired"


class ShownImpersonation(TypedDict):
    """What ``begin`` and ``restore`` are told: the impersonation, the server's time when it
    was answered for, and whether the profile knows the app's URL (``can_open_app``)."""

    impersonation_id: str
    user_id: str
    user_label: str
    mode: ImpersonationMode
    expires_at: datetime
    server_now: datetime
    can_open_app: bool


def countdown(left: timedelta) -> str:
    seconds = max(0, int(left.total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}"


class ImpersonationBanner(QWidget):
    """One impersonation's banner.

    Signals:
        end_requested(): the operator pressed "End now".
        open_app_requested(): the operator wants the app in the browser as the user.
        test_requested(): the operator wants a test request (a dry run) as the user.
        expired(): the impersonation ran out (by the server's clock).
        dismissed(): the operator closed the banner of a finished impersonation.
    """

    end_requested = Signal()
    open_app_requested = Signal()
    test_requested = Signal()
    expired = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("impersonationBanner")
        # A plain QWidget paints no style-sheet background without this.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.state = BannerState.IDLE
        self.impersonation_id = ""
        self.user_id = ""
        self.user_label = ""
        self.mode = ImpersonationMode.READ_ONLY
        self.expires_at: datetime | None = None
        # Started in an earlier session (no token here), and when the operator's other active
        # ones (restored with it) expire: "and N more" counts those not yet expired.
        self.restored = False
        self.others_expire_at: list[datetime] = []
        self._server_at: datetime | None = None  # the last server time learned...
        self._mono_at = 0.0  # ...and the local monotonic time it was learned at

        self.text = QLabel()
        self.text.setObjectName("impersonationText")
        # On a narrow window the line wraps: "and N more" must not be cut off.
        self.text.setWordWrap(True)
        self.gate_view = QLabel()
        self.gate_view.setObjectName("impersonationGateView")
        self.gate_view.setWordWrap(True)
        self.gate_view.hide()
        self.open_button = QPushButton("Open the app as this user")
        self.open_button.setObjectName("impersonationOpen")
        self.test_button = QPushButton("Test request as user")
        self.test_button.setObjectName("impersonationTest")
        self.end_button = QPushButton("End now")
        self.end_button.setObjectName("impersonationEnd")
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("impersonationClose")
        self.close_button.setFlat(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        for button in (self.open_button, self.test_button, self.end_button, self.close_button):
            row.addWidget(button)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 4, 8, 4)
        column.addLayout(row)
        column.addWidget(self.gate_view)

        self.end_button.clicked.connect(self.end_requested)
        self.open_button.clicked.connect(self.open_app_requested)
        self.test_button.clicked.connect(self.test_requested)
        self.close_button.clicked.connect(self._on_close_clicked)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._style(active=True)
        self.hide()

    # --- public -----------------------------------------------------------------------------

    def begin(self, **shown: Unpack[ShownImpersonation]) -> None:
        """Show an impersonation that runs until ``expires_at`` (server time)."""
        self.restored = False
        self.others_expire_at = []
        self.open_button.setEnabled(True)
        self.open_button.setToolTip("")
        self._show_active(shown)

    def restore(
        self, *, others_expire_at: list[datetime], **shown: Unpack[ShownImpersonation]
    ) -> None:
        """Show again an impersonation started in an earlier session, still active on the server.

        ``others_expire_at``: when the operator's other active impersonations expire (no later
        than this one); "End now" is then meant for all of them. The console has no token for
        any of them, so "Open the app" stays visible (when the profile has the app's URL) but
        disabled, saying why.
        """
        self.restored = True
        self.others_expire_at = list(others_expire_at)
        self.open_button.setEnabled(False)
        self.open_button.setToolTip(CANNOT_OPEN_RESTORED)
        self._show_active(shown)

    def observe_server_time(self, at: datetime) -> None:
        """A newer server time (a snapshot's end): the countdown follows the server's clock."""
        if self._server_at is None or at > self.server_now():
            self._server_at = at
            self._mono_at = time.monotonic()
            self._tick()

    def server_now(self) -> datetime:
        assert self._server_at is not None
        return self._server_at + timedelta(seconds=time.monotonic() - self._mono_at)

    def more(self) -> int:
        """How many of the operator's other restored impersonations are still running."""
        if self._server_at is None:
            return 0
        now = self.server_now()
        return sum(1 for at in self.others_expire_at if at > now)

    def remaining(self) -> timedelta:
        if self.expires_at is None or self._server_at is None:
            return timedelta(0)
        return self.expires_at - self.server_now()

    def ended(self, by: str = "you") -> None:
        """The impersonation was ended early; the banner says so until closed."""
        if self.state is not BannerState.ACTIVE:
            return
        self._finish(BannerState.ENDED, f"Impersonation of {self._who()} ended by {by}.")

    def gone(self) -> None:
        """A restored impersonation the server no longer lists as active (ended elsewhere)."""
        if self.state is not BannerState.ACTIVE:
            return
        self._finish(
            BannerState.ENDED,
            f"Impersonation of {self._who()} is no longer active: it was ended elsewhere.",
        )

    def show_gate_view(self, text: str) -> None:
        self.gate_view.setText(text)
        self.gate_view.show()

    # --- private ----------------------------------------------------------------------------

    def _show_active(self, shown: ShownImpersonation) -> None:
        self.state = BannerState.ACTIVE
        self.impersonation_id = shown["impersonation_id"]
        self.user_id = shown["user_id"]
        self.user_label = shown["user_label"]
        self.mode = shown["mode"]
        self.expires_at = shown["expires_at"]
        self._server_at = shown["server_now"]
        self._mono_at = time.monotonic()
        self.open_button.setVisible(shown["can_open_app"])
        self.test_button.show()
        self.end_button.show()
        self.end_button.setEnabled(True)
        self.close_button.hide()
        self.gate_view.hide()
        self._style(active=True)
        self.show()
        self._timer.start()
        self._tick()

    def _who(self) -> str:
        more = self.more()
        return f"{self.user_label} and {more} more" if more else self.user_label

    def _tick(self) -> None:
        if self.state is not BannerState.ACTIVE:
            return
        left = self.remaining()
        if left <= timedelta(0):
            at = f"{self.expires_at:%H:%M:%S} UTC" if self.expires_at else ""
            self._finish(
                BannerState.EXPIRED,
                f"Impersonation of {self.user_label} expired at {at}: the token no longer works.",
            )
            self.expired.emit()
            return
        text = (
            f"<b>Impersonating {self.user_label}</b> · {MODE_TEXT[self.mode]} · "
            f"{countdown(left)} left"
        )
        more = self.more()
        if more:
            text += f" · <b>and {more} more</b> (ending sooner)"
        if self.restored:
            text += " · started in an earlier session"
        self.text.setText(text)
        self.end_button.setText(f"End all {more + 1} now" if more else "End now")
        self.end_button.setToolTip(
            f"End all {more + 1} of your active impersonations on the server."
            if more
            else "End this impersonation on the server: its token stops working at once."
        )

    def _finish(self, state: BannerState, text: str) -> None:
        self.state = state
        self._timer.stop()
        self.text.setText(text)
        self.open_button.hide()
        self.test_button.hide()
        self.end_button.hide()
        self.close_button.show()
        self._style(active=False)

    def _style(self, *, active: bool) -> None:
        colours = ("#6a1b9a", "#ffffff") if active else ("#eeeeee", "#333333")
        self.setStyleSheet(
            f"QWidget#impersonationBanner {{ background: {colours[0]}; }}"
            f"QLabel {{ color: {colours[1]}; }}"
        )

    def _on_close_clicked(self) -> None:
        if self.state is not BannerState.ACTIVE:
            self.state = BannerState.IDLE
            self.hide()
            self.dismissed.emit()
