"""Tickets through the HTTP API: opening, SLA clock, messages, status, assignment, audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from opsconsole.server.settings import SlaPolicy
from opsconsole.server.tickets import service
from opsconsole.server.users.models import User
from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store

H = timedelta(hours=1)
# SLA tests move the clock by days; operator sessions must outlive that.
LONG_SESSIONS: dict[str, Any] = {"session_idle_minutes": 10**6, "session_lifetime_hours": 10**5}


@pytest.fixture
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(db_url, tmp_path_factory.mktemp("data"), **LONG_SESSIONS) as live:
        yield live


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def make_user(server: LiveServer, user_id: str) -> None:
    """Register a user as the app does."""
    response = server.client(server.app_key(f"users-{user_id}")).put(
        f"/v1/users/{user_id}",
        json={"email": f"{user_id}@example.com", "name": user_id, "tier": "free", "country": "DE"},
    )
    assert response.status_code in (200, 201), response.text


def app_client(server: LiveServer) -> httpx.Client:
    return server.client(server.app_key())


def open_ticket(client: httpx.Client, user_id: str = "u1", **fields: Any) -> dict[str, Any]:
    body = {"user_id": user_id, "subject": "Cannot log in", "body": "It says no.", **fields}
    response = client.post("/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def patch(client: httpx.Client, ticket_id: int, **fields: Any) -> dict[str, Any]:
    response = client.patch(f"/v1/tickets/{ticket_id}", json=fields)
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def post_message(client: httpx.Client, ticket_id: int, body: str, kind: str | None = None) -> None:
    payload = {"body": body} if kind is None else {"body": body, "kind": kind}
    response = client.post(f"/v1/tickets/{ticket_id}/messages", json=payload)
    assert response.status_code == 201, response.text


def get(client: httpx.Client, ticket_id: int) -> dict[str, Any]:
    response = client.get(f"/v1/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def ids(client: httpx.Client, **params: Any) -> list[int]:
    response = client.get("/v1/tickets", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


# --- opening -----------------------------------------------------------------------------------


def test_app_opens_a_ticket_for_a_user(server: LiveServer) -> None:
    make_user(server, "u1")
    now = server.clock.now()
    ticket = open_ticket(app_client(server), subject="Billing", body="Charged twice")
    assert ticket["user_id"] == "u1"
    assert ticket["subject"] == "Billing"
    assert (ticket["status"], ticket["priority"], ticket["assignee"]) == ("new", "normal", None)
    assert ticket["created_by"] == "app:backend"
    assert at(ticket["created_at"]) == now
    assert at(ticket["first_response_due"]) == now + 24 * H
    assert at(ticket["resolution_due"]) == now + 72 * H
    assert at(ticket["next_due_at"]) == now + 24 * H
    assert (ticket["breached"], ticket["paused"], ticket["paused_since"]) == (False, False, None)
    [message] = ticket["messages"]
    assert (message["kind"], message["author"], message["body"]) == (
        "customer",
        None,
        "Charged twice",
    )
    assert get(server.operator("sam", Role.SUPPORT), ticket["id"]) == ticket


def test_operator_opens_a_ticket_on_the_customers_behalf_for_known_users_only(
    server: LiveServer,
) -> None:
    make_user(server, "u1")
    alice = server.operator("alice", Role.SUPPORT)
    ticket = open_ticket(alice, priority="high", body="Phoned: the app crashes")
    assert ticket["created_by"] == "operator:alice"
    assert ticket["priority"] == "high"
    [message] = ticket["messages"]
    assert (message["kind"], message["author"]) == ("customer", "alice")

    response = alice.post("/v1/tickets", json={"user_id": "ghost", "subject": "s", "body": "b"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/unknown-user")
    assert "'ghost'" in problem["detail"] and "PUT /v1/users/" in problem["detail"]


def test_default_sla_per_priority(server: LiveServer) -> None:
    make_user(server, "u1")
    app, now = app_client(server), server.clock.now()
    expected = {"urgent": (1, 4), "high": (4, 24), "normal": (24, 72), "low": (72, 168)}
    for priority, (first, resolution) in expected.items():
        ticket = open_ticket(app, priority=priority)
        assert at(ticket["first_response_due"]) == now + first * H, priority
        assert at(ticket["resolution_due"]) == now + resolution * H, priority


def test_sla_policy_is_configurable(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    policy = SlaPolicy(urgent=(5, 30))
    with start_server(
        db_url, tmp_path_factory.mktemp("data"), sla=policy, **LONG_SESSIONS
    ) as server:
        make_user(server, "u1")
        now = server.clock.now()
        ticket = open_ticket(app_client(server), priority="urgent")
        assert at(ticket["first_response_due"]) == now + timedelta(minutes=5)
        assert at(ticket["resolution_due"]) == now + timedelta(minutes=30)


# --- the SLA clock -----------------------------------------------------------------------------


def test_waiting_on_customer_moves_deadlines_by_exactly_the_paused_time(
    server: LiveServer,
) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    created = server.clock.now()
    ticket = open_ticket(app)
    first, resolution = at(ticket["first_response_due"]), at(ticket["resolution_due"])

    server.clock.advance(2 * H)
    paused = patch(sam, ticket["id"], status="waiting_on_customer")
    assert paused["paused"] is True
    assert at(paused["paused_since"]) == server.clock.now()
    assert at(paused["first_response_due"]) == first  # unchanged while stopped

    stop = timedelta(hours=5, minutes=30, seconds=7)
    server.clock.advance(stop)
    post_message(app, ticket["id"], "Here is the screenshot")  # the customer answers
    resumed = get(sam, ticket["id"])
    assert resumed["status"] == "open"
    assert (resumed["paused"], resumed["paused_since"]) == (False, None)
    assert at(resumed["first_response_due"]) == first + stop
    assert at(resumed["resolution_due"]) == resolution + stop

    # A second stop, ended by an operator this time, adds up.
    patch(sam, ticket["id"], status="waiting_on_customer")
    server.clock.advance(H)
    resumed = patch(sam, ticket["id"], status="open")
    total = stop + H
    assert at(resumed["first_response_due"]) == first + total

    # A new priority counts from created_at, plus the stopped time so far.
    high = patch(sam, ticket["id"], priority="high")
    assert at(high["first_response_due"]) == created + 4 * H + total
    assert at(high["resolution_due"]) == created + 24 * H + total


def test_priority_change_while_paused_keeps_the_running_pause(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    created = server.clock.now()
    ticket = open_ticket(app, priority="low")
    patch(sam, ticket["id"], status="waiting_on_customer")
    server.clock.advance(3 * H)
    urgent = patch(sam, ticket["id"], priority="urgent")
    assert at(urgent["first_response_due"]) == created + H
    server.clock.advance(H)
    resumed = patch(sam, ticket["id"], status="open")
    assert at(resumed["first_response_due"]) == created + H + 4 * H


def test_breach_and_first_response(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    ticket = open_ticket(app, priority="urgent")
    tid = ticket["id"]

    server.clock.advance(H)
    assert get(sam, tid)["breached"] is False  # at the deadline: not late yet
    assert ids(sam, breached="true") == []
    server.clock.advance(timedelta(seconds=1))
    assert get(sam, tid)["breached"] is True
    assert ids(sam, breached="true") == [tid]
    assert ids(sam, breached="false") == []

    post_message(sam, tid, "looking into it", kind="note")  # a note is not a response
    assert get(sam, tid)["breached"] is True
    assert get(sam, tid)["first_responded_at"] is None

    post_message(sam, tid, "Hi, we are on it", kind="reply")
    answered = get(sam, tid)
    assert at(answered["first_responded_at"]) == server.clock.now()
    assert answered["next_due_at"] == answered["resolution_due"]
    assert answered["breached"] is False
    assert ids(sam, breached="false") == [tid]

    server.clock.advance(3 * H)
    assert get(sam, tid)["breached"] is True  # past the 4 h resolution deadline
    resolved = patch(sam, tid, status="resolved")
    assert resolved["breached"] is False
    assert at(resolved["resolved_at"]) == server.clock.now()
    assert ids(sam, breached="true") == []
    assert ids(sam, breached="false") == [tid]


def test_a_paused_ticket_keeps_the_breach_state_it_stopped_with(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    early = open_ticket(app, priority="urgent")["id"]
    late = open_ticket(app, priority="urgent")["id"]
    server.clock.advance(H / 2)
    patch(sam, early, status="waiting_on_customer")
    server.clock.advance(H)
    patch(sam, late, status="waiting_on_customer")
    server.clock.advance(100 * H)
    assert get(sam, early)["breached"] is False
    assert get(sam, late)["breached"] is True
    assert ids(sam, breached="true") == [late]
    assert ids(sam, breached="false") == [early]


def test_reopening_a_resolved_ticket_restarts_the_clock(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    ticket = open_ticket(app, priority="urgent")
    tid, due = ticket["id"], at(ticket["first_response_due"])
    server.clock.advance(H / 2)
    patch(sam, tid, status="resolved")
    server.clock.advance(10 * H)
    reopened = patch(sam, tid, status="open")
    assert reopened["resolved_at"] is None
    assert at(reopened["first_response_due"]) == due + 10 * H
    assert reopened["breached"] is False
    # A customer message on a resolved ticket reopens it the same way.
    patch(sam, tid, status="resolved")
    server.clock.advance(H)
    post_message(app, tid, "Still broken")
    again = get(sam, tid)
    assert again["status"] == "open"
    assert at(again["first_response_due"]) == due + 11 * H


# --- messages ----------------------------------------------------------------------------------


def test_message_kinds_by_sender(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    tid = open_ticket(app)["id"]

    response = sam.post(
        f"/v1/tickets/{tid}/messages", json={"body": "internal: known bug", "kind": "note"}
    )
    assert response.status_code == 201
    note = response.json()
    assert (note["kind"], note["author"], note["body"]) == ("note", "sam", "internal: known bug")
    assert at(note["created_at"]) == server.clock.now()
    assert get(sam, tid)["status"] == "new"  # notes move nothing
    post_message(sam, tid, "Please try again", kind="reply")
    assert get(sam, tid)["status"] == "open"  # the first reply opens a new ticket
    post_message(app, tid, "Works now", kind="customer")
    post_message(app, tid, "Thanks!")

    thread = get(sam, tid)["messages"]
    assert [(m["kind"], m["author"], m["body"]) for m in thread] == [
        ("customer", None, "It says no."),
        ("note", "sam", "internal: known bug"),
        ("reply", "sam", "Please try again"),
        ("customer", None, "Works now"),
        ("customer", None, "Thanks!"),
    ]

    for kind in ("reply", "note"):
        response = app.post(f"/v1/tickets/{tid}/messages", json={"body": "x", "kind": kind})
        assert response.status_code == 403, kind
        assert "customer" in response.json()["detail"]
    for payload in ({"body": "x"}, {"body": "x", "kind": "customer"}):
        response = sam.post(f"/v1/tickets/{tid}/messages", json=payload)
        assert response.status_code == 422, payload
        assert response.json()["type"].endswith("/message-kind")
    assert len(get(sam, tid)["messages"]) == 5


# --- status and assignment ---------------------------------------------------------------------


def test_status_transitions(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    tid = open_ticket(app)["id"]

    def refused(status: str) -> dict[str, Any]:
        response = sam.patch(f"/v1/tickets/{tid}", json={"status": status})
        assert response.status_code == 409, (status, response.text)
        problem: dict[str, Any] = response.json()
        assert problem["type"].endswith("/invalid-transition")
        return problem

    assert patch(sam, tid, status="open")["status"] == "open"
    assert "cannot become new" in refused("new")["detail"]
    assert patch(sam, tid, status="resolved")["status"] == "resolved"
    problem = refused("waiting_on_customer")
    assert problem["allowed"] == ["closed", "open"]
    assert patch(sam, tid, status="closed")["status"] == "closed"
    assert "final" in refused("open")["detail"]

    for client, payload in ((app, {"body": "hello?"}), (sam, {"body": "hi", "kind": "reply"})):
        response = client.post(f"/v1/tickets/{tid}/messages", json=payload)
        assert response.status_code == 409
        assert "closed" in response.json()["detail"]


def test_assignment(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    server.create_operator("bob", Role.SUPPORT)
    server.create_operator("gone", Role.SUPPORT)
    admin = server.operator("root", Role.ADMIN)
    server.step_up(admin)
    assert admin.patch("/v1/operators/gone", json={"disabled": True}).status_code == 200
    tid = open_ticket(app)["id"]

    assert patch(sam, tid, assignee="bob")["assignee"] == "bob"
    for name, kind in (("nobody", "unknown-operator"), ("gone", "operator-disabled")):
        response = sam.patch(f"/v1/tickets/{tid}", json={"assignee": name})
        assert response.status_code == 422, name
        assert response.json()["type"].endswith(f"/{kind}")
        assert repr(name) in response.json()["detail"]
    assert get(sam, tid)["assignee"] == "bob"
    assert patch(sam, tid, assignee=None)["assignee"] is None


def test_every_change_is_audited(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    admin = server.operator("root", Role.ADMIN)
    tid = open_ticket(app, body="my secret problem")["id"]
    patch(sam, tid, priority="high", assignee="sam")
    patch(sam, tid, priority="high")  # no change: no row
    post_message(sam, tid, "a reply text", kind="reply")

    response = admin.get("/v1/audit", params={"target": f"ticket:{tid}"})
    assert response.status_code == 200
    rows = list(reversed(response.json()["items"]))
    assert [(r["action"], r["actor_type"], r["actor"]) for r in rows] == [
        ("tickets.create", "app", "backend"),
        ("tickets.update", "operator", "sam"),
        ("tickets.message", "operator", "sam"),
    ]
    create, update, message = rows
    assert create["after"]["priority"] == "normal"
    assert create["after"]["message"]["length"] == len("my secret problem")
    assert update["before"]["priority"] == "normal" and update["after"]["priority"] == "high"
    assert update["before"]["assignee"] is None and update["after"]["assignee"] == "sam"
    assert message["after"]["message"]["kind"] == "reply"
    assert message["before"]["status"] == "new" and message["after"]["status"] == "open"
    # Message bodies stay out of the (unerasable) audit log.
    assert "secret" not in response.text and "a reply text" not in response.text


# --- the queue ---------------------------------------------------------------------------------


def test_queue_order_and_filters(server: LiveServer) -> None:
    for user in ("u1", "u2"):
        make_user(server, user)
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    server.create_operator("bob", Role.SUPPORT)
    low = open_ticket(app, priority="low")["id"]  # due +72 h
    normal = open_ticket(app, user_id="u2")["id"]  # due +24 h
    server.clock.advance(H)
    urgent = open_ticket(app, priority="urgent")["id"]  # due +2 h from the start
    high_a = open_ticket(app, priority="high", user_id="u2")["id"]  # +5 h
    high_b = open_ticket(app, priority="high")["id"]  # +5 h, same deadline: by id

    assert ids(sam) == [urgent, high_a, high_b, normal, low]
    page = sam.get("/v1/tickets").json()
    dues = [at(t["next_due_at"]) for t in page["items"]]
    assert dues == sorted(dues)

    patch(sam, high_a, assignee="sam")
    patch(sam, normal, assignee="bob", status="waiting_on_customer")
    patch(sam, low, status="resolved")

    assert ids(sam, priority="high") == [high_a, high_b]
    assert ids(sam, priority=["urgent", "low"]) == [urgent, low]
    assert ids(sam, status="waiting_on_customer") == [normal]
    assert ids(sam, status=["new", "resolved"]) == [urgent, high_a, high_b, low]
    assert ids(sam, assignee="me") == [high_a]
    assert ids(sam, assignee="bob") == [normal]
    assert ids(sam, assignee="none") == [urgent, high_b, low]
    assert ids(sam, user="u2") == [high_a, normal]
    assert ids(sam, user="nobody") == []
    assert ids(sam, user="u1", priority="high") == [high_b]

    server.clock.advance(2 * H)  # urgent's first response is now overdue
    assert ids(sam, breached="true") == [urgent]
    assert ids(sam, breached="false") == [high_a, high_b, normal, low]


def test_text_search_finds_subjects_and_messages_ignoring_case(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    login = open_ticket(app, subject="Cannot log in", body="It says no.")["id"]
    refund = open_ticket(app, subject="Refund please", body="Charged twice for PREMIUM")["id"]
    percent = open_ticket(app, subject="Quota at 100% already", body="why")["id"]
    post_message(sam, login, "Reset the password via the e-mail link", kind="note")

    assert ids(sam, q="premium") == [refund]  # the customer's first message, any case
    assert ids(sam, q="PASSWORD") == [login]  # an operator's internal note
    assert ids(sam, q="log in") == [login]
    assert ids(sam, q="100%") == [percent]  # % is a character, not a wildcard
    assert ids(sam, q="o_") == []  # as a wildcard it would match every ticket
    assert ids(sam, q="refund", status="resolved") == []  # combines with the other filters
    assert ids(sam, q="nothing like this") == []
    assert_problem(sam.get("/v1/tickets", params={"q": "x"}), 422)  # two characters at least


def test_paging_visits_every_ticket_once(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    for index in range(11):
        open_ticket(app, priority=("urgent", "high", "normal")[index % 3])
        if index % 4 == 0:
            server.clock.advance(timedelta(minutes=10))  # some share a deadline, some not
    everything = ids(sam)
    assert len(everything) == 11

    for params in ({}, {"status": "new"}):
        seen: list[int] = []
        cursor = None
        while True:
            query: dict[str, Any] = {"limit": 3, **params}
            if cursor:
                query["cursor"] = cursor
            page = sam.get("/v1/tickets", params=query).json()
            assert len(page["items"]) <= 3
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == everything

    default = sam.get("/v1/tickets").json()
    assert len(default["items"]) == 11 and default["next_cursor"] is None


# --- access and bad input ----------------------------------------------------------------------


def test_roles(server: LiveServer) -> None:
    make_user(server, "u1")
    app = app_client(server)
    tid = open_ticket(app)["id"]
    viewer = server.operator("val", Role.VIEWER)
    billing = server.operator("bill", Role.BILLING)
    oncall = server.operator("otto", Role.ONCALL)
    new = {"user_id": "u1", "subject": "s", "body": "b"}
    reply = {"body": "x", "kind": "reply"}

    calls = [
        ("GET", "/v1/tickets", None),
        ("GET", f"/v1/tickets/{tid}", None),
        ("POST", "/v1/tickets", new),
        ("PATCH", f"/v1/tickets/{tid}", {"priority": "high"}),
        ("POST", f"/v1/tickets/{tid}/messages", reply),
    ]
    for method, url, body in calls:
        assert viewer.request(method, url, json=body).status_code == 403, (method, url)
        assert server.client().request(method, url, json=body).status_code == 401, (method, url)
        expected = 200 if method == "GET" else 403
        assert billing.request(method, url, json=body).status_code == expected, (method, url)
        assert oncall.request(method, url, json=body).status_code in (200, 201), (method, url)
    # The app key opens tickets and writes messages, but never reads or changes the queue.
    for method, url, body in calls[:2] + calls[3:4]:
        assert app.request(method, url, json=body).status_code == 403, (method, url)


def test_bad_input(server: LiveServer) -> None:
    make_user(server, "u1")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    tid = open_ticket(app)["id"]
    good = {"user_id": "u1", "subject": "s", "body": "b"}

    bad_creates = [
        {"subject": "s", "body": "b"},  # user_id missing
        {**good, "priority": "asap"},
        {**good, "subject": 5},
        {**good, "subject": ""},
        {**good, "subject": "x" * 201},
        {**good, "body": "x" * 10_001},
        {**good, "color": "red"},  # unknown field
    ]
    for body in bad_creates:
        assert_problem(app.post("/v1/tickets", json=body), 422, "validation-error")
    for body in ({}, {"status": None}, {"priority": None}, {"status": "done"}, {"x": 1}):
        assert_problem(sam.patch(f"/v1/tickets/{tid}", json=body), 422)
    assert_problem(sam.post(f"/v1/tickets/{tid}/messages", json={"body": ""}), 422)
    assert_problem(sam.post(f"/v1/tickets/{tid}/messages", json={"body": "x" * 10_001}), 422)

    assert "999" in assert_problem(sam.get("/v1/tickets/999"), 404)["detail"]
    assert_problem(sam.patch("/v1/tickets/999", json={"priority": "low"}), 404)
    assert_problem(sam.post("/v1/tickets/999/messages", json={"body": "x", "kind": "note"}), 404)
    assert_problem(sam.get("/v1/tickets/abc"), 422)
    assert_problem(sam.get(f"/v1/tickets/{2**40}"), 422)

    for params in ({"limit": 501}, {"limit": 0}, {"status": "bogus"}, {"breached": "maybe"}):
        assert_problem(sam.get("/v1/tickets", params=params), 422)
    for cursor in ("garbage", "eyJpZCI6MX0", "eyJkdWUiOiJ4IiwiaWQiOjF9"):
        # Not base64 JSON; {"id":1} without a due; {"due":"x","id":1} with a bad time.
        assert_problem(sam.get("/v1/tickets", params={"cursor": cursor}), 400, "bad-cursor")


# --- for the users domain ----------------------------------------------------------------------


def test_export_and_redaction_of_a_users_tickets(server: LiveServer) -> None:
    make_user(server, "u1")
    make_user(server, "u2")
    app, sam = app_client(server), server.operator("sam", Role.SUPPORT)
    tid = open_ticket(app, subject="About my account", body="My email is a@b.c")["id"]
    post_message(sam, tid, "We will check", kind="reply")
    post_message(sam, tid, "VIP customer", kind="note")
    post_message(app, tid, "Any news?")
    other = open_ticket(app, user_id="u2", body="unrelated")["id"]

    with server.db.reading() as session:
        user_pk = session.query(User.pk).filter(User.id == "u1").scalar()
        exported = service.export_user_tickets(session=session, user_pk=user_pk)
    [ticket] = exported
    assert ticket["id"] == tid and ticket["subject"] == "About my account"
    assert [m["kind"] for m in ticket["messages"]] == ["customer", "reply", "note", "customer"]
    assert isinstance(ticket["created_at"], str)  # JSON-ready

    with server.db.writing() as session:
        assert (
            service.redact_user_content(session=session, user_pk=user_pk, now=server.clock.now())
            == 2
        )
    with server.db.writing() as session:  # a second erasure finds nothing left to erase
        assert (
            service.redact_user_content(session=session, user_pk=user_pk, now=server.clock.now())
            == 0
        )

    erased = get(sam, tid)
    assert erased["subject"] == "[erased]"
    assert [m["body"] for m in erased["messages"]] == [
        "[erased]",
        "We will check",
        "VIP customer",
        "[erased]",
    ]
    assert get(sam, other)["messages"][0]["body"] == "unrelated"
