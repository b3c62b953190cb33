"""The main window: profile band and title, docks, layout per profile, status and offline."""

from __future__ import annotations

from tests.console.views.conftest import Console

from opsconsole.console.app import MainWindow
from opsconsole.console.connection import ConnectionState
from opsconsole.console.layout import LayoutStore
from opsconsole.console.panes.charts import ChartsPane
from opsconsole.console.panes.controls import ControlsPane
from opsconsole.console.qt import QDockWidget, QMainWindow
from opsconsole.wire.gate import SwitchName


def open_window(console: Console, qtbot: object) -> MainWindow:
    window = MainWindow(console.connection, settings=console.settings)
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    window.show()
    console.run(window.reload())
    return window


def test_the_window_names_the_profile_and_loads_every_pane(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    assert window.windowTitle().startswith("[test] opsconsole")
    assert window.band.text().startswith("TEST · https://127.0.0.1:")
    assert "olivia (oncall)" in window.band.text()
    assert window.profile.colour in window.band.styleSheet()
    assert window.status_label.text() == "Connected"
    assert not window.offline_marker.isVisible()
    assert set(window.docks) == {
        "headline",
        "charts",
        "controls",
        "providers",
        "alerts",
        "users",
        "tickets",
        "audit",
        "business",
    }
    for name, dock in window.docks.items():
        assert dock.objectName() == f"dock_{name}"
        assert dock.isVisible()
        features = dock.features()
        for feature in (
            QDockWidget.DockWidgetFeature.DockWidgetClosable,
            QDockWidget.DockWidgetFeature.DockWidgetMovable,
            QDockWidget.DockWidgetFeature.DockWidgetFloatable,
        ):
            assert features & feature
    providers = window.pane("providers")
    assert providers.model.rowCount() == 7  # type: ignore[attr-defined]
    assert window.pane("headline").cost.detail.text()  # type: ignore[attr-defined]


def test_view_menu_and_shortcuts_bring_panes_back(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    dock = window.docks["alerts"]
    toggle = dock.toggleViewAction()
    assert toggle.shortcut().toString() == "Ctrl+5"
    assert toggle in window.view_menu.actions()
    dock.close()
    assert not dock.isVisible()
    toggle.trigger()
    assert dock.isVisible()


def test_the_layout_is_saved_per_profile_restored_and_reset(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    charts = window.pane("charts")
    assert isinstance(charts, ChartsPane)
    window.docks["providers"].close()
    window.docks["alerts"].setFloating(True)
    charts.range_combo.setCurrentText("7 d")
    window.close()  # saves

    again = open_window(console, qtbot)
    assert not again.docks["providers"].isVisible()
    assert again.docks["alerts"].isFloating()
    restored = again.pane("charts")
    assert isinstance(restored, ChartsPane)
    assert restored.range.label == "7 d"
    assert restored.save_state()["splitters"]["split_rows"] != [0, 0, 0]

    # Another profile keeps its own arrangement: this one is untouched by it.
    other = LayoutStore(console.settings.ui_state(), "staging")
    assert not other.has_saved()

    again.reset_action.trigger()
    assert again.docks["providers"].isVisible()
    assert not again.docks["alerts"].isFloating()
    assert restored.range.label == "1 h"
    assert not again.layout_store.has_saved()


def test_a_layout_of_another_version_falls_back_to_the_default(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    window.docks["controls"].close()
    window.close()
    settings = console.settings.ui_state()
    settings.setValue("layout/test/version", 0)
    settings.sync()
    again = open_window(console, qtbot)
    assert again.docks["controls"].isVisible()


def test_offline_shows_the_marker_disables_actions_and_catches_up(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    controls = window.pane("controls")
    assert isinstance(controls, ControlsPane)
    assert controls.buttons[SwitchName.PAUSE_ALL].isEnabled()

    console.stop_server()
    console.wait(lambda: not console.connection.online, "offline")
    assert window.offline_marker.isVisible()
    assert window.offline_marker.text().startswith("offline, data as of ")
    assert window.offline_banner.isVisible()
    assert "actions are disabled" in window.offline_banner.text()
    status = window.status_label.text()
    assert status.startswith(("Reconnecting", "Offline since")), status
    assert "RECONNECTING" in window.windowTitle() or "OFFLINE" in window.windowTitle()
    assert not controls.buttons[SwitchName.PAUSE_ALL].isEnabled()
    assert "Offline" in controls.buttons[SwitchName.PAUSE_ALL].toolTip()

    console.start_server()
    console.wait(
        lambda: console.connection.status.state is ConnectionState.CONNECTED,
        "back online",
        timeout=20,
    )
    console.wait(lambda: not window.offline_marker.isVisible(), "marker gone")
    assert controls.buttons[SwitchName.PAUSE_ALL].isEnabled()
    assert window.status_label.text() == "Connected"


def test_a_notification_shows_under_the_band(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    other = console.operator_client("amir")
    response = other.put("/v1/controls/pause_tiers", json={"value": ["free"], "reason": "abuse"})
    assert response.status_code == 200, response.text
    console.wait(window.notification.isVisible, "notification")
    assert window.notification_text.text() == "amir turned Pause tiers on: abuse"
    assert isinstance(window, QMainWindow)
