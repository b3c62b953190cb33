"""Screenshots of the tickets, audit and business panes into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/pytest -p no:xdist -q \
        tests/console/queues/take_screenshots.py

Not collected with the suite (the file name does not start with ``test_``): run it by hand and
look at the pictures. It uses the queue tests' fixtures: a real control plane on loopback, an
app key opening tickets, operators acting, and simulated weeks of history for the business
figures.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from opsconsole.console.panes.audit import AuditPane
from opsconsole.console.panes.base import Pane, ServerClock
from opsconsole.console.panes.business import BusinessPane
from opsconsole.console.panes.tickets import TicketsPane
from opsconsole.sim.history import HistoryConfig, write_history
from tests.console.queues.conftest import database, open_ticket, tick
from tests.console.views.conftest import Console
from tests.live import DEFAULT_PASSWORD

OUT = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def show(qtbot, pane: Pane, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    qtbot.addWidget(pane)
    pane.resize(width, height)
    pane.show()


def test_screenshots(console: Console, app: httpx.Client, qtbot) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    db = database(console.server)
    try:
        write_history(db, HistoryConfig(days=56, users=300, seed=7, end=console.server.clock.now()))
    finally:
        db.dispose()
    for user_id, tier in (("u-chen", "unlimited"), ("u-dora", "free"), ("u-eli", "premium")):
        app.put(f"/v1/users/{user_id}", json={"tier": tier, "name": user_id[2:].title()})

    amir = console.operator_client("amir")
    amir.post("/v1/auth/step-up", json={"password": DEFAULT_PASSWORD})
    # A heavy user of the history: their context has requests, errors and refusals to show.
    heavy = amir.get("/v1/business").json()["heavy_users"]["top"][0]["user_id"]
    amir.put("/v1/controls/cheapest_only", json={"value": True, "reason": "cost spike"})
    open_ticket(app, "u-dora", "Summaries stopped working this morning", "urgent")
    console.server.clock.advance(timedelta(minutes=40))
    tickets = [
        open_ticket(app, "u-ana", "Charged twice for the annual plan", "high"),
        open_ticket(app, "u-chen", "Translation refuses long documents", "normal"),
        open_ticket(app, "u-ben", "How do I export my chats?", "low"),
        open_ticket(app, heavy, "Refused again: daily quota reached?", "urgent"),
        open_ticket(app, "u-dora", "Feature request: dark mode", "low"),
    ]
    amir.patch(f"/v1/tickets/{tickets[0]['id']}", json={"assignee": "olivia"})
    amir.patch(f"/v1/tickets/{tickets[1]['id']}", json={"assignee": "amir", "status": "open"})
    amir.post(
        f"/v1/tickets/{tickets[1]['id']}/messages",
        json={"kind": "reply", "body": "Looking into it: which document size fails?"},
    )
    amir.patch(f"/v1/tickets/{tickets[2]['id']}", json={"status": "waiting_on_customer"})
    console.server.clock.advance(timedelta(minutes=35))  # the first one overdue, others near

    clock = ServerClock(console.connection)
    tick(console)
    pane = TicketsPane(console.connection, clock)
    show(qtbot, pane, 1700, 720)
    console.run(pane.load())
    console.run(pane.open_ticket(tickets[3]["id"]))
    pane.ticket_view.compose.setPlainText("You reached the tier's daily quota; premium doubles it.")
    console.wait(lambda: "Tier" in pane.context_box.label.text(), "the user's context")
    pane.model.tick()
    pane.grab().save(str(OUT / "tickets.png"))

    audit = AuditPane(console.connection, clock)
    show(qtbot, audit, 1500, 620)
    console.run(audit.load())
    console.run(audit.verify())
    audit.grab().save(str(OUT / "audit.png"))

    business = BusinessPane(console.connection, clock)
    show(qtbot, business, 1600, 1250)
    console.run(business.load())
    business.grab().save(str(OUT / "business.png"))
