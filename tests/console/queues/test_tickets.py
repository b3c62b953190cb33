"""The tickets pane on a real control plane: queue filters and order, live tickets from the
app, reply / note / status changes as the server records them, and the SLA countdown."""

from __future__ import annotations

from datetime import timedelta

import httpx

from opsconsole.console.models.tickets import (
    DUE,
    URGENCY_COLOURS,
    URGENCY_ROLE,
    Assignee,
    TicketsModel,
    Urgency,
)
from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.tickets import TicketsPane
from opsconsole.console.qt import Qt
from opsconsole.wire.common import Role
from opsconsole.wire.tickets import TicketPriority, TicketStatus
from tests.console.queues.conftest import open_ticket, second_console, tick
from tests.console.views.conftest import Console


def make_pane(console: Console, qtbot) -> TicketsPane:
    clock = ServerClock(console.connection)
    tick(console)  # the console learns the server's time from the snapshots
    pane = TicketsPane(console.connection, clock)
    qtbot.addWidget(pane)
    pane.resize(1500, 700)
    pane.show()
    console.run(pane.load())
    return pane


def queue_ids(pane: TicketsPane) -> list[int]:
    return [pane.queue.ticket(row).id for row in range(pane.queue.rowCount())]


def choose(combo, data) -> None:  # type: ignore[no-untyped-def]
    combo.setCurrentIndex(combo.findData(data))


def test_models_pass_the_model_tester(
    console: Console, app: httpx.Client, qtmodeltester, qtbot
) -> None:
    for index in range(3):
        open_ticket(app, "u-ana", f"question {index}")
    pane = make_pane(console, qtbot)
    assert pane.model.rowCount() == 3
    qtmodeltester.check(pane.model)
    qtmodeltester.check(pane.queue)
    empty = TicketsModel(console.server.clock.now)
    qtmodeltester.check(empty)


def test_queue_is_sorted_by_deadline_and_filters_narrow_it(
    console: Console, app: httpx.Client, qtbot
) -> None:
    low = open_ticket(app, "u-ana", "low one", "low")["id"]
    urgent = open_ticket(app, "u-ben", "urgent one", "urgent")["id"]
    normal = open_ticket(app, "u-ana", "normal one", "normal")["id"]
    high = open_ticket(app, "u-ben", "high one", "high")["id"]
    admin = console.operator_client("amir")
    assert admin.patch(f"/v1/tickets/{normal}", json={"assignee": "olivia"}).status_code == 200
    assert admin.patch(f"/v1/tickets/{high}", json={"assignee": "amir"}).status_code == 200
    assert admin.patch(f"/v1/tickets/{low}", json={"status": "resolved"}).status_code == 200

    pane = make_pane(console, qtbot)
    # The open queue, soonest SLA deadline first (urgent: 1 h, high: 4 h, normal: 24 h).
    assert queue_ids(pane) == [urgent, high, normal]

    choose(pane.filters.assignee, Assignee.MINE)
    console.wait(lambda: queue_ids(pane) == [normal], "my tickets")
    choose(pane.filters.assignee, Assignee.UNASSIGNED)
    console.wait(lambda: queue_ids(pane) == [urgent], "unassigned tickets")
    choose(pane.filters.assignee, Assignee.ANYONE)
    pane.filters.status.setCurrentIndex(pane.filters.status.findText("All statuses"))
    console.wait(lambda: queue_ids(pane) == [urgent, high, normal, low], "all, done last")
    pane.filters.priority.setCurrentIndex(pane.filters.priority.findText("high"))
    console.wait(lambda: queue_ids(pane) == [high], "high only")
    pane.filters.priority.setCurrentIndex(0)

    # Two hours on, the urgent ticket's first response (1 h) is overdue.
    console.server.clock.advance(timedelta(hours=2))
    tick(console)
    pane.filters.breached.setChecked(True)
    console.wait(lambda: queue_ids(pane) == [urgent], "breached only")
    assert pane.filters.count_label.text() == "1 tickets"


def test_a_ticket_the_app_opens_appears_live_and_changes_in_place(
    console: Console, app: httpx.Client, qtbot
) -> None:
    first = open_ticket(app, "u-ana", "first")["id"]
    pane = make_pane(console, qtbot)
    assert queue_ids(pane) == [first]
    resets: list[object] = []
    inserted: list[object] = []
    pane.model.modelReset.connect(lambda: resets.append(1))
    pane.model.rowsInserted.connect(lambda *a: inserted.append(a))

    notes: list[str] = []
    pane.notified.connect(notes.append)

    urgent = open_ticket(app, "u-ben", "it is all broken", "urgent")["id"]
    console.wait(lambda: queue_ids(pane) == [urgent, first], "the new ticket, at the top")
    assert len(inserted) == 1
    assert notes == [f"New urgent ticket #{urgent}: it is all broken"]

    other = console.operator_client("amir")
    assert other.patch(f"/v1/tickets/{first}", json={"priority": "urgent"}).status_code == 200
    console.wait(
        lambda: pane.model.find(first).priority is TicketPriority.URGENT, "the change, live"
    )
    assert resets == [], "live tickets never reset the model"
    assert len(inserted) == 1


def test_reply_note_and_status_change_reach_the_server(
    console: Console, app: httpx.Client, qtbot
) -> None:
    ticket_id = open_ticket(app, "u-ana", "my quota is wrong", "high")["id"]
    pane = make_pane(console, qtbot)
    console.run(pane.open_ticket(ticket_id))
    view, context = pane.ticket_view, pane.context_box
    assert "my quota is wrong, please help" in view.thread_view.toPlainText()
    console.wait(lambda: "Tier <b>premium</b>" in context.label.text(), "the user's context")
    assert "Requests today: 0" in context.label.text()

    assert not view.reply_button.isEnabled(), "nothing written yet"
    view.compose.setPlainText("We raised it, try again.")
    assert view.reply_button.isEnabled()
    view.reply_button.click()
    console.wait(lambda: view.message.text() == "Reply sent.", "reply sent")
    view.compose.setPlainText("Customer is on the annual plan.")
    view.note_button.click()
    console.wait(
        lambda: view.message.text() == "Note added.",
        f"note added: {view.message.text()!r} {view.note_button.isEnabled()}",
    )

    choose(view.status_edit, TicketStatus.WAITING_ON_CUSTOMER)
    view.take_button.click()
    console.wait(lambda: pane.current.assignee == "olivia", "taken")
    choose(view.status_edit, TicketStatus.WAITING_ON_CUSTOMER)
    view.apply_button.click()
    console.wait(lambda: pane.current.status is TicketStatus.WAITING_ON_CUSTOMER, "status changed")

    server = console.operator_client("amir").get(f"/v1/tickets/{ticket_id}").json()
    kinds = [(m["kind"], m["author"], m["body"]) for m in server["messages"]]
    assert kinds == [
        ("customer", None, "my quota is wrong, please help"),
        ("reply", "olivia", "We raised it, try again."),
        ("note", "olivia", "Customer is on the annual plan."),
    ]
    assert server["status"] == "waiting_on_customer" and server["assignee"] == "olivia"
    assert server["first_responded_at"] is not None
    assert "paused" in pane.model.index(pane.model.row_of(ticket_id), DUE).data()
    assert "Internal note" in view.thread_view.toHtml()

    # The customer answers through the app: the thread shows it without a click.
    response = app.post(f"/v1/tickets/{ticket_id}/messages", json={"body": "Works now, thanks"})
    assert response.status_code == 201, response.text
    console.wait(lambda: "Works now, thanks" in view.thread_view.toPlainText(), "live message")


def test_countdown_colours_follow_the_server_clock(
    console: Console, app: httpx.Client, qtbot
) -> None:
    ticket_id = open_ticket(app, "u-ben", "urgent", "urgent")["id"]  # first response in 60 min
    pane = make_pane(console, qtbot)
    row = pane.model.row_of(ticket_id)
    cell = pane.model.index(row, DUE)
    resets: list[object] = []
    pane.model.modelReset.connect(lambda: resets.append(1))

    def level() -> str:
        return str(cell.data(URGENCY_ROLE))

    assert level() == Urgency.OK
    assert cell.data().startswith("in 59m") or cell.data().startswith("in 1h")
    for minutes, expected in ((35, Urgency.SOON), (16, Urgency.NEAR), (10, Urgency.BREACHED)):
        console.server.clock.advance(timedelta(minutes=minutes))
        tick(console)
        console.wait(lambda expected=expected: level() == expected, f"{expected} by the timer")
        background, foreground = URGENCY_COLOURS[expected]
        assert cell.data(Qt.ItemDataRole.BackgroundRole) == background
        assert cell.data(Qt.ItemDataRole.ForegroundRole) == foreground
    assert cell.data().startswith("overdue")
    assert resets == [], "the countdown never resets the model"


def test_roles_without_write_see_the_queue_but_cannot_act(
    console: Console, app: httpx.Client, qtbot
) -> None:
    ticket_id = open_ticket(app, "u-ana", "hello")["id"]
    billing = second_console(console.server, console.loop, "bill", Role.BILLING)
    try:
        pane = make_pane(billing, qtbot)
        billing.run(pane.open_ticket(ticket_id))
        view = pane.ticket_view
        view.compose.setPlainText("hi")
        for button in (view.reply_button, view.note_button, view.apply_button, view.take_button):
            assert not button.isEnabled()
            assert "Needs the" in button.toolTip() and "billing" in button.toolTip()
    finally:
        billing.close()


def test_search_finds_words_in_subjects_and_threads(
    console: Console, app: httpx.Client, qtbot
) -> None:
    refund = open_ticket(app, "u-ana", "Refund for March", "normal")["id"]
    login = open_ticket(app, "u-ben", "Cannot log in", "high")["id"]
    other = open_ticket(app, "u-ana", "Slow answers", "low")["id"]
    admin = console.operator_client("amir")
    note = {"body": "Asked for a REFUND of the second charge", "kind": "note"}
    assert admin.post(f"/v1/tickets/{login}/messages", json=note).status_code == 201

    pane = make_pane(console, qtbot)
    assert sorted(queue_ids(pane)) == sorted([refund, login, other])

    qtbot.keyClicks(pane.filters.search, "refund")
    # The subject of one, an internal note in the other's thread.
    console.wait(lambda: sorted(queue_ids(pane)) == sorted([refund, login]), "search results")
    assert pane.filters.count_label.text() == "2 tickets"

    # A ticket arriving on the stream is shown when its subject has the words.
    late = open_ticket(app, "u-ben", "Second refund request", "urgent")["id"]
    console.wait(lambda: late in queue_ids(pane), "a new matching ticket")
    unrelated = open_ticket(app, "u-ben", "Unrelated question", "urgent")["id"]
    console.wait(lambda: pane.model.rowCount() == 4, "the new ticket reached the pane")
    assert unrelated not in queue_ids(pane)
    assert sorted(queue_ids(pane)) == sorted([refund, login, late])

    pane.filters.search.clear()
    pane.filters.search.textEdited.emit("")
    console.wait(lambda: len(queue_ids(pane)) == 5, "the whole queue again")
