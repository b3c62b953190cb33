"""Quick search (Ctrl+K): panes, providers and switches found locally; users and tickets asked
of the real server; arrows, Enter and Esc; opening a user or ticket in its pane."""

from __future__ import annotations

from typing import Any, ClassVar

from opsconsole.console.panes.base import Pane
from opsconsole.console.qt import QDockWidget, Qt
from opsconsole.console.quick_search import Kind, QuickSearch, open_quick_search
from opsconsole.console.shortcuts import QUICK_SEARCH
from tests.console.views.conftest import Console
from tests.console.wall.conftest import (
    PEOPLE,
    app_client,
    open_ticket,
    open_window,
    register_people,
)


class RecordingPane(Pane):
    """Stands in for the users/tickets panes (C1, C2) where this build has none: it keeps
    what the contract's ``open_user`` / ``open_ticket`` were called with."""

    title = "Users"
    name = "users"
    opened: ClassVar[list[object]] = []

    def open_user(self, user_id: str) -> None:
        self.opened.append(("user", user_id))

    def open_ticket(self, ticket_id: int) -> None:
        self.opened.append(("ticket", ticket_id))


def ensure_pane(window: Any, name: str) -> Any:
    """The window's pane ``name`` if it has one with the contract's method, else a recorder."""
    method = "open_user" if name == "users" else "open_ticket"
    pane = window.panes.get(name)
    if pane is not None and callable(getattr(pane, method, None)):
        return pane
    recorder = RecordingPane(window.connection, window.clock)
    dock = QDockWidget(name, window)
    dock.setObjectName(f"dock_{name}")
    dock.setWidget(recorder)
    window.panes[name] = recorder
    window.docks[name] = dock
    return recorder


def search(console: Console, window: Any, qtbot: Any, text: str) -> QuickSearch:
    box = open_quick_search(window)
    qtbot.keyClicks(box.box, text)
    console.wait(lambda: not box.searching, "the server's answer")
    return box


def kinds(box: QuickSearch) -> list[tuple[Kind, str]]:
    return [(r.kind, r.key) for r in box.results_shown()]


def test_ctrl_k_opens_it_and_finds_panes_providers_and_switches(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    action = next(a for a in window.actions() if a.objectName() == QUICK_SEARCH.name)
    assert action.shortcut().toString() == "Ctrl+K"
    action.trigger()
    box = window.findChild(QuickSearch, "quickSearch")
    assert box is not None and box.isVisible()
    console.wait(lambda: box.providers and box.switches, "providers and switches loaded")

    qtbot.keyClicks(box.box, "alert")
    assert kinds(box)[0] == (Kind.PANE, "alerts")
    box.box.clear()
    qtbot.keyClicks(box.box, "gpt-4o")
    assert (Kind.PROVIDER, "gpt-4o") in kinds(box)
    box.box.clear()
    qtbot.keyClicks(box.box, "fallback")
    assert (Kind.SWITCH, "fallback_only") in kinds(box)


def test_arrows_enter_and_escape(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    window.docks["alerts"].close()
    box = search(console, window, qtbot, "a")
    shown = kinds(box)
    assert len(shown) >= 3
    assert box.results.currentRow() == 0
    qtbot.keyClick(box.box, Qt.Key.Key_Down)
    qtbot.keyClick(box.box, Qt.Key.Key_Down)
    assert box.results.currentRow() == 2
    qtbot.keyClick(box.box, Qt.Key.Key_Up)
    assert box.results.currentRow() == 1
    target = shown.index((Kind.PANE, "alerts"))
    while box.results.currentRow() != target:
        qtbot.keyClick(box.box, Qt.Key.Key_Down)
    qtbot.keyClick(box.box, Qt.Key.Key_Return)
    assert not box.isVisible()
    assert window.docks["alerts"].isVisible()

    box = open_quick_search(window)
    assert box.box.text() == ""  # a fresh box each time
    qtbot.keyClick(box.box, Qt.Key.Key_Escape)
    assert not box.isVisible()


def test_a_provider_result_selects_it_in_the_providers_pane(console: Console, qtbot) -> None:
    window = open_window(console, qtbot)
    box = open_quick_search(window)
    console.wait(lambda: box.providers, "providers loaded")
    qtbot.keyClicks(box.box, "gemini-pro")
    result = next(r for r in box.results_shown() if r.kind is Kind.PROVIDER)
    assert box.activate(result)
    assert window.pane("providers").selected() == "gemini-pro"  # type: ignore[attr-defined]


def test_users_and_tickets_come_from_the_server_and_open_in_their_panes(
    support_console: Console, qtbot
) -> None:
    console = support_console
    app = app_client(console.server)
    register_people(app)
    ticket = open_ticket(app, PEOPLE[0].id, "Coach stopped answering")
    window = open_window(console, qtbot)
    users = ensure_pane(window, "users")
    tickets = ensure_pane(window, "tickets")

    box = search(console, window, qtbot, "lovelace")
    found = [r for r in box.results_shown() if r.kind is Kind.USER]
    assert [r.key for r in found] == [PEOPLE[0].id]
    assert "Ada Lovelace" in found[0].title
    row = box.results_shown().index(found[0])
    box.results.setCurrentRow(row)
    qtbot.keyClick(box.box, Qt.Key.Key_Return)
    assert not box.isVisible()
    if isinstance(users, RecordingPane):
        assert ("user", PEOPLE[0].id) in RecordingPane.opened

    box = search(console, window, qtbot, f"#{ticket}")
    found = [r for r in box.results_shown() if r.kind is Kind.TICKET]
    assert [r.key for r in found] == [str(ticket)]
    assert box.activate(found[0])
    if isinstance(tickets, RecordingPane):
        assert ("ticket", ticket) in RecordingPane.opened

    # Tickets of a user, by the user's exact id.
    box = search(console, window, qtbot, PEOPLE[0].id)
    assert (Kind.TICKET, str(ticket)) in kinds(box)
    assert (Kind.USER, PEOPLE[0].id) in kinds(box)
    app.close()


def test_without_the_users_pane_the_result_says_it_cannot_open(
    support_console: Console, qtbot
) -> None:
    console = support_console
    app = app_client(console.server)
    register_people(app)
    window = open_window(console, qtbot)
    window.panes.pop("users", None)
    box = search(console, window, qtbot, "turing")
    found = [r for r in box.results_shown() if r.kind is Kind.USER]
    assert found and not found[0].available
    assert "cannot open" in box.results.item(box.results_shown().index(found[0])).text()
    assert not box.activate(found[0])
    assert "no users pane" in box.note.text()
    app.close()


def test_a_role_without_users_read_is_told_why_nothing_came(viewer_console: Console, qtbot) -> None:
    console = viewer_console
    window = open_window(console, qtbot)  # a viewer: no users:read
    box = search(console, window, qtbot, "ada")
    assert not [r for r in box.results_shown() if r.kind is Kind.USER]
    assert "Users not searched" in box.note.text()


def test_an_answer_to_an_older_query_is_never_shown(support_console: Console, qtbot) -> None:
    console = support_console
    app = app_client(console.server)
    register_people(app)
    window = open_window(console, qtbot)
    box = open_quick_search(window)
    qtbot.keyClicks(box.box, "hopper")
    box._on_debounce_timeout()  # the query for "hopper" goes out now...
    qtbot.keyClicks(box.box, "zzz")  # ...and the operator types on before it is answered
    console.wait(lambda: not box.searching, "the newer query answered")
    assert not [r for r in box.results_shown() if r.kind is Kind.USER]
    app.close()
