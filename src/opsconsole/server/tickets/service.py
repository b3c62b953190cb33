"""Support tickets: opening, the queue, status, priority, assignment and the message thread.

Plain functions over a SQLAlchemy session; the routes in `routes.py` only translate HTTP.
Every change writes its audit row in the caller's transaction. SLA arithmetic is in `sla.py`.

Status rules (anything else is a 409):

- ``new`` is only the state of a ticket nobody has handled; nothing moves back to it.
- ``new``/``open``/``waiting_on_customer`` may move to any other of these and to
  ``resolved`` or ``closed``.
- ``resolved`` may be reopened (``open``) or ``closed``; ``closed`` is final, and a closed
  ticket takes no more messages (the customer opens a new one).

Messages move tickets too: the first staff reply to a ``new`` ticket opens it, and a
customer message on a ``waiting_on_customer`` or ``resolved`` ticket reopens it. The SLA clock
stops in ``waiting_on_customer``/``resolved``/``closed`` and the deadlines move by the stopped
time when it starts again, so reopening a resolved ticket does not make it instantly breached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, update
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor, record
from opsconsole.server.auth.models import Operator
from opsconsole.server.errors import Problem, conflict, not_found
from opsconsole.server.pagination import (
    decode_time_cursor,
    encode_cursor,
)
from opsconsole.server.settings import SlaPolicy
from opsconsole.server.tickets import sla
from opsconsole.server.tickets.models import Ticket, TicketMessage
from opsconsole.server.users.models import User
from opsconsole.wire.tickets import (
    MessageKind,
    MessagePublic,
    TicketDetail,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketUpdate,
)

log = logging.getLogger("opsconsole.tickets")

ERASED = "[erased]"
UNASSIGNED = "none"

S = TicketStatus
ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.NEW: frozenset({S.OPEN, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED}),
    S.OPEN: frozenset({S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED}),
    S.WAITING_ON_CUSTOMER: frozenset({S.OPEN, S.RESOLVED, S.CLOSED}),
    S.RESOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
}


# --- shapes ----------------------------------------------------------------------------------


def ticket_public(ticket: Ticket, user_id: str, now: datetime) -> TicketPublic:
    return TicketPublic(
        id=ticket.id,
        user_id=user_id,
        subject=ticket.subject,
        status=TicketStatus(ticket.status),
        priority=TicketPriority(ticket.priority),
        assignee=ticket.assignee,
        created_by=ticket.created_by,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_responded_at=ticket.first_responded_at,
        resolved_at=ticket.resolved_at,
        first_response_due=ticket.first_response_due,
        resolution_due=ticket.resolution_due,
        next_due_at=ticket.next_due_at,
        breached=sla.is_breached(
            status=ticket.status,
            next_due_at=ticket.next_due_at,
            paused_since=ticket.paused_since,
            now=now,
        ),
        paused=ticket.paused_since is not None,
        paused_since=ticket.paused_since,
    )


def message_public(message: TicketMessage) -> MessagePublic:
    return MessagePublic(
        id=message.id,
        kind=MessageKind(message.kind),
        author=message.author,
        body=message.body,
        created_at=message.created_at,
    )


def _messages(session: Session, ticket_id: int) -> list[TicketMessage]:
    query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(TicketMessage.id)))


def ticket_detail(*, session: Session, ticket_id: int, now: datetime) -> TicketDetail:
    ticket, user_id = _get_with_user(session, ticket_id)
    public = ticket_public(ticket, user_id, now)
    messages = [message_public(m) for m in _messages(session, ticket.id)]
    return TicketDetail(**public.model_dump(), messages=messages)


# --- reading ---------------------------------------------------------------------------------


def _get_with_user(session: Session, ticket_id: int) -> tuple[Ticket, str]:
    row = session.execute(
        select(Ticket, User.id).join(User, User.pk == Ticket.user_pk).where(Ticket.id == ticket_id)
    ).first()
    if row is None:
        raise not_found("ticket", ticket_id)
    return row[0], row[1]


def get_ticket(*, session: Session, ticket_id: int, for_update: bool = False) -> Ticket:
    """A ticket or a 404; ``for_update`` locks its row (PostgreSQL) against a lost update."""
    ticket = session.get(Ticket, ticket_id, with_for_update=for_update)
    if ticket is None:
        raise not_found("ticket", ticket_id)
    return ticket


def user_id_of(*, session: Session, ticket: Ticket) -> str:
    """The app's id of the ticket's user."""
    user_id = session.scalar(select(User.id).where(User.pk == ticket.user_pk))
    assert user_id is not None  # the foreign key guarantees the row
    return user_id


@dataclass(frozen=True)
class TicketFilter:
    """Queue filters; each narrows the list, None means "any".

    ``assignee`` is a username or :data:`UNASSIGNED`; the route resolves "me" before this.
    ``user_id`` is the app's id of the user. ``text`` is found, ignoring case, in the subject or
    in any message of the thread (notes included).
    """

    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    assignee: str | None = None
    breached: bool | None = None
    user_id: str | None = None
    text: str | None = None

    def apply(self, query: Select[Ticket, str], now: datetime) -> Select[Ticket, str]:
        if self.status:
            query = query.where(Ticket.status.in_(self.status))
        if self.priority:
            query = query.where(Ticket.priority.in_(self.priority))
        if self.assignee == UNASSIGNED:
            query = query.where(Ticket.assignee.is_(None))
        elif self.assignee is not None:
            query = query.where(Ticket.assignee == self.assignee)
        if self.user_id is not None:
            query = query.where(User.id == self.user_id)
        if self.text:
            query = query.where(_mentions(self.text))
        if self.breached is not None:
            # The SQL twin of sla.is_breached, so the filter can use the queue's indexes.
            breached = and_(
                Ticket.status.not_in(sla.DONE_STATES),
                or_(
                    and_(Ticket.paused_since.is_(None), Ticket.next_due_at < now),
                    and_(
                        Ticket.paused_since.is_not(None),
                        Ticket.next_due_at < Ticket.paused_since,
                    ),
                ),
            )
            query = query.where(breached if self.breached else ~breached)
        return query


def _mentions(text: str) -> ColumnElement[bool]:
    """Subject or any message containing ``text``, case-insensitive, taken literally: a `%`
    or `_` the operator types is searched for, not a wildcard."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    in_thread = exists().where(
        TicketMessage.ticket_id == Ticket.id, TicketMessage.body.ilike(pattern, escape="\\")
    )
    return or_(Ticket.subject.ilike(pattern, escape="\\"), in_thread)


def list_tickets(
    *, session: Session, filters: TicketFilter, cursor: str | None, limit: int, now: datetime
) -> tuple[list[TicketPublic], str | None]:
    """The queue: soonest deadline first (then oldest id), one page."""
    query = filters.apply(select(Ticket, User.id).join(User, User.pk == Ticket.user_pk), now)
    position = decode_time_cursor(cursor, "due", int)
    if position is not None:
        due, last_id = position
        query = query.where(
            or_(Ticket.next_due_at > due, and_(Ticket.next_due_at == due, Ticket.id > last_id))
        )
    rows = session.execute(query.order_by(Ticket.next_due_at, Ticket.id).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(due=last.next_due_at.isoformat(), id=last.id)
    return [ticket_public(t, user_id, now) for t, user_id in rows[:limit]], next_cursor


# --- changing --------------------------------------------------------------------------------


def _refresh_next_due(ticket: Ticket) -> None:
    ticket.next_due_at = sla.next_due(
        sla.Deadlines(ticket.first_response_due, ticket.resolution_due),
        first_responded=ticket.first_responded_at is not None,
    )


def _set_deadlines(ticket: Ticket, deadlines: sla.Deadlines) -> None:
    ticket.first_response_due = deadlines.first_response_due
    ticket.resolution_due = deadlines.resolution_due
    _refresh_next_due(ticket)


def _move(ticket: Ticket, target: TicketStatus, now: datetime) -> None:
    """Change status, stopping or restarting the SLA clock as the states require."""
    current = TicketStatus(ticket.status)
    if target == current:
        return
    if target not in ALLOWED_TRANSITIONS[current]:
        raise Problem(
            409,
            "invalid-transition",
            "Status change not allowed",
            f"A {current.value} ticket cannot become {target.value}. " + _transition_hint(current),
            allowed=sorted(s.value for s in ALLOWED_TRANSITIONS[current]),
        )
    was_running, runs = sla.clock_runs(current), sla.clock_runs(target)
    if was_running and not runs:
        ticket.paused_since = now
    elif runs and not was_running and ticket.paused_since is not None:
        stopped = sla.stopped_for(ticket.paused_since, now)
        _set_deadlines(
            ticket,
            sla.resume(
                sla.Deadlines(ticket.first_response_due, ticket.resolution_due),
                ticket.paused_since,
                now,
            ),
        )
        ticket.paused_us += sla.to_micros(stopped)
        ticket.paused_since = None
    if target == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif runs:
        ticket.resolved_at = None
    ticket.status = target.value


def _transition_hint(current: TicketStatus) -> str:
    if current == TicketStatus.CLOSED:
        return "Closed tickets are final; open a new ticket instead."
    allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current]))
    return f"From {current.value} it can become: {allowed}."


def create_ticket(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    policy: SlaPolicy,
    user_id: str,
    subject: str,
    body: str,
    priority: TicketPriority,
) -> Ticket:
    """Open a ticket for a user; ``body`` becomes its first message.

    The first message is kind ``customer`` whoever opens the ticket: when an operator opens
    one (say, after a phone call) they write down what the customer asked, on the customer's
    behalf, and the message's author names that operator. Staff replies come after.
    """
    user = session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise Problem(
            422,
            "unknown-user",
            "Unknown user",
            f"No user with id {user_id!r} exists; the app registers its users with "
            "PUT /v1/users/{user_id} before opening tickets for them.",
        )
    deadlines = sla.deadlines(policy, priority.value, now)
    ticket = Ticket(
        user_pk=user.pk,
        subject=subject,
        status=TicketStatus.NEW.value,
        priority=priority.value,
        assignee=None,
        created_by=actor.label,
        created_at=now,
        updated_at=now,
        paused_us=0,
    )
    _set_deadlines(ticket, deadlines)
    session.add(ticket)
    session.flush()
    message = TicketMessage(
        ticket_id=ticket.id,
        kind=MessageKind.CUSTOMER.value,
        author=actor.name if actor.type == "operator" else None,
        body=body,
        created_at=now,
    )
    session.add(message)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="tickets.create",
        target=f"ticket:{ticket.id}",
        at=now,
        after={
            "user_pk": user.pk,
            "status": ticket.status,
            "priority": ticket.priority,
            "next_due_at": ticket.next_due_at.isoformat(),
            "message": {"id": message.id, "kind": message.kind, "length": len(body)},
        },
    )
    return ticket


def _check_assignee(session: Session, username: str) -> None:
    operator = session.scalar(select(Operator).where(Operator.username == username))
    if operator is None:
        raise Problem(
            422,
            "unknown-operator",
            "Unknown operator",
            f"No operator is named {username!r}; assign the ticket to an existing operator "
            "(GET /v1/operators lists them) or send null to unassign it.",
        )
    if operator.disabled:
        raise Problem(
            422,
            "operator-disabled",
            "Operator disabled",
            f"Operator {username!r} is disabled and cannot take tickets; pick another operator.",
        )


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": ticket.assignee,
        "next_due_at": ticket.next_due_at.isoformat(),
    }


def _changed(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in before if before[k] != after[k]]
    return {k: before[k] for k in keys}, {k: after[k] for k in keys}


def update_ticket(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    policy: SlaPolicy,
    ticket_id: int,
    changes: TicketUpdate,
) -> Ticket:
    """Apply the fields named in ``changes``; a request that changes nothing writes nothing."""
    ticket = get_ticket(session=session, ticket_id=ticket_id, for_update=True)
    before = _snapshot(ticket)
    fields = changes.model_fields_set
    if "assignee" in fields and changes.assignee != ticket.assignee:
        if changes.assignee is not None:
            _check_assignee(session, changes.assignee)
        ticket.assignee = changes.assignee
    if changes.priority is not None and changes.priority.value != ticket.priority:
        ticket.priority = changes.priority.value
        # From created_at plus the time stopped so far; a running pause is added on resume.
        _set_deadlines(
            ticket,
            sla.deadlines(
                policy, ticket.priority, ticket.created_at, sla.from_micros(ticket.paused_us)
            ),
        )
    if changes.status is not None:
        _move(ticket, changes.status, now)
    old, new = _changed(before, _snapshot(ticket))
    if not new:
        return ticket
    ticket.updated_at = now
    record(
        session=session,
        actor=actor,
        action="tickets.update",
        target=f"ticket:{ticket.id}",
        at=now,
        before=old,
        after=new,
    )
    return ticket


def add_message(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    ticket_id: int,
    kind: MessageKind,
    body: str,
) -> TicketMessage:
    """Add a message to the thread and move the ticket as the message implies.

    The caller decides who may write which kind (the app writes ``customer``; operators
    ``reply`` and ``note``). A ``note`` never changes the ticket.
    """
    ticket = get_ticket(session=session, ticket_id=ticket_id, for_update=True)
    if ticket.status == TicketStatus.CLOSED.value:
        raise conflict(
            f"Ticket {ticket.id} is closed and takes no more messages; open a new ticket."
        )
    before = _snapshot(ticket)
    if kind == MessageKind.REPLY:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            _refresh_next_due(ticket)
        if ticket.status == TicketStatus.NEW.value:
            _move(ticket, TicketStatus.OPEN, now)
    elif kind == MessageKind.CUSTOMER and ticket.status in (
        TicketStatus.WAITING_ON_CUSTOMER.value,
        TicketStatus.RESOLVED.value,
    ):
        _move(ticket, TicketStatus.OPEN, now)
    message = TicketMessage(
        ticket_id=ticket.id,
        kind=kind.value,
        author=actor.name if actor.type == "operator" else None,
        body=body,
        created_at=now,
    )
    session.add(message)
    ticket.updated_at = now
    session.flush()
    old, new = _changed(before, _snapshot(ticket))
    record(
        session=session,
        actor=actor,
        action="tickets.message",
        target=f"ticket:{ticket.id}",
        at=now,
        before=old or None,
        after={"message": {"id": message.id, "kind": kind.value, "length": len(body)}, **new},
    )
    return message


# --- for the users domain: export and erasure ------------------------------------------------


def export_user_tickets(*, session: Session, user_pk: int) -> list[dict[str, Any]]:
    """Every ticket of a user with its whole thread, JSON-ready (for a GDPR export).

    Internal notes are included: an access request covers what the company holds about the
    person. The SLA state is computed as of the ticket's last change, not of the export.
    """
    rows = session.execute(
        select(Ticket, User.id)
        .join(User, User.pk == Ticket.user_pk)
        .where(Ticket.user_pk == user_pk)
        .order_by(Ticket.id)
    ).all()
    exported = []
    for ticket, user_id in rows:
        public = ticket_public(ticket, user_id, ticket.updated_at)
        messages = [message_public(m) for m in _messages(session, ticket.id)]
        detail = TicketDetail(**public.model_dump(), messages=messages)
        exported.append(detail.model_dump(mode="json"))
    return exported


def redact_user_content(*, session: Session, user_pk: int, now: datetime) -> int:
    """Erase what a user wrote: their tickets' subjects and their (customer) messages.

    Staff replies and notes are kept: they are the company's records, and the ticket stays
    linked to the (erased) user row for statistics. Runs inside the caller's erase
    transaction and does not commit. Returns how many messages were redacted now (messages
    erased by an earlier call are not counted again).
    """
    ticket_ids = select(Ticket.id).where(Ticket.user_pk == user_pk).scalar_subquery()
    session.execute(
        update(Ticket)
        .where(Ticket.user_pk == user_pk, Ticket.subject != ERASED)
        .values(subject=ERASED, updated_at=now)
    )
    result = session.execute(
        update(TicketMessage)
        .where(
            TicketMessage.ticket_id.in_(ticket_ids),
            TicketMessage.kind == MessageKind.CUSTOMER.value,
            TicketMessage.body != ERASED,
        )
        .values(body=ERASED)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    log.info("redacted %d ticket messages of user pk %d", count, user_pk)
    return count
