"""A headline tile: a caption, one big figure and a line of detail, coloured by its state."""

from __future__ import annotations

from enum import StrEnum

from opsconsole.console.qt import (
    QApplication,
    QFrame,
    QLabel,
    QPalette,
    QSizePolicy,
    Qt,
    QVBoxLayout,
    QWidget,
)


class TileState(StrEnum):
    NEUTRAL = "neutral"
    OK = "ok"
    WARNING = "warning"
    BAD = "bad"


# Background and border per state; text stays dark so every state reads on a light palette.
_STYLE = {
    TileState.NEUTRAL: ("#f4f6f8", "#c9d1d9"),
    TileState.OK: ("#e9f7ef", "#7cc49a"),
    TileState.WARNING: ("#fff6e0", "#e0a800"),
    TileState.BAD: ("#fdecea", "#d9534f"),
}
_STYLE_DARK = {
    TileState.NEUTRAL: ("#2d333b", "#444c56"),
    TileState.OK: ("#1b3326", "#347d4f"),
    TileState.WARNING: ("#3b2f12", "#b08800"),
    TileState.BAD: ("#3d1e1e", "#c9453f"),
}


class Tile(QFrame):
    """One headline figure. ``set`` changes it; the state picks the colours."""

    def __init__(self, caption: str, *, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.state = TileState.NEUTRAL
        self.caption = QLabel(caption)
        self.value = QLabel("—")
        self.value.setObjectName("tileValue")
        self.detail = QLabel("")
        self.detail.setObjectName("tileDetail")
        self.detail.setWordWrap(True)
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.9)
        font.setBold(True)
        self.value.setFont(font)
        small = self.detail.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.detail.setFont(small)
        self.caption.setFont(small)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        for label in (self.caption, self.value, self.detail):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.setMinimumWidth(150)
        self._apply_style()

    def set(self, value: str, detail: str = "", state: TileState = TileState.NEUTRAL) -> None:
        self.value.setText(value)
        self.detail.setText(detail)
        if state != self.state:
            self.state = state
            self._apply_style()

    def _apply_style(self) -> None:
        # The dark theme (themes.py) gets its own tile colours: it is told by the palette.
        dark = QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
        background, border = (_STYLE_DARK if dark else _STYLE)[self.state]
        text = "#e6edf3" if dark else "#1f2328"
        self.setStyleSheet(
            f"QFrame#{self.objectName()} {{ background: {background}; "
            f"border: 1px solid {border}; border-radius: 6px; }}"
            f"QLabel {{ color: {text}; background: transparent; border: none; }}"
        )

    def apply_theme(self, _dark: bool) -> None:
        """Called by themes.py on a light/dark switch (the tile draws its own colours)."""
        self._apply_style()
