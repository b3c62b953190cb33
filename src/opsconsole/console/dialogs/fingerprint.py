"""First contact with a server: show its certificate's fingerprint and ask to trust it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsconsole.console.dialogs import ask
from opsconsole.console.dialogs.band import profile_band
from opsconsole.console.qt import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    Qt,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from opsconsole.console.profiles import Profile
    from opsconsole.console.trust import PeerCertificate


class FingerprintDialog(QDialog):
    """The certificate's SHA-256 fingerprint, to compare with what the server printed."""

    def __init__(
        self, profile: Profile, presented: PeerCertificate, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("fingerprintDialog")
        self.setWindowTitle(f"Trust this server? {profile.name}")
        intro = QLabel(
            "This is the first connection to this server from this profile. Compare the "
            "fingerprint below with the one the server printed at start "
            "(<i>certificate SHA-256 fingerprint</i>) or that its administrator gave you. "
            "Trust it only if they are the same: from then on this certificate, and no other, "
            "is trusted for this profile."
        )
        intro.setWordWrap(True)
        self.fingerprint = QLabel(presented.fingerprint.replace(":", ":\u200b"))
        self.fingerprint.setObjectName("fingerprint")
        self.fingerprint.setWordWrap(True)
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fingerprint.setStyleSheet("font-family: monospace; font-size: 13pt;")
        details = QLabel(
            f"Subject: {presented.subject}<br>Valid until: {presented.not_after:%Y-%m-%d} (UTC)"
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.trust_button = buttons.addButton(
            "Trust this certificate", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.trust_button.setObjectName("trust")
        # Cancel is the default: Enter must not trust a certificate by accident.
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(profile_band(profile, self))
        layout.addWidget(intro)
        layout.addWidget(self.fingerprint)
        layout.addWidget(details)
        layout.addWidget(buttons)


async def confirm_certificate(
    profile: Profile, presented: PeerCertificate, parent: QWidget | None = None
) -> bool:
    dialog = FingerprintDialog(profile, presented, parent)
    try:
        return await ask(dialog)
    finally:
        dialog.deleteLater()


def warn_certificate_changed(message: str, parent: QWidget | None = None) -> QMessageBox:
    """The refusal, as a warning that stays until read (shown, not awaited)."""
    box = QMessageBox(
        QMessageBox.Icon.Critical, "Server certificate changed: refused", message, parent=parent
    )
    box.setObjectName("certificateChanged")
    box.open()
    return box
