"""Login: username, password and (when the operator enrolled one) a TOTP code."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from opsconsole.console.connection import ApiError
from opsconsole.console.dialogs import ask
from opsconsole.console.dialogs.band import profile_band
from opsconsole.console.qt import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.console.profiles import Profile

log = logging.getLogger("opsconsole.console.login")


class LoginDialog(QDialog):
    """Asks for credentials; shows the server's refusal in words and lets the operator retry."""

    def __init__(
        self, profile: Profile, *, message: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        self.setWindowTitle(f"Log in: {profile.name}")
        self.username = QLineEdit(profile.username)
        self.username.setObjectName("username")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.totp = QLineEdit()
        self.totp.setObjectName("totp")
        self.totp.setPlaceholderText("6-digit code, if you enrolled a second factor")
        self.totp.setMaxLength(6)
        self.message = QLabel(message)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setVisible(bool(message))
        form = QFormLayout()
        form.addRow("Username", self.username)
        form.addRow("Password", self.password)
        form.addRow("Code", self.totp)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Log in")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(profile_band(profile, self))
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(buttons)
        (self.password if profile.username else self.username).setFocus()

    def show_error(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828;")
        self.message.setVisible(True)


async def log_in(connection: Connection, parent: QWidget | None = None, message: str = "") -> bool:
    """Ask until the server accepts the credentials (True) or the operator cancels (False)."""
    dialog = LoginDialog(connection.profile, message=message, parent=parent)
    try:
        while await ask(dialog):
            totp = dialog.totp.text().strip() or None
            try:
                await connection.login(dialog.username.text().strip(), dialog.password.text(), totp)
            except ApiError as error:
                log.info("login refused: %s", error)
                if error.kind == "totp-required":
                    dialog.totp.setFocus()
                dialog.show_error(error.detail or error.title)
                dialog.password.selectAll()
                continue
            return True
        return False
    finally:
        dialog.deleteLater()
