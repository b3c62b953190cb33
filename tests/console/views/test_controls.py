"""The emergency controls against a real control plane: confirmation, expiry, other operators'
changes, and who may press what."""

from __future__ import annotations

from datetime import timedelta

from tests.console.views.conftest import Console

from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.controls import ControlsPane
from opsconsole.console.qt import QWidget
from opsconsole.wire.gate import SwitchName, SwitchPublic


def make_pane(console: Console, qtbot: object) -> ControlsPane:
    pane = ControlsPane(console.connection, ServerClock(console.connection))
    qtbot.addWidget(pane)  # type: ignore[attr-defined]
    pane.show()
    console.run(pane.load())
    return pane


def server_switch(console: Console, name: SwitchName) -> SwitchPublic:
    client = console.operator_client("reader")
    for raw in client.get("/v1/controls").json():
        if raw["name"] == name.value:
            return SwitchPublic.model_validate(raw)
    raise AssertionError(f"no switch {name}")


def test_a_switch_needs_a_reason_and_sends_the_expiry_chosen(console: Console, qtbot) -> None:
    pane = make_pane(console, qtbot)
    console.tick()  # the pane learns the server's time from the stream
    button = pane.buttons[SwitchName.FALLBACK_ONLY]
    assert button.isEnabled()
    assert "OFF" in button.text()

    button.click()
    dialog = pane.dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.ok_button.isEnabled(), "no reason yet"
    assert "reason" in dialog.hint.text()
    dialog.reason_edit.setText("ok")  # too short to explain anything
    assert not dialog.ok_button.isEnabled()
    dialog.reason_edit.setText("primary provider returns 5xx")
    dialog.expiry_combo.setCurrentIndex(0)  # 15 minutes
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()

    console.wait(lambda: "ON" in button.text(), "the button shows the switch on")
    on_server = server_switch(console, SwitchName.FALLBACK_ONLY)
    assert on_server.active and on_server.value is True
    assert on_server.set_by == "operator:olivia"
    assert on_server.reason == "primary provider returns 5xx"
    assert on_server.expires_at is not None and on_server.set_at is not None
    # The expiry counts on the server's clock (which the test holds still), not the desk's.
    assert on_server.expires_at - console.server.clock.now() == timedelta(minutes=15)
    assert "olivia: primary provider returns 5xx" in button.text()
    assert "until" in button.text()

    # Turning it off again: a reason, no expiry.
    button.click()
    off = pane.dialog
    assert off is not None and not off.turning_on
    assert off.expiry_combo.isHidden()
    off.reason_edit.setText("provider recovered")
    off.ok_button.click()
    console.wait(lambda: "OFF" in button.text(), "the button shows the switch off")
    assert not server_switch(console, SwitchName.FALLBACK_ONLY).active


def test_pause_all_needs_its_name_typed(console: Console, qtbot) -> None:
    pane = make_pane(console, qtbot)
    button = pane.buttons[SwitchName.PAUSE_ALL]
    button.click()
    dialog = pane.dialog
    assert dialog is not None and dialog.confirm_name_edit is not None
    dialog.reason_edit.setText("runaway costs, stopping everything")
    assert not dialog.ok_button.isEnabled()
    assert "Type pause_all" in dialog.hint.text()
    dialog.confirm_name_edit.setText("pause all")
    assert not dialog.ok_button.isEnabled()
    dialog.confirm_name_edit.setText("pause_all")
    dialog.expiry_combo.setCurrentText("Until cleared")
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()

    console.wait(lambda: "ON" in button.text(), "pause_all on")
    on_server = server_switch(console, SwitchName.PAUSE_ALL)
    assert on_server.active and on_server.expires_at is None
    assert "until cleared" in button.text()


def test_a_cancelled_confirmation_sends_nothing(console: Console, qtbot) -> None:
    pane = make_pane(console, qtbot)
    pane.buttons[SwitchName.CHEAPEST_ONLY].click()
    assert pane.dialog is not None
    pane.dialog.reason_edit.setText("just looking")
    pane.dialog.reject()
    assert not server_switch(console, SwitchName.CHEAPEST_ONLY).active
    assert "OFF" in pane.buttons[SwitchName.CHEAPEST_ONLY].text()


def test_another_operators_change_shows_within_a_second(console: Console, qtbot) -> None:
    pane = make_pane(console, qtbot)
    notes: list[str] = []
    pane.notified.connect(notes.append)
    other = console.operator_client("amir")
    response = other.put(
        "/v1/controls/global_rate_limit",
        json={"value": 1200, "reason": "load test from partner"},
    )
    assert response.status_code == 200, response.text
    button = pane.buttons[SwitchName.GLOBAL_RATE_LIMIT]
    console.wait(lambda: "ON" in button.text(), "the change arrives", timeout=1.5)
    assert "1,200/min" in button.text()
    assert "amir: load test from partner" in button.text()
    console.wait(lambda: notes, "a notification")
    assert notes[-1] == "amir turned Global rate limit on: load test from partner"


def test_a_viewer_sees_every_switch_disabled_with_the_reason(
    viewer_console: Console, qtbot
) -> None:
    pane = make_pane(viewer_console, qtbot)
    for button in pane.buttons.values():
        assert not button.isEnabled()
        assert button.toolTip().startswith("Needs the oncall or admin role")
        assert "viewer" in button.toolTip()


def test_offline_disables_the_switches(console: Console, qtbot) -> None:
    pane = make_pane(console, qtbot)
    button: QWidget = pane.buttons[SwitchName.PAUSE_TIERS]
    assert button.isEnabled()
    console.stop_server()
    console.wait(lambda: not console.connection.online, "offline")
    assert not button.isEnabled()
    assert "Offline" in button.toolTip()
