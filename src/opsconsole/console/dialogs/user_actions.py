"""Dialogs for the actions on end users: tier, quota, budget increase, bulk actions, erasure.

Each builds on the console's reason dialog (nothing changes without a reason the audit log
keeps) and returns the request body to send; erasure, which cannot be undone, asks for the
user's id typed out instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from opsconsole.console.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.confirm import ReasonDialog
from opsconsole.wire.users import BulkAction, BulkUserAction, UserPublic, UserUpdate

BONUS_CHOICES: list[tuple[str, timedelta]] = [
    ("1 day", timedelta(days=1)),
    ("3 days", timedelta(days=3)),
    ("7 days", timedelta(days=7)),
    ("30 days", timedelta(days=30)),
]


def who(user: UserPublic) -> str:
    """How a user is named in a dialog: name and email when known, the id always."""
    label = " · ".join(part for part in (user.name, user.email) if part)
    return f"{label} ({user.id})" if label else user.id


class ChangeTierDialog(ReasonDialog):
    """Move a user to another tier."""

    def __init__(self, user: UserPublic, tiers: list[str], parent: QWidget | None = None) -> None:
        super().__init__(
            "Change tier",
            f"Move <b>{who(user)}</b> from tier <b>{user.tier}</b> to:",
            action="Change tier",
            parent=parent,
        )
        self.user = user
        self.tier_combo = QComboBox()
        self.tier_combo.setObjectName("tier")
        self.tier_combo.addItems([t for t in tiers if t != user.tier] or tiers)
        self.form.insertRow(1, "Tier:", self.tier_combo)
        self._on_form_changed()

    def body(self) -> UserUpdate:
        return UserUpdate(tier=self.tier_combo.currentText(), reason=self.reason)


class QuotaDialog(ReasonDialog):
    """Give a user their own daily request quota, or hand it back to the tier."""

    def __init__(
        self, user: UserPublic, tier_quota: int | None, parent: QWidget | None = None
    ) -> None:
        tier_text = "no daily cap" if tier_quota is None else f"{tier_quota:,} requests a day"
        super().__init__(
            "Quota override",
            f"Daily requests of <b>{who(user)}</b> (the tier gives {tier_text}).",
            action="Set quota",
            parent=parent,
        )
        self.user = user
        self.quota_spin = QSpinBox()
        self.quota_spin.setObjectName("quota")
        self.quota_spin.setRange(0, 10_000_000)
        self.quota_spin.setSuffix(" requests/day")
        current = user.overrides.quota_daily_requests
        self.quota_spin.setValue(current if current is not None else (tier_quota or 100))
        self.tier_box = QCheckBox("As the tier says (remove the override)")
        self.tier_box.setObjectName("useTier")
        self.tier_box.toggled.connect(self.quota_spin.setDisabled)
        self.form.insertRow(1, "Quota:", self.quota_spin)
        self.form.insertRow(2, "", self.tier_box)
        self._on_form_changed()

    def body(self) -> UserUpdate:
        quota = None if self.tier_box.isChecked() else self.quota_spin.value()
        return UserUpdate(quota_daily_requests=quota, reason=self.reason)


class BudgetIncreaseDialog(ReasonDialog):
    """A temporary budget increase: dollars added to the week's and month's, until a time."""

    def __init__(self, user: UserPublic, parent: QWidget | None = None) -> None:
        super().__init__(
            "Temporary budget increase",
            f"Add to the weekly and monthly budget of <b>{who(user)}</b>, for a while.",
            action="Increase budget",
            until_choices=BONUS_CHOICES,
            parent=parent,
        )
        self.user = user
        self.amount_spin = QDoubleSpinBox()
        self.amount_spin.setObjectName("amount")
        self.amount_spin.setRange(0, 100_000)
        self.amount_spin.setDecimals(2)
        self.amount_spin.setPrefix("$ ")
        self.amount_spin.setValue(5.0)
        self.amount_spin.valueChanged.connect(self._on_form_changed)
        self.form.insertRow(1, "Amount:", self.amount_spin)
        self._on_form_changed()

    def body_at(self, now: datetime) -> UserUpdate:
        """The body, the expiry counted from ``now`` (the server's time)."""
        duration = self.duration or BONUS_CHOICES[0][1]
        return UserUpdate(
            budget_bonus=self.amount_spin.value(),
            budget_bonus_until=now + duration,
            reason=self.reason,
        )

    def missing(self) -> str:
        spin = getattr(self, "amount_spin", None)  # asked once before the field exists
        if spin is not None and spin.value() <= 0:
            return "Enter an amount above zero."
        return super().missing()


class BulkDialog(ReasonDialog):
    """One action on the selected users, with one reason."""

    def __init__(
        self,
        action: BulkAction,
        ids: list[str],
        tiers: list[str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        verbs = {"suspend": "Suspend", "activate": "Activate", "change_tier": "Change the tier of"}
        count = f"{len(ids)} user{'s' if len(ids) != 1 else ''}"
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        super().__init__(
            f"{verbs[action]} {count}",
            f"{verbs[action]} <b>{count}</b>: {shown}",
            action=verbs[action].split()[0],
            parent=parent,
        )
        self.action = action
        self.ids = ids
        self.tier_combo: QComboBox | None = None
        if action == "change_tier":
            self.tier_combo = QComboBox()
            self.tier_combo.setObjectName("tier")
            self.tier_combo.addItems(tiers or [])
            self.form.insertRow(1, "New tier:", self.tier_combo)
        self._on_form_changed()

    def body(self) -> BulkUserAction:
        tier = self.tier_combo.currentText() if self.tier_combo is not None else None
        return BulkUserAction(ids=self.ids, action=self.action, tier=tier, reason=self.reason)


class EraseDialog(QDialog):
    """GDPR erasure: the user's id typed out, because nothing brings the data back."""

    def __init__(self, user: UserPublic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.user = user
        self.setWindowTitle("Erase user")
        self.setMinimumWidth(460)
        intro = QLabel(
            f"Erase <b>{who(user)}</b>: email, name and country are removed for good and the "
            "user is kept only as an anonymous row under a new id. Tickets lose their personal "
            "data. This cannot be undone.<br><br>"
            f"Type the user's id <b>{user.id}</b> to confirm:"
        )
        intro.setWordWrap(True)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setObjectName("confirmId")
        self.confirm_edit.setPlaceholderText(user.id)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Erase for good")
        self.ok_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.confirm_edit.textChanged.connect(
            lambda text: self.ok_button.setEnabled(text.strip() == user.id)
        )
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.confirm_edit)
        layout.addWidget(self.buttons)
