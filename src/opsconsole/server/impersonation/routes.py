"""HTTP routes for impersonation: operators start, list and end them; the app introspects.

Who may call what is in server/permissions.py; these handlers add the checks that depend on
the body (full mode needs impersonate:full and a recent step-up) and on ownership (only the
operator who started one, or an admin, ends it; others see only their own).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from opsconsole.server.deps import (
    ActorDep,
    ClientAddr,
    CurrentApp,
    CurrentOperator,
    NowDep,
    SessionDep,
    WriteSessionDep,
    forbidden,
)
from opsconsole.server.errors import Problem
from opsconsole.server.impersonation import service
from opsconsole.server.permissions import Permission
from opsconsole.wire.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from opsconsole.wire.impersonation import (
    ImpersonationCreate,
    ImpersonationMode,
    ImpersonationPublic,
    ImpersonationStarted,
    IntrospectRequest,
    IntrospectResponse,
)
from opsconsole.wire.users import USER_ID_PATTERN

router = APIRouter(prefix="/v1/impersonations", tags=["impersonation"])

ImpersonationId = Annotated[str, Path(min_length=1, max_length=32)]


@router.post("", status_code=status.HTTP_201_CREATED)
def start(
    *,
    body: ImpersonationCreate,
    session: WriteSessionDep,
    operator: CurrentOperator,
    actor: ActorDep,
    now: NowDep,
) -> ImpersonationStarted:
    """Start impersonating an end user; the token is in this answer only."""
    if body.mode is ImpersonationMode.FULL:
        if not operator.can(Permission.IMPERSONATE_FULL):
            raise forbidden(
                f"Your role ({operator.role}) may impersonate read-only but not in full mode "
                f"({Permission.IMPERSONATE_FULL}); use mode read_only or ask support or an admin."
            )
        if not (operator.step_up_until and operator.step_up_until > now):
            raise Problem(
                403,
                "step-up-required",
                "Step-up required",
                "Full impersonation needs a recent re-authentication: POST /v1/auth/step-up "
                "with your password or TOTP code, then retry.",
            )
    impersonation, token = service.start(
        session=session,
        operator_id=operator.operator_id,
        operator=operator.username,
        user_id=body.user_id,
        reason=body.reason,
        ticket_id=body.ticket_id,
        minutes=body.minutes,
        mode=body.mode,
        actor=actor,
        now=now,
    )
    return ImpersonationStarted(
        id=impersonation.id,
        token=token,
        expires_at=impersonation.expires_at,
        user_id=impersonation.user_id,
        mode=impersonation.mode,
    )


@router.post("/introspect", response_model_exclude_none=True)
def introspect(
    *,
    body: IntrospectRequest,
    session: WriteSessionDep,
    app: CurrentApp,
    addr: ClientAddr,
    now: NowDep,
) -> IntrospectResponse:
    """For the app's backend (app key): is this token active, for whom, by whom, until when.

    Every active answer is one use, audited with the operator and the user. An unknown,
    ended or expired token answers only `{"active": false}` (RFC 7662).
    """
    return service.introspect(
        session=session, token=body.token, app=app.name, client_addr=addr, now=now
    )


@router.get("")
def list_impersonations(
    *,
    session: SessionDep,
    operator: CurrentOperator,
    now: NowDep,
    active: bool | None = None,
    user_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page[ImpersonationPublic]:
    """Newest first. Admins see everyone's; other operators their own.

    `active=true`: not ended and not expired. The app's introspection also checks that the
    user and the operator are still active.
    """
    items, next_cursor = service.list_impersonations(
        session=session,
        active=active,
        operator_id=None if operator.can(Permission.SESSIONS_MANAGE) else operator.operator_id,
        user_id=user_id,
        cursor=cursor,
        limit=limit,
        now=now,
    )
    return Page[ImpersonationPublic](items=items, next_cursor=next_cursor)


@router.delete("/{impersonation_id}")
def end(
    *,
    impersonation_id: ImpersonationId,
    session: WriteSessionDep,
    operator: CurrentOperator,
    actor: ActorDep,
    now: NowDep,
) -> ImpersonationPublic:
    """End an impersonation now (yours; an admin may end anyone's). Its token dies at once."""
    return service.end(
        session=session,
        impersonation_id=impersonation_id,
        operator_id=None if operator.can(Permission.SESSIONS_MANAGE) else operator.operator_id,
        actor=actor,
        now=now,
    )
