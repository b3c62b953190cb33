"""Light and dark themes: a Fusion palette, a small style sheet, and charts that follow them.

By default the console follows the desktop's colour scheme (``QStyleHints.colorScheme``, Qt
6.5+) and switches when the desktop does; the operator can pin light or dark in the View menu
(kept in the ``appearance/theme`` setting). pyqtgraph draws with its own colours, so every
plot on screen is restyled on a switch and new plots start with the theme's colours.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from importlib import resources

import pyqtgraph as pg

from opsconsole.console.qt import (
    QApplication,
    QColor,
    QObject,
    QPalette,
    QStyleFactory,
    Qt,
    Signal,
)
from opsconsole.console.settings import THEME, ConsoleSettings

log = logging.getLogger("opsconsole.console.themes")


class Theme(StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


# Plot background and foreground (axes, grid, legend text) per resolved theme.
CHART_COLOURS = {False: ("#ffffff", "#333333"), True: ("#1c2128", "#c9d1d9")}
# A widget with this property set keeps its own colours (the wall display is always dark).
FIXED_THEME = "themeFixed"
LEGEND_BRUSH = {False: (255, 255, 255, 190), True: (28, 33, 40, 200)}


def system_is_dark() -> bool:
    """Whether the desktop asks for dark colours (Unknown, as offscreen, counts as light)."""
    hints = QApplication.styleHints()
    return bool(hints.colorScheme() == Qt.ColorScheme.Dark)


def palette(dark: bool) -> QPalette:
    """The Fusion palette for light or dark, with readable disabled text in both."""
    if not dark:
        light = QStyleFactory.create("Fusion").standardPalette()
        light.setColor(QPalette.ColorRole.Highlight, QColor("#0969da"))
        light.setColor(QPalette.ColorRole.Link, QColor("#0969da"))
        return light
    p = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: "#22272e",
        roles.WindowText: "#e6edf3",
        roles.Base: "#1c2128",
        roles.AlternateBase: "#2d333b",
        roles.ToolTipBase: "#2d333b",
        roles.ToolTipText: "#e6edf3",
        roles.PlaceholderText: "#768390",
        roles.Text: "#e6edf3",
        roles.Button: "#2d333b",
        roles.ButtonText: "#e6edf3",
        roles.BrightText: "#ff7b72",
        roles.Light: "#444c56",
        roles.Midlight: "#373e47",
        roles.Mid: "#2d333b",
        roles.Dark: "#161b22",
        roles.Shadow: "#0d1117",
        roles.Highlight: "#316dca",
        roles.HighlightedText: "#ffffff",
        roles.Link: "#539bf5",
        roles.LinkVisited: "#b083f0",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(disabled, role, QColor("#636e7b"))
    p.setColor(disabled, roles.Button, QColor("#262c33"))
    return p


def style_sheet(dark: bool) -> str:
    name = "dark.qss" if dark else "light.qss"
    return (
        resources.files("opsconsole.console")
        .joinpath("resources", "themes", name)
        .read_text(encoding="utf-8")
    )


def style_chart(plot: pg.PlotWidget, dark: bool) -> None:
    """Give one pyqtgraph plot the theme's background, axes and legend colours."""
    background, foreground = CHART_COLOURS[dark]
    plot.setBackground(background)
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(foreground)
        axis.setTextPen(foreground)
    legend = item.legend
    if legend is not None:
        legend.setBrush(pg.mkBrush(*LEGEND_BRUSH[dark]))
        legend.setLabelTextColor(foreground)
        for _sample, label in legend.items:
            label.setText(label.text, color=foreground)  # the colour applies on the next text


class ThemeManager(QObject):
    """Applies the chosen theme to the application and keeps following the desktop.

    Signals:
        theme_changed(bool): the resolved theme changed; True when it is now dark.
    """

    theme_changed = Signal(bool)

    def __init__(self, app: QApplication, settings: ConsoleSettings | None = None) -> None:
        super().__init__(app)
        self.setObjectName("themeManager")
        self.app = app
        self.settings = settings
        self.choice = _choice(settings)
        self.dark: bool | None = None
        app.styleHints().colorSchemeChanged.connect(self._on_style_hints_color_scheme_changed)

    def resolved_dark(self) -> bool:
        if self.choice is Theme.SYSTEM:
            return system_is_dark()
        return self.choice is Theme.DARK

    def set_choice(self, choice: Theme) -> None:
        """Pin light or dark, or follow the system again; remembered in the settings."""
        self.choice = choice
        if self.settings is not None:
            self.settings.set(THEME, choice.value)
        self.apply()

    def toggle(self) -> None:
        """Light to dark and back (the shortcut); pins the opposite of what is shown."""
        self.set_choice(Theme.LIGHT if self.resolved_dark() else Theme.DARK)

    def apply(self) -> None:
        dark = self.resolved_dark()
        if dark == self.dark:
            return
        self.dark = dark
        self.app.setStyle("Fusion")  # the one built-in style that honours a palette everywhere
        self.app.setPalette(palette(dark))
        self.app.setStyleSheet(style_sheet(dark))
        background, foreground = CHART_COLOURS[dark]
        pg.setConfigOptions(background=background, foreground=foreground)
        for widget in self.app.allWidgets():
            if widget.property(FIXED_THEME):
                continue
            if isinstance(widget, pg.PlotWidget):
                style_chart(widget, dark)
            # Widgets that paint their own colours (tiles) say so with an apply_theme method.
            restyle = getattr(widget, "apply_theme", None)
            if callable(restyle):
                restyle(dark)
        log.info("theme: %s (%s)", "dark" if dark else "light", self.choice.value)
        self.theme_changed.emit(dark)

    def _on_style_hints_color_scheme_changed(self, _scheme: object) -> None:
        if self.choice is Theme.SYSTEM:
            self.apply()


def _choice(settings: ConsoleSettings | None) -> Theme:
    raw = settings.get(THEME) if settings is not None else Theme.SYSTEM.value
    return Theme(raw) if raw in {t.value for t in Theme} else Theme.SYSTEM


def manager(app: QApplication, settings: ConsoleSettings | None = None) -> ThemeManager:
    """The application's one theme manager, made (and applied) on first use."""
    existing = app.findChild(ThemeManager, "themeManager")
    if isinstance(existing, ThemeManager):
        if settings is not None and settings is not existing.settings:
            existing.settings = settings  # a new window with its own settings: its choice
            existing.choice = _choice(settings)
            existing.apply()
        return existing
    created = ThemeManager(app, settings)
    created.apply()
    return created
