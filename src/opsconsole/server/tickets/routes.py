"""HTTP routes for support tickets: the app opens them, operators work the queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from opsconsole.server.deps import (
    ActorDep,
    AppPrincipal,
    CurrentOperator,
    CurrentPrincipal,
    NowDep,
    SessionDep,
    SettingsDep,
    WriteSessionDep,
    forbidden,
)
from opsconsole.server.errors import Problem
from opsconsole.server.tickets import service
from opsconsole.wire.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from opsconsole.wire.tickets import (
    USER_ID_MAX,
    MessageCreate,
    MessageKind,
    MessagePublic,
    TicketCreate,
    TicketDetail,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketUpdate,
)

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

# Ticket ids are 32-bit integers in the store; a larger id can only be a 404, not a 500.
TicketId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _filters(
    *,
    operator: CurrentOperator,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    priority: Annotated[list[TicketPriority] | None, Query()] = None,
    assignee: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description='A username, "me" for yourself, or "none" for unassigned tickets.',
        ),
    ] = None,
    breached: bool | None = None,
    user: Annotated[
        str | None, Query(min_length=1, max_length=USER_ID_MAX, description="The app's user id.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=200,
            description="Text in the subject or any message, ignoring case (taken literally).",
        ),
    ] = None,
) -> service.TicketFilter:
    return service.TicketFilter(
        status=tuple(s.value for s in status or ()),
        priority=tuple(p.value for p in priority or ()),
        assignee=operator.username if assignee == "me" else assignee,
        breached=breached,
        user_id=user,
        text=q.strip() or None if q else None,
    )


Filters = Annotated[service.TicketFilter, Depends(_filters)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_ticket(
    *,
    body: TicketCreate,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> TicketDetail:
    """Open a ticket for one of the app's users (app key, or an operator for the user)."""
    ticket = service.create_ticket(
        session=session,
        actor=actor,
        now=now,
        policy=settings.sla,
        user_id=body.user_id,
        subject=body.subject,
        body=body.body,
        priority=body.priority,
    )
    return service.ticket_detail(session=session, ticket_id=ticket.id, now=now)


@router.get("")
def list_tickets(
    session: SessionDep,
    filters: Filters,
    now: NowDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page[TicketPublic]:
    """The queue, soonest deadline first; filters combine (all must hold)."""
    items, next_cursor = service.list_tickets(
        session=session, filters=filters, cursor=cursor, limit=limit, now=now
    )
    return Page[TicketPublic](items=items, next_cursor=next_cursor)


@router.get("/{ticket_id}")
def get_ticket(ticket_id: TicketId, session: SessionDep, now: NowDep) -> TicketDetail:
    """One ticket with its whole thread (notes included) and SLA state."""
    return service.ticket_detail(session=session, ticket_id=ticket_id, now=now)


@router.patch("/{ticket_id}")
def update_ticket(
    *,
    ticket_id: TicketId,
    body: TicketUpdate,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> TicketPublic:
    """Change status, priority or assignee (an enabled operator's username, or null)."""
    ticket = service.update_ticket(
        session=session,
        actor=actor,
        now=now,
        policy=settings.sla,
        ticket_id=ticket_id,
        changes=body,
    )
    user_id = service.user_id_of(session=session, ticket=ticket)
    return service.ticket_public(ticket, user_id, now)


@router.post("/{ticket_id}/messages", status_code=status.HTTP_201_CREATED)
def add_message(
    *,
    ticket_id: TicketId,
    body: MessageCreate,
    principal: CurrentPrincipal,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> MessagePublic:
    """Operators post `reply` or `note`; the app's key posts the customer's messages."""
    if isinstance(principal, AppPrincipal):
        if body.kind not in (None, MessageKind.CUSTOMER.value):
            raise forbidden(
                "The app key posts the customer's messages only; send no kind (or "
                '"customer"). Replies and notes come from operators.'
            )
        kind = MessageKind.CUSTOMER
    else:
        if body.kind not in (MessageKind.REPLY.value, MessageKind.NOTE.value):
            raise Problem(
                422,
                "message-kind",
                "Message kind required",
                'Operators send kind "reply" (the customer sees it) or "note" (internal); '
                "customer messages come from the app.",
            )
        kind = MessageKind(body.kind)
    message = service.add_message(
        session=session, actor=actor, now=now, ticket_id=ticket_id, kind=kind, body=body.body
    )
    return service.message_public(message)
