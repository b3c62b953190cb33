"""Shortcuts (declared once, all listed in the help, none bound twice), light/dark themes that
charts follow, and progress with Cancel for long calls."""

from __future__ import annotations

import asyncio

import pyqtgraph as pg

from opsconsole.console import progress, shortcuts, themes
from opsconsole.console.panes.charts import ChartsPane
from opsconsole.console.qt import QApplication, QPalette, QPushButton, Qt, QWidget
from opsconsole.console.settings import THEME
from opsconsole.console.widgets.tiles import Tile
from tests.console.views.conftest import Console
from tests.console.wall.conftest import open_window


def test_help_lists_every_bound_shortcut_and_none_collide(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    bound = shortcuts.bindings(window)
    assert shortcuts.collisions(window) == {}
    keys = {b.keys for b in bound}
    for declared in shortcuts.ALL:
        for key in declared.keys:
            assert key in keys, f"{declared.name}: {key} is not bound"
    for i in range(1, len(window.docks) + 1):
        if shortcuts.pane_toggle(i):
            assert shortcuts.pane_toggle(i) in keys

    help_action = next(a for a in window.actions() if a.objectName() == shortcuts.HELP.name)
    assert [s.toString() for s in help_action.shortcuts()] == ["F1", "Ctrl+/"]
    help_action.trigger()
    dialog = window.findChild(shortcuts.ShortcutsDialog, "shortcutsDialog")
    assert dialog is not None and dialog.isVisible()
    listed = set(dialog.listed())
    for binding in bound:
        assert (binding.keys, binding.text) in listed
    dialog.filter.setText("ctrl+k")
    assert dialog.proxy.rowCount() == 1


def test_a_key_bound_twice_is_reported(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    extra = window.addAction("Something else")
    extra.setShortcut(shortcuts.QUICK_SEARCH.sequence)
    assert "Ctrl+K" in shortcuts.collisions(window)


def test_the_theme_switch_changes_the_palette_charts_and_tiles(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    manager = themes.manager(app)
    assert manager.choice is themes.Theme.SYSTEM  # the default: follow the desktop
    assert manager.dark is themes.system_is_dark()

    def window_lightness() -> int:
        return int(app.palette().color(QPalette.ColorRole.Window).lightness())

    tile = window.findChild(Tile, "tile_cost")
    plot = window.findChildren(pg.PlotWidget)[0]
    manager.set_choice(themes.Theme.DARK)
    assert window_lightness() < 80
    assert console.settings.get(THEME) == "dark"
    assert plot.backgroundBrush().color().name() == themes.CHART_COLOURS[True][0]
    assert "#2d333b" in tile.styleSheet() or "#1b3326" in tile.styleSheet()
    assert next(
        a for a in window.findChildren(type(window.actions()[0])) if a.objectName() == "theme_dark"
    ).isChecked()

    toggle = next(a for a in window.actions() if a.objectName() == shortcuts.TOGGLE_THEME.name)
    toggle.trigger()
    assert manager.choice is themes.Theme.LIGHT
    assert window_lightness() > 200
    assert plot.backgroundBrush().color().name() == themes.CHART_COLOURS[False][0]
    assert "#1f2328" in tile.styleSheet()


def test_a_slow_call_shows_progress_and_cancel_stops_it(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    host = window.progress
    never = asyncio.Event()

    async def slow() -> None:
        await never.wait()

    async def quick() -> None:
        await asyncio.sleep(0)

    fast = host.track("Quick", quick())
    call = host.track("Exporting audit rows", slow())
    console.wait(host.indicator.isVisible, "the progress indicator")
    assert fast.done and host.visible_call is call
    assert host.label.text().startswith("Exporting audit rows")
    cancelled: list[bool] = []
    call.cancelled.connect(lambda: cancelled.append(True))
    qtbot.mouseClick(host.cancel_button, Qt.MouseButton.LeftButton)
    console.wait(call.task.done, "the task to end")
    assert call.task.cancelled() and cancelled == [True]
    assert not host.indicator.isVisible()


def test_a_modal_dialog_for_calls_the_operator_waits_on(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    never = asyncio.Event()

    async def slow() -> None:
        await never.wait()

    call = progress.track(window, "Exporting", slow(), dialog=True)
    console.wait(lambda: window.findChild(QWidget, "progressDialog") is not None, "the dialog")
    call.set_progress(3, 10)
    dialog = window.findChild(QWidget, "progressDialog")
    assert dialog.value() == 3 and dialog.maximum() == 10  # type: ignore[attr-defined]
    cancel = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    console.wait(call.task.done, "the task to end")
    assert call.task.cancelled()


def test_cancelling_a_chart_range_load_keeps_live_data(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    charts = window.pane("charts")
    assert isinstance(charts, ChartsPane)
    charts.range_combo.setCurrentText("30 d")
    call = window.progress.calls[-1]
    assert call.label == "Loading 30 d of charts"
    call.cancel()
    console.wait(call.task.done, "the load to stop")
    assert charts.status.text() == "history load cancelled: live data only"
    console.tick()
    assert charts.charts["traffic"].series("requests").last_x is not None
