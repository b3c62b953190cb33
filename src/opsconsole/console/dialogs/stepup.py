"""Step-up: the server wants a fresh proof (TOTP code or password) before a sensitive action."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from opsconsole.console.dialogs import ask
from opsconsole.console.qt import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)
from opsconsole.wire.auth import StepUpRequest

if TYPE_CHECKING:
    from opsconsole.console.connection import StepUpPrompt


class StepUpDialog(QDialog):
    """A TOTP code (when enrolled) or the password; whichever is filled in is sent."""

    def __init__(self, detail: str, totp_enrolled: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepUpDialog")
        self.setWindowTitle("Confirm it is you")
        text = QLabel(
            "This action needs a recent re-authentication. "
            + (
                "Enter a code from your authenticator app, or your password."
                if totp_enrolled
                else "Enter your password."
            )
        )
        text.setWordWrap(True)
        text.setToolTip(detail)
        self.totp = QLineEdit()
        self.totp.setObjectName("totp")
        self.totp.setMaxLength(6)
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        if totp_enrolled:
            form.addRow("Code", self.totp)
        form.addRow("Password", self.password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(form)
        layout.addWidget(buttons)
        (self.totp if totp_enrolled else self.password).setFocus()

    def request(self) -> StepUpRequest | None:
        code, password = self.totp.text().strip(), self.password.text()
        try:
            if code:
                return StepUpRequest(totp=code)
            if password:
                return StepUpRequest(password=password)
        except ValidationError:
            return None
        return None


def step_up_prompt(parent: QWidget | None = None) -> StepUpPrompt:
    """The prompt the app installs on the connection (``set_step_up_prompt``)."""

    async def prompt(detail: str, totp_enrolled: bool) -> StepUpRequest | None:
        dialog = StepUpDialog(detail, totp_enrolled, parent)
        try:
            return dialog.request() if await ask(dialog) else None
        finally:
            dialog.deleteLater()

    return prompt
