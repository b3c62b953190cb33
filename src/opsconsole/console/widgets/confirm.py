"""Confirmation dialogs for operator actions: a reason always, an expiry where one makes sense.

Nothing an operator changes from the console goes out without a reason (the audit log keeps
it); the emergency switches also offer an expiry so that a 3 a.m. pause does not outlive the
incident, and ``pause_all`` asks for its name to be typed because it stops every AI request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from opsconsole.console.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from opsconsole.wire.gate import SwitchName, SwitchPublic, SwitchUpdate

MIN_REASON = 3  # the wire models' minimum: a reason is a few words, not a keystroke

EXPIRY_CHOICES: list[tuple[str, timedelta | None]] = [
    ("15 minutes", timedelta(minutes=15)),
    ("1 hour", timedelta(hours=1)),
    ("4 hours", timedelta(hours=4)),
    ("Until cleared", None),
]

SWITCH_TITLES: dict[SwitchName, str] = {
    SwitchName.PAUSE_ALL: "Pause all",
    SwitchName.PAUSE_TIERS: "Pause tiers",
    SwitchName.FALLBACK_ONLY: "Fallback only",
    SwitchName.CHEAPEST_ONLY: "Cheapest only",
    SwitchName.GLOBAL_BUDGET_CAP: "Global budget cap",
    SwitchName.GLOBAL_RATE_LIMIT: "Global rate limit",
}

SWITCH_HELP: dict[SwitchName, str] = {
    SwitchName.PAUSE_ALL: "Refuses every AI request of every user.",
    SwitchName.PAUSE_TIERS: "Refuses the AI requests of the users of the chosen tiers.",
    SwitchName.FALLBACK_ONLY: "Routes every request to the fallback provider.",
    SwitchName.CHEAPEST_ONLY: "Routes every request to the cheapest enabled provider.",
    SwitchName.GLOBAL_BUDGET_CAP: "Refuses requests once today's spend reaches the cap.",
    SwitchName.GLOBAL_RATE_LIMIT: "Limits all users together to a request rate.",
}


class _ReasonForm(QDialog):
    """A dialog whose OK button stays disabled until the form is complete."""

    def __init__(self, title: str, action: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self.form = QFormLayout()
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("reason")
        self.reason_edit.setPlaceholderText("Why? Kept in the audit log")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(action)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.hint = QLabel("")
        self.hint.setObjectName("hint")
        self.hint.setStyleSheet("color: #8a4b00;")
        self.reason_edit.textChanged.connect(self._on_form_changed)
        self._layout = QVBoxLayout(self)
        self._layout.addLayout(self.form)
        self._layout.addWidget(self.hint)
        self._layout.addWidget(self.buttons)

    @property
    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def missing(self) -> str:
        """What still keeps the OK button disabled, in words; empty when nothing does."""
        if len(self.reason) < MIN_REASON:
            return f"Give a reason (at least {MIN_REASON} characters)."
        return ""

    def _on_form_changed(self, *_: object) -> None:
        missing = self.missing()
        self.ok_button.setEnabled(not missing)
        self.hint.setText(missing)


class ReasonDialog(_ReasonForm):
    """Ask for a reason (or comment) before an action; optionally for an end time too."""

    def __init__(
        self,
        title: str,
        prompt: str,
        *,
        action: str,
        min_length: int = MIN_REASON,
        until_choices: list[tuple[str, timedelta]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title, action, parent)
        self.min_length = min_length
        self.until_combo: QComboBox | None = None
        self.form.addRow(QLabel(prompt))
        self.form.addRow("Reason:", self.reason_edit)
        if until_choices:
            self.until_combo = QComboBox()
            self.until_combo.setObjectName("until")
            for label, delta in until_choices:
                self.until_combo.addItem(label, delta)
            self.form.addRow("For:", self.until_combo)
        self._on_form_changed()

    @property
    def duration(self) -> timedelta | None:
        if self.until_combo is None:
            return None
        value: timedelta = self.until_combo.currentData()
        return value

    def missing(self) -> str:
        if len(self.reason) < self.min_length:
            return f"Give a reason (at least {self.min_length} characters)."
        return ""


class SwitchConfirmDialog(_ReasonForm):
    """Confirm turning an emergency switch on or off.

    Turning on asks for the value the switch needs (tiers, a cap, a rate), an expiry, and for
    ``pause_all`` the switch's name typed out; both directions need a reason.
    """

    def __init__(
        self,
        switch: SwitchPublic,
        *,
        turning_on: bool,
        tiers: list[str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        title = SWITCH_TITLES[switch.name]
        super().__init__(
            f"{'Turn on' if turning_on else 'Turn off'}: {title}",
            "Turn on" if turning_on else "Turn off",
            parent,
        )
        self.switch = switch
        self.turning_on = turning_on
        self.expiry_combo = QComboBox()
        self.expiry_combo.setObjectName("expiry")
        for label, delta in EXPIRY_CHOICES:
            self.expiry_combo.addItem(label, delta)
        self.expiry_combo.setCurrentIndex(1)  # an hour: long enough for most incidents
        self.confirm_name_edit: QLineEdit | None = None
        self.tier_boxes: dict[str, QCheckBox] = {}
        self.tiers_edit: QLineEdit | None = None
        self.amount_spin: QDoubleSpinBox | QSpinBox | None = None

        what = SWITCH_HELP[switch.name]
        effect = what if turning_on else f"Lifts it: {what[0].lower()}{what[1:]}"
        intro = QLabel(f"<b>{title}</b> ({switch.name.value})<br>{effect}")
        intro.setWordWrap(True)
        self.form.addRow(intro)
        if turning_on:
            self._add_value_fields(tiers or [])
            self.form.addRow("Expires:", self.expiry_combo)
        self.form.addRow("Reason:", self.reason_edit)
        if turning_on and switch.name is SwitchName.PAUSE_ALL:
            self.confirm_name_edit = QLineEdit()
            self.confirm_name_edit.setObjectName("confirmName")
            self.confirm_name_edit.setPlaceholderText(switch.name.value)
            self.confirm_name_edit.textChanged.connect(self._on_form_changed)
            self.form.addRow(f"Type {switch.name.value} to confirm:", self.confirm_name_edit)
        self._on_form_changed()

    @property
    def duration(self) -> timedelta | None:
        if not self.turning_on:
            return None
        value: timedelta | None = self.expiry_combo.currentData()
        return value

    def value(self) -> bool | float | list[str] | None:
        """What the switch is set to: None turns it off."""
        if not self.turning_on:
            return None
        name = self.switch.name
        if name is SwitchName.PAUSE_TIERS:
            if self.tier_boxes:
                return [tier for tier, box in self.tier_boxes.items() if box.isChecked()]
            assert self.tiers_edit is not None
            return [t.strip() for t in self.tiers_edit.text().split(",") if t.strip()]
        if self.amount_spin is not None:
            return float(self.amount_spin.value())
        return True

    def update_at(self, now: datetime) -> SwitchUpdate:
        """The request body, with the expiry counted from ``now`` (the server's time)."""
        duration = self.duration
        return SwitchUpdate(
            value=self.value(),
            reason=self.reason,
            expires_at=None if duration is None else now + duration,
        )

    def missing(self) -> str:
        if self.confirm_name_edit is not None and (
            self.confirm_name_edit.text().strip() != self.switch.name.value
        ):
            return f"Type {self.switch.name.value} to confirm."
        value = self.value()
        if self.switch.name is SwitchName.PAUSE_TIERS and not value:
            return "Choose at least one tier."
        if isinstance(value, float) and value <= 0:
            return "Enter an amount above zero."
        return super().missing()

    def _add_value_fields(self, tiers: list[str]) -> None:
        name = self.switch.name
        current: Any = self.switch.value
        if name is SwitchName.PAUSE_TIERS:
            if tiers:
                for tier in tiers:
                    box = QCheckBox(tier)
                    box.setObjectName(f"tier_{tier}")
                    box.setChecked(isinstance(current, list) and tier in current)
                    box.toggled.connect(self._on_form_changed)
                    self.tier_boxes[tier] = box
                    self.form.addRow("" if len(self.tier_boxes) > 1 else "Tiers:", box)
            else:
                self.tiers_edit = QLineEdit(", ".join(current) if isinstance(current, list) else "")
                self.tiers_edit.setObjectName("tiers")
                self.tiers_edit.setPlaceholderText("free, basic")
                self.tiers_edit.textChanged.connect(self._on_form_changed)
                self.form.addRow("Tiers:", self.tiers_edit)
        elif name is SwitchName.GLOBAL_BUDGET_CAP:
            spin = QDoubleSpinBox()
            spin.setRange(0, 10_000_000)
            spin.setDecimals(2)
            spin.setPrefix("$ ")
            spin.setSuffix(" per day")
            spin.setValue(float(current) if isinstance(current, int | float) else 0.0)
            self.amount_spin = spin
        elif name is SwitchName.GLOBAL_RATE_LIMIT:
            ispin = QSpinBox()
            ispin.setRange(0, 100_000_000)
            ispin.setSuffix(" requests/min")
            ispin.setValue(int(current) if isinstance(current, int | float) else 0)
            self.amount_spin = ispin
        if self.amount_spin is not None:
            self.amount_spin.setObjectName("amount")
            self.amount_spin.valueChanged.connect(self._on_form_changed)
            self.form.addRow("Value:", self.amount_spin)
