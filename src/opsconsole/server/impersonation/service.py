"""Starting, introspecting, ending and listing impersonations.

An impersonation names one end user (never an operator: it points into the users table, and
its token is refused by the whole operator API, see `deps.authorize`) and the operator who
acts as them. Starting, every use (an introspection that answers "active") and ending each
write an audit row naming both, in the same transaction as the change.

A token is active while it is not ended, ``now < expires_at`` (so it is inactive from its
expiry's very second, by the app's injected clock), the user is still active, and the
operator is still enabled with a role that may impersonate in that mode.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor, record
from opsconsole.server.auth import credentials
from opsconsole.server.auth.models import Operator
from opsconsole.server.errors import Problem, not_found
from opsconsole.server.impersonation import tokens
from opsconsole.server.impersonation.models import Impersonation
from opsconsole.server.pagination import (
    decode_time_cursor,
    encode_cursor,
)
from opsconsole.server.permissions import Permission, role_allows
from opsconsole.server.tickets.models import Ticket
from opsconsole.server.users.models import User
from opsconsole.wire.common import Role
from opsconsole.wire.impersonation import (
    ActClaim,
    ImpersonationMode,
    ImpersonationPublic,
    IntrospectResponse,
)

INACTIVE = IntrospectResponse(active=False)


def permission_for(mode: ImpersonationMode) -> Permission:
    return Permission.IMPERSONATE_FULL if mode is ImpersonationMode.FULL else Permission.IMPERSONATE


def _target(user_id: str) -> str:
    # The same target as the user's other audit rows, so a user's history shows these too.
    return f"user:{user_id}"


def _public(row: Impersonation, user_id: str, operator: str, now: datetime) -> ImpersonationPublic:
    return ImpersonationPublic(
        id=row.id,
        user_id=user_id,
        operator=operator,
        mode=ImpersonationMode(row.mode),
        reason=row.reason,
        ticket_id=row.ticket_id,
        started_at=row.started_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        active=row.ended_at is None and now < row.expires_at,
        uses=row.uses,
        last_used_at=row.last_used_at,
    )


def _summary(row: Impersonation, operator: str) -> dict[str, Any]:
    return {
        "impersonation": row.id,
        "operator": operator,
        "mode": row.mode,
        "ticket_id": row.ticket_id,
        "expires_at": row.expires_at.isoformat(),
    }


def _find_user(session: Session, user_id: str) -> User:
    user = session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise Problem(
            404,
            "unknown-user",
            "Unknown user",
            f"No end user with id {user_id!r} is registered; check the id (operators cannot be "
            "impersonated, only the app's end users).",
        )
    if user.status != "active":
        raise Problem(
            409,
            "user-not-active",
            "User is not active",
            f"User {user_id!r} is {user.status}; only active users can be impersonated. "
            "Activate the user first if the case needs it.",
        )
    return user


def _check_ticket(session: Session, ticket_id: int, user: User) -> None:
    ticket_user = session.scalar(select(Ticket.user_pk).where(Ticket.id == ticket_id))
    if ticket_user is None:
        raise Problem(
            422, "unknown-ticket", "Unknown ticket", f"No ticket {ticket_id} exists; check the id."
        )
    if ticket_user != user.pk:
        raise Problem(
            422,
            "ticket-of-another-user",
            "Ticket of another user",
            f"Ticket {ticket_id} belongs to another user, not {user.id!r}; name that user's "
            "ticket or none.",
        )


def start(
    *,
    session: Session,
    operator_id: int,
    operator: str,
    user_id: str,
    reason: str,
    ticket_id: int | None,
    minutes: int,
    mode: ImpersonationMode,
    actor: Actor,
    now: datetime,
) -> tuple[ImpersonationPublic, str]:
    """Start an impersonation; returns it and its token (shown once, stored hashed).

    The caller has checked the operator's permission for ``mode`` (and the step-up for full).
    """
    user = _find_user(session, user_id)
    if ticket_id is not None:
        _check_ticket(session, ticket_id, user)
    token = tokens.new_token()
    row = Impersonation(
        id=credentials.new_public_id(),
        token_hash=tokens.digest(token),
        user_pk=user.pk,
        operator_id=operator_id,
        mode=mode.value,
        reason=reason,
        ticket_id=ticket_id,
        started_at=now,
        expires_at=now + timedelta(minutes=minutes),
        uses=0,
    )
    session.add(row)
    session.flush()
    record(
        session=session,
        actor=_with_user(actor, user.id),
        action="impersonation.start",
        target=_target(user.id),
        at=now,
        after={**_summary(row, operator), "minutes": minutes, "reason": reason},
    )
    return _public(row, user.id, operator, now), token


def _with_user(actor: Actor, user_id: str) -> Actor:
    return Actor(actor.type, actor.name, client_addr=actor.client_addr, impersonated_user=user_id)


def introspect(
    *, session: Session, token: str, app: str, client_addr: str | None, now: datetime
) -> IntrospectResponse:
    """What a token means now; an active answer counts (and is audited) as one use."""
    if not tokens.is_impersonation_token(token):
        return INACTIVE
    found = session.execute(
        select(Impersonation, User, Operator)
        .join(User, User.pk == Impersonation.user_pk)
        .join(Operator, Operator.id == Impersonation.operator_id)
        .where(Impersonation.token_hash == tokens.digest(token))
    ).first()
    if found is None:
        return INACTIVE
    row, user, operator = found
    mode = ImpersonationMode(row.mode)
    active = (
        row.ended_at is None
        and now < row.expires_at
        and user.status == "active"
        and not operator.disabled
        # A role changed since the start takes effect at once.
        and role_allows(Role(operator.role), permission_for(mode))
    )
    if not active:
        return INACTIVE
    row.uses += 1
    row.last_used_at = now
    record(
        session=session,
        # The operator acts, as the user, through the app: the audit row names all three.
        actor=Actor("operator", operator.username, client_addr, impersonated_user=user.id),
        action="impersonation.use",
        target=_target(user.id),
        at=now,
        after={**_summary(row, operator.username), "app": app, "use": row.uses},
    )
    return IntrospectResponse(
        active=True,
        sub=user.id,
        act=ActClaim(sub=operator.username),
        mode=mode,
        scope=f"impersonation:{mode.value}",
        token_type="impersonation",  # noqa: S106 - a kind, not a secret
        exp=int(row.expires_at.timestamp()),
        iat=int(row.started_at.timestamp()),
        expires_at=row.expires_at,
        jti=row.id,
        ticket_id=row.ticket_id,
    )


def end(
    *,
    session: Session,
    impersonation_id: str,
    operator_id: int | None,
    actor: Actor,
    now: datetime,
) -> ImpersonationPublic:
    """End an impersonation now; limited to ``operator_id``'s own unless it is None (admins).

    Ending one that has ended or expired already changes nothing and writes no row.
    """
    found = session.execute(
        select(Impersonation, User.id, Operator.username)
        .join(User, User.pk == Impersonation.user_pk)
        .join(Operator, Operator.id == Impersonation.operator_id)
        .where(Impersonation.id == impersonation_id)
    ).first()
    if found is None or (operator_id is not None and found[0].operator_id != operator_id):
        raise not_found("impersonation", impersonation_id)
    row, user_id, operator = found
    if row.ended_at is None and now < row.expires_at:
        row.ended_at = now
        row.ended_by = actor.name
        record(
            session=session,
            actor=_with_user(actor, user_id),
            action="impersonation.end",
            target=_target(user_id),
            at=now,
            after={**_summary(row, operator), "uses": row.uses},
        )
    return _public(row, user_id, operator, now)


def _active_clause(now: datetime) -> Any:
    return and_(Impersonation.ended_at.is_(None), Impersonation.expires_at > now)


def list_impersonations(
    *,
    session: Session,
    active: bool | None,
    operator_id: int | None,
    user_id: str | None,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> tuple[list[ImpersonationPublic], str | None]:
    """Newest first, one page; ``operator_id`` narrows to one operator's."""
    query: Select[Impersonation, str, str] = (
        select(Impersonation, User.id, Operator.username)
        .join(User, User.pk == Impersonation.user_pk)
        .join(Operator, Operator.id == Impersonation.operator_id)
    )
    if active is not None:
        query = query.where(_active_clause(now) if active else ~_active_clause(now))
    if operator_id is not None:
        query = query.where(Impersonation.operator_id == operator_id)
    if user_id is not None:
        query = query.where(User.id == user_id)
    position = decode_time_cursor(cursor, "at", str)
    if position is not None:
        at, last_id = position
        query = query.where(
            or_(
                Impersonation.started_at < at,
                and_(Impersonation.started_at == at, Impersonation.id < last_id),
            )
        )
    rows = session.execute(
        query.order_by(Impersonation.started_at.desc(), Impersonation.id.desc()).limit(limit + 1)
    ).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(at=last.started_at.isoformat(), id=last.id)
    return [_public(row, uid, name, now) for row, uid, name in rows[:limit]], next_cursor
