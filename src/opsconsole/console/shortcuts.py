"""Every keyboard shortcut of the main window, declared here once, and the dialog that lists them.

The main window's menus take their keys from this module; :func:`install` adds what the whole
window shares (quick search, this help, the theme, full screen). The help dialog lists what
is really bound on the window (so a pane's own shortcuts appear too), described from here
where this module knows the action; :func:`collisions` finds keys bound twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opsconsole.console import themes
from opsconsole.console.qt import (
    QAbstractItemView,
    QAction,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QKeySequence,
    QLabel,
    QLineEdit,
    QMenu,
    QObject,
    QShortcut,
    QSortFilterProxyModel,
    QStandardItem,
    QStandardItemModel,
    Qt,
    QTreeView,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.quick_search import open_quick_search

if TYPE_CHECKING:
    from opsconsole.console.app import MainWindow

EVERYWHERE = "Everywhere"
WINDOW = "Window and panes"
CHARTS = "Charts"
EMERGENCY = "Emergency"


@dataclass(frozen=True)
class Shortcut:
    """One action's keys (portable text, as QKeySequence reads it) and what it does."""

    name: str
    keys: tuple[str, ...]
    text: str
    group: str

    @property
    def sequence(self) -> QKeySequence:
        return QKeySequence(self.keys[0])

    @property
    def sequences(self) -> list[QKeySequence]:
        return [QKeySequence(k) for k in self.keys]


QUICK_SEARCH = Shortcut(
    "quick_search",
    ("Ctrl+K",),
    "Quick search: panes, providers, switches, users, tickets",
    EVERYWHERE,
)
HELP = Shortcut("shortcuts_help", ("F1", "Ctrl+/"), "List the keyboard shortcuts", EVERYWHERE)
TOGGLE_THEME = Shortcut("toggle_theme", ("Ctrl+Shift+L",), "Switch light / dark theme", EVERYWHERE)
FULL_SCREEN = Shortcut("full_screen", ("F11",), "Full screen on / off", EVERYWHERE)
RELOAD = Shortcut("reload", ("F5",), "Reload every pane from the server", EVERYWHERE)
QUIT = Shortcut("quit", ("Ctrl+Q",), "Quit", EVERYWHERE)
SHOW_ALL = Shortcut("show_all", ("Ctrl+Shift+A",), "Show all panes", WINDOW)
RESET_LAYOUT = Shortcut("reset_layout", ("Ctrl+Shift+0",), "Reset the layout", WINDOW)
EMERGENCY_CONTROLS = Shortcut(
    "emergency_controls", ("Ctrl+E",), "Show the emergency controls", EMERGENCY
)
MAX_PANE_KEYS = 10  # Ctrl+1 .. Ctrl+9, then Ctrl+0; further panes have only the View menu

ALL: tuple[Shortcut, ...] = (
    QUICK_SEARCH,
    HELP,
    TOGGLE_THEME,
    FULL_SCREEN,
    RELOAD,
    QUIT,
    SHOW_ALL,
    RESET_LAYOUT,
    EMERGENCY_CONTROLS,
)


def pane_toggle(position: int) -> str:
    """The key that shows or hides the pane at ``position`` (1-based) of the View menu."""
    if 1 <= position <= 9:
        return f"Ctrl+{position}"
    return "Ctrl+0" if position == MAX_PANE_KEYS else ""


def chart_range(position: int) -> str:
    """The key of the chart range at ``position`` (1-based) of the Charts menu."""
    return f"Alt+{position}" if 1 <= position <= 9 else ""


@dataclass(frozen=True)
class Binding:
    """A key bound on the window right now, and what it does."""

    keys: str  # native text, e.g. "Ctrl+K"
    text: str
    group: str
    context: Qt.ShortcutContext


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _group_of(action: QAction) -> str:
    for shortcut in ALL:
        if action.objectName() == shortcut.name:
            return shortcut.group
    for widget in action.associatedObjects():
        if isinstance(widget, QMenu) and widget.title():
            return _plain(widget.title())
    return WINDOW


def bindings(window: QWidget) -> list[Binding]:
    """Every key bound on ``window``: its actions' (menus included) and its QShortcuts."""
    found: list[Binding] = []
    seen: set[int] = set()
    for action in window.findChildren(QAction):
        if id(action) in seen:
            continue
        seen.add(id(action))
        for sequence in action.shortcuts():
            if sequence.isEmpty():
                continue
            found.append(
                Binding(
                    sequence.toString(QKeySequence.SequenceFormat.NativeText),
                    _plain(action.text()),
                    _group_of(action),
                    action.shortcutContext(),
                )
            )
    for shortcut in window.findChildren(QShortcut):
        key = shortcut.key()
        if key.isEmpty():
            continue
        parent = shortcut.parent()
        where = parent.objectName() if isinstance(parent, QWidget) else ""
        found.append(
            Binding(
                key.toString(QKeySequence.SequenceFormat.NativeText),
                shortcut.whatsThis() or shortcut.objectName() or "(shortcut)",
                where or WINDOW,
                shortcut.context(),
            )
        )
    return found


def collisions(window: QWidget) -> dict[str, list[str]]:
    """Keys bound to more than one window-wide action: Qt would then run neither."""
    wide = {Qt.ShortcutContext.WindowShortcut, Qt.ShortcutContext.ApplicationShortcut}
    by_key: dict[str, list[str]] = {}
    for binding in bindings(window):
        if binding.context in wide:
            by_key.setdefault(binding.keys, []).append(binding.text)
    return {key: texts for key, texts in by_key.items() if len(texts) > 1}


class ShortcutsDialog(QDialog):
    """Keys, action and where it lives, for everything bound on the window; filterable."""

    KEYS, ACTION, GROUP = range(3)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(620, 520)
        self.model = QStandardItemModel(0, 3, self)
        self.model.setHorizontalHeaderLabels(["Keys", "Action", "Where"])
        rows = sorted(bindings(window), key=lambda b: (b.group != EVERYWHERE, b.group, b.keys))
        for binding in rows:
            items = [QStandardItem(binding.keys), QStandardItem(binding.text)]
            items.append(QStandardItem(binding.group))
            for item in items:
                item.setEditable(False)
            self.model.appendRow(items)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit()
        self.filter.setObjectName("shortcutsFilter")
        self.filter.setPlaceholderText("Filter (a key or a word)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTreeView()
        self.table.setObjectName("shortcutsTable")
        self.table.setRootIsDecorated(False)
        self.table.setModel(self.proxy)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.header()
        header.setSectionResizeMode(self.KEYS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.ACTION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(self.GROUP, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(
            QLabel("Ctrl+1 … Ctrl+9 and Ctrl+0 show or hide the panes in View menu order.")
        )
        layout.addWidget(buttons)

    def listed(self) -> list[tuple[str, str]]:
        """(keys, action) of every row, for tests and for copying."""
        return [
            (
                self.model.item(row, self.KEYS).text(),
                self.model.item(row, self.ACTION).text(),
            )
            for row in range(self.model.rowCount())
        ]


class _ThemeChoices(QObject):
    """Keeps the View > Theme radio items on the manager's choice (dies with the menu, so the
    application-wide manager never calls into a closed window)."""

    def __init__(self, theme: themes.ThemeManager, menu: QMenu) -> None:
        super().__init__(menu)
        self.theme = theme
        self.actions: dict[themes.Theme, QAction] = {}
        theme.theme_changed.connect(self.show_choice)
        menu.aboutToShow.connect(self.show_choice)

    def show_choice(self, _dark: bool = False) -> None:
        for choice, action in self.actions.items():
            action.setChecked(choice is self.theme.choice)


def _add(window: MainWindow, shortcut: Shortcut, text: str, slot: Callable[[], object]) -> QAction:
    action = QAction(text, window)
    action.setObjectName(shortcut.name)
    action.setShortcuts(shortcut.sequences)
    action.setToolTip(shortcut.text)
    action.triggered.connect(lambda _=False: slot())
    window.addAction(action)  # active while the menu bar is hidden in a dock, too
    return action


def show_help(window: MainWindow) -> ShortcutsDialog:
    dialog = ShortcutsDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def _toggle_full_screen(window: QWidget) -> None:
    if window.isFullScreen():
        window.showNormal()
    else:
        window.showFullScreen()


def install(window: MainWindow) -> None:
    """Quick search, this help, the theme choice and full screen, in the window's menus."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme = themes.manager(app, window.settings)
    search = _add(window, QUICK_SEARCH, "&Quick search…", lambda: open_quick_search(window))
    help_action = _add(window, HELP, "&Keyboard shortcuts", lambda: show_help(window))
    toggle = _add(window, TOGGLE_THEME, "&Light / dark", theme.toggle)
    full = _add(window, FULL_SCREEN, "&Full screen", lambda: _toggle_full_screen(window))

    view = window.view_menu
    view.addSeparator()
    view.addAction(search)
    view.addAction(full)
    theme_menu = view.addMenu("&Theme")
    theme_menu.setObjectName("themeMenu")
    theme_menu.addAction(toggle)
    theme_menu.addSeparator()
    choices = _ThemeChoices(theme, theme_menu)
    for choice, label in (
        (themes.Theme.SYSTEM, "Follow the &system"),
        (themes.Theme.LIGHT, "&Light"),
        (themes.Theme.DARK, "&Dark"),
    ):
        action = QAction(label, window)
        action.setObjectName(f"theme_{choice.value}")
        action.setCheckable(True)
        action.triggered.connect(lambda _=False, c=choice: theme.set_choice(c))
        theme_menu.addAction(action)
        choices.actions[choice] = action
    choices.show_choice()

    help_menu = getattr(window, "help_menu", None)
    if not isinstance(help_menu, QMenu):
        help_menu = window.menu_bar.addMenu("&Help")
    first = help_menu.actions()[0] if help_menu.actions() else None
    if first is None:
        help_menu.addAction(help_action)
        help_menu.addAction(search)
    else:
        help_menu.insertAction(first, help_action)
        help_menu.insertAction(first, search)
        help_menu.insertSeparator(first)
