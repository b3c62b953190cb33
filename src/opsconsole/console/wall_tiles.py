"""The wall's look: its colours, the labels typed by role, the figure card, the budget bar and
the style sheet that sizes everything from the screen.

Separate from the pages and the window so the visual vocabulary of the TV display is in one
place, and the pages only say what goes where.
"""

from __future__ import annotations

from opsconsole.console.qt import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

OK, WARNING, BAD, NEUTRAL = "#2ea043", "#d29922", "#f85149", "#8b949e"


def money(value: float) -> str:
    return f"${value:,.2f}" if value < 1000 else f"${value:,.0f}"


def wall_label(text: str, role: str, name: str = "") -> QLabel:
    """A label whose type the wall's style sheet sizes by ``role`` (header, caption, value...)."""
    label = QLabel(text)
    label.setProperty("wall", role)  # the style sheet sizes type by role
    if name:
        label.setObjectName(name)
    return label


def style_sheet(unit: int) -> str:
    """The wall's style sheet for a type unit of ``unit`` pixels (derived from the screen)."""
    return f"""
            QWidget#wall {{ background: #0d1117; }}
            QWidget {{ color: #e6edf3; }}
            QLabel[wall="header"] {{ font-size: {unit}px; color: #9198a1; }}
            QLabel#wallRole {{ font-size: {unit}px; }}
            QLabel[wall="caption"] {{ font-size: {int(unit * 1.2)}px; color: #9198a1; }}
            QLabel[wall="value"] {{ font-size: {unit * 3}px; font-weight: bold; }}
            QLabel[wall="budget"] {{ font-size: {unit * 2}px; font-weight: bold; }}
            QLabel[wall="detail"] {{ font-size: {unit}px; color: #c9d1d9; }}
            QLabel[wall="alert"] {{ font-size: {int(unit * 1.4)}px; }}
            QLabel[wall="stale"] {{ font-size: {int(unit * 1.5)}px; font-weight: bold;
                background: #8b1a1a; color: #ffffff; padding: 8px; border-radius: 6px; }}
            QFrame[wall="card"] {{ background: #161b22; border: 1px solid #30363d;
                border-radius: 10px; }}
            QFrame[wall="track"] {{ background: #21262d; border-radius: 4px; }}
            """


class Figure(QFrame):
    """A caption, a big value and a detail line, its value coloured by state."""

    def __init__(self, caption: str, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setProperty("wall", "card")
        self.caption = wall_label(caption, "caption")
        self.value = wall_label("—", "value")
        self.detail = wall_label("", "detail")
        self.detail.setWordWrap(True)
        self.colour = ""
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set(self, value: str, detail: str = "", colour: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)
        if colour != self.colour:  # a style sheet change re-polishes: only when it changes
            self.colour = colour
            self.value.setStyleSheet(f"color: {colour};" if colour else "")


class BudgetBar(QWidget):
    """Cost today against the day's budget, as a wide bar with the figures on it."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("wallBudget")
        self.caption = wall_label("Cost today vs budget", "caption")
        self.text = wall_label("—", "budget", "wallBudgetText")
        self.track = QFrame()
        self.track.setProperty("wall", "track")
        self.fill = QFrame(self.track)
        self.fill.setProperty("wall", "fill")
        self.track.setMinimumHeight(24)
        self.share = 0.0
        self.colour = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.caption)
        row.addStretch(1)
        row.addWidget(self.text)
        layout.addLayout(row)
        layout.addWidget(self.track)

    def set(self, spent: float, budget: float) -> None:
        if budget > 0:
            self.share = spent / budget
            self.text.setText(f"{money(spent)} of {money(budget)}  ({self.share:.0%})")
        else:
            self.share = 0.0
            self.text.setText(f"{money(spent)} (no budget set)")
        colour = BAD if self.share >= 1 else WARNING if self.share >= 0.8 else OK
        if colour != self.colour:
            self.colour = colour
            self.fill.setStyleSheet(f"background: {colour}; border-radius: 4px;")
        self._resize_fill()

    def _resize_fill(self) -> None:
        width = int(self.track.width() * min(max(self.share, 0.0), 1.0))
        self.fill.setGeometry(0, 0, width, self.track.height())

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._resize_fill()
