"""The docks stay where the operator (or the default layout) put them while the data changes.

A wall display runs the console untouched for hours: notifications come and go under the
band, alerts fire and resolve, the tiles change every second. None of that may move a dock.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from tests.console.views.conftest import Console

from opsconsole.console.app import MainWindow
from opsconsole.console.panes.alerts import AlertsPane
from opsconsole.console.panes.headline import HeadlinePane
from opsconsole.console.qt import QApplication, QPoint, Qt
from opsconsole.console.widgets.tiles import TileState
from opsconsole.wire.alerts import Alert, AlertState, RuleKind, Severity

SCREEN = (1366, 768)  # a laptop screen, as in the demo's screenshots
# Screenshots before and after, to look at (the test cannot tell ugly from right): into the
# test's temporary directory, or where this variable says.
SHOTS_DIR = "OPSCONSOLE_LAYOUT_SHOTS"
MIDDLE = ("charts", "users", "tickets", "audit", "business", "controls", "providers")
NOTIFICATIONS = (  # one line, and one that wraps onto a second line at this width
    "gpt-4o: degraded → healthy (success rate, latency and breaker are back to normal)",
    "amir turned Pause tiers on: abuse",
    "Alert warning: Cost is $1.00/h, 78.6% above the trailing 24 h average; the fallback "
    "provider takes the free tier until it falls back under the threshold again, or until an "
    "operator turns Fallback only off by hand in the emergency controls",
    "gemini-pro: healthy → down (breaker open, retry at 14:32)",
)

Rect = tuple[int, int, int, int]


def open_window(console: Console, qtbot: QtBot) -> MainWindow:
    window = MainWindow(console.connection, settings=console.settings)
    qtbot.addWidget(window)
    window.resize(*SCREEN)
    window.show()
    console.run(window.reload())
    settle()
    return window


def settle() -> None:
    # A layout request is a posted event, and one layout can ask for the next.
    for _ in range(3):
        QApplication.processEvents()


def docked(window: MainWindow) -> dict[str, Rect]:
    """Where each dock on screen is; tabs behind the current one are left out."""
    return {
        name: dock.geometry().getRect()
        for name, dock in window.docks.items()
        if dock.isVisible() and dock.geometry().top() >= 0
    }


def alert(number: int, state: AlertState) -> Alert:
    at = datetime(2025, 11, 22, 14, 0, tzinfo=UTC) + timedelta(minutes=number)
    return Alert(
        id=10_000 + number,
        rule="cost_spike" if number % 2 else "sla_breach",
        kind=RuleKind.COST_SPIKE if number % 2 else RuleKind.SLA_BREACH,
        severity=Severity.WARNING,
        subject="total",
        state=state,
        summary=f"Cost is ${number % 7 + 1}.00/h, {number}% above the trailing 24 h average",
        pending_since=at,
        firing_since=at,
        resolved_at=at + timedelta(minutes=3) if state is AlertState.RESOLVED else None,
    )


def run_the_demo(window: MainWindow, rounds: int) -> None:
    """What half an hour of the demo does: notifications shown, replaced, dismissed and timed
    out; alerts firing and resolving (the history grows); the tiles' text changing."""
    alerts = window.pane("alerts")
    headline = window.pane("headline")
    assert isinstance(alerts, AlertsPane)
    assert isinstance(headline, HeadlinePane)
    history = alerts.history.rowCount()
    for i in range(rounds):
        window.notify(NOTIFICATIONS[i % len(NOTIFICATIONS)])
        alerts.model.upsert(alert(i, AlertState.FIRING))
        if i >= 2:
            alerts.model.upsert(alert(i - 2, AlertState.RESOLVED))
        for tile in headline.tiles:
            detail = f"last second: {i * 37:,} ({i % 5} denied)" + " and more" * (i % 3)
            tile.set(f"{i * 1.7:,.2f}", detail, TileState.WARNING if i % 4 else TileState.OK)
        settle()
        if i % 3:  # else the next one replaces it while shown
            window.notification.hide()  # Dismiss, or its 15 s are up
        window.statusBar().showMessage(f"message {i}", 1000)
        settle()
    window.notification.hide()
    settle()
    assert alerts.history.rowCount() == history + rounds - 2


def drag(window: MainWindow, qtbot: QtBot, start: QPoint, down: int) -> None:
    """Drag the separator at ``start`` down (up when negative), as an operator does."""
    qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 11):
        qtbot.mouseMove(window, start + QPoint(0, down * step // 10))
        settle()  # the window moves the separator on a zero timer
    qtbot.mouseRelease(window, Qt.MouseButton.LeftButton, pos=start + QPoint(0, down))
    settle()


def moved(before: dict[str, Rect], after: dict[str, Rect]) -> dict[str, object]:
    """The docks more than two pixels away from where they were, with both places."""
    return {
        name: (rect, after.get(name))
        for name, rect in before.items()
        if name not in after or any(abs(a - b) > 2 for a, b in zip(rect, after[name], strict=True))
    }


def arrange_as_an_operator(console: Console, qtbot: QtBot) -> MainWindow:
    """A taller headline and alerts dock than the default, saved on close, then reopened."""
    window = open_window(console, qtbot)
    d = window.docks
    default = docked(window)
    drag(window, qtbot, QPoint(400, d["headline"].geometry().bottom() + 3), 30)
    drag(window, qtbot, QPoint(400, d["alerts"].geometry().top() - 3), -50)
    arranged = docked(window)
    assert arranged["headline"][3] > default["headline"][3] + 20, (default, arranged)
    assert arranged["alerts"][3] > default["alerts"][3] + 40, (default, arranged)
    window.close()  # saves the layout

    again = open_window(console, qtbot)
    assert again.layout_store.has_saved()
    assert not moved(arranged, docked(again)), "the saved arrangement did not come back"
    return again


@pytest.mark.parametrize("arrangement", ["default", "operator"])
def test_docks_keep_their_place_while_the_data_changes(
    console: Console, qtbot: QtBot, tmp_path: Path, arrangement: str
) -> None:
    if arrangement == "default":
        window = open_window(console, qtbot)
    else:
        window = arrange_as_an_operator(console, qtbot)
    shots = Path(os.environ.get(SHOTS_DIR, tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(shots / f"{arrangement}_before.png"))
    before = docked(window)
    assert {"headline", "charts", "controls", "providers", "alerts"} <= set(before)

    run_the_demo(window, rounds=40)

    window.grab().save(str(shots / f"{arrangement}_after.png"))
    after = docked(window)
    shifted = moved(before, after)
    assert not shifted, f"docks moved, (x, y, width, height) before and after: {shifted}"


def test_a_notification_takes_its_room_from_the_middle_row(console: Console, qtbot: QtBot) -> None:
    window = open_window(console, qtbot)
    before = docked(window)
    window.notify(NOTIFICATIONS[0])
    settle()
    shown = docked(window)
    band = window.notification.height()
    assert band > 0
    assert shown["headline"][3] == before["headline"][3]
    assert shown["alerts"] == before["alerts"]
    assert shown["charts"][3] == pytest.approx(before["charts"][3] - band, abs=2)


def test_with_the_middle_row_closed_the_other_docks_fill_the_window(
    console: Console, qtbot
) -> None:
    window = open_window(console, qtbot)
    for name in MIDDLE:
        window.docks[name].close()
    settle()
    headline, alerts = window.docks["headline"].geometry(), window.docks["alerts"].geometry()
    assert alerts.top() - headline.bottom() < 12, "an empty hole where the charts were"

    window.docks["charts"].show()
    settle()
    headline, charts, alerts = (
        window.docks[n].geometry() for n in ("headline", "charts", "alerts")
    )
    assert headline.bottom() < charts.top() and charts.bottom() < alerts.top()
    assert charts.height() > 100
