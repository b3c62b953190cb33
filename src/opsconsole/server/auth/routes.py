"""HTTP routes for login, sessions, step-up, TOTP and operator management."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request, status
from sqlalchemy.orm import Session

from opsconsole.server.auth import credentials, service
from opsconsole.server.auth.models import Operator, OperatorSession
from opsconsole.server.auth.operators import RECORDED_PASSWORD_FAILURE
from opsconsole.server.auth.sessions import RECORDED_LOGIN_FAILURES
from opsconsole.server.auth.step_up import RECORDED_STEP_UP_FAILURE
from opsconsole.server.db import Database
from opsconsole.server.deps import (
    ActorDep,
    ClientAddr,
    CurrentOperator,
    DatabaseDep,
    NowDep,
    OperatorPrincipal,
    SessionDep,
    SettingsDep,
    WriteSessionDep,
)
from opsconsole.server.errors import Problem
from opsconsole.server.permissions import Permission
from opsconsole.wire.auth import (
    LoginRequest,
    LoginResponse,
    MeResponse,
    OperatorCreate,
    OperatorPublic,
    OperatorUpdate,
    PasswordChange,
    SessionPublic,
    StepUpRequest,
    StepUpResponse,
    TotpRequest,
    TotpResponse,
)

router = APIRouter(prefix="/v1/auth", tags=["auth"])
operators_router = APIRouter(prefix="/v1/operators", tags=["operators"])


@contextmanager
def _writing_kept_on(db: Database, *kinds: str) -> Iterator[Session]:
    """A write transaction that also commits when the service raises a problem of ``kinds``.

    Those are failures the service has recorded (a failed attempt that throttling counts, an
    audit entry); rolling them back with the answer would let a caller guess for free.
    """
    failure: Problem | None = None
    with db.writing() as session:
        try:
            yield session
        except Problem as problem:
            if problem.kind not in kinds:
                raise
            failure = problem
    if failure is not None:
        raise failure


def _signed_in(session: Session, operator: OperatorPrincipal) -> Operator:
    record = session.get(Operator, operator.operator_id)
    assert record is not None
    return record


@router.post("/login")
def login(
    *,
    body: LoginRequest,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    now: NowDep,
    addr: ClientAddr,
) -> LoginResponse:
    # The failure is committed before the error goes out: throttling must count it.
    with _writing_kept_on(db, *RECORDED_LOGIN_FAILURES) as session:
        result = service.login(
            session=session,
            username=body.username,
            password=body.password,
            totp=body.totp,
            client_addr=addr,
            user_agent=request.headers.get("user-agent"),
            settings=settings,
            now=now,
        )
        return LoginResponse(
            token=result.token,
            expires_at=result.session.expires_at,
            idle_timeout_s=settings.session_idle_minutes * 60,
            operator=service.operator_public(result.operator),
        )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    operator: CurrentOperator, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> None:
    service.logout(session=session, session_id=operator.session_id, actor=actor, now=now)


@router.get("/me")
def me(operator: CurrentOperator, session: SessionDep) -> MeResponse:
    row = session.get(OperatorSession, operator.session_id)
    assert row is not None
    record = _signed_in(session, operator)
    return MeResponse(
        operator=service.operator_public(record),
        session=service.session_public(row, record.username, operator.session_id),
        step_up_until=row.step_up_until,
    )


@router.post("/step-up")
def step_up(
    *,
    body: StepUpRequest,
    operator: CurrentOperator,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: ActorDep,
    now: NowDep,
) -> StepUpResponse:
    # Committed even when it fails, so the failed attempt stays in the audit log.
    with _writing_kept_on(db, RECORDED_STEP_UP_FAILURE) as session:
        until = service.step_up(
            session=session,
            session_id=operator.session_id,
            operator=_signed_in(session, operator),
            password=body.password,
            totp=body.totp,
            settings=settings,
            actor=actor,
            now=now,
        )
    return StepUpResponse(step_up_until=until)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(
    *,
    body: PasswordChange,
    operator: CurrentOperator,
    db: DatabaseDep,
    settings: SettingsDep,
    actor: ActorDep,
    now: NowDep,
) -> None:
    """Replace your password (at least 12 characters); your other sessions end."""
    # Committed even when the current password is wrong: throttling must count the attempt.
    with _writing_kept_on(db, RECORDED_PASSWORD_FAILURE) as session:
        service.change_password(
            session=session,
            operator=_signed_in(session, operator),
            session_id=operator.session_id,
            current=body.current_password,
            new=body.new_password,
            actor=actor,
            settings=settings,
            now=now,
        )


@router.post("/totp")
def totp(
    body: TotpRequest,
    operator: CurrentOperator,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> TotpResponse:
    record = _signed_in(session, operator)
    # Replacing a second factor is as sensitive as the factor itself.
    stepped_up = operator.step_up_until is not None and operator.step_up_until > now
    if record.totp_secret is not None and body.code is None and not stepped_up:
        raise Problem(
            403,
            "step-up-required",
            "Step-up required",
            "TOTP is enrolled already; step up first to replace it.",
        )
    enrolled, secret = service.enrol_totp(
        session=session, operator=record, code=body.code, actor=actor, now=now
    )
    if secret is None:
        return TotpResponse(enrolled=enrolled)
    return TotpResponse(
        enrolled=enrolled,
        secret=secret,
        provisioning_uri=credentials.provisioning_uri(secret, record.username),
    )


@router.get("/sessions")
def sessions(
    operator: CurrentOperator, session: SessionDep, settings: SettingsDep, now: NowDep
) -> list[SessionPublic]:
    """Your live sessions; admins (sessions:manage) see everyone's."""
    scope = None if operator.can(Permission.SESSIONS_MANAGE) else operator.operator_id
    rows = service.list_sessions(session=session, operator_id=scope, now=now, settings=settings)
    return [service.session_public(row, name, operator.session_id) for row, name in rows]


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_session(
    session_id: str,
    operator: CurrentOperator,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> None:
    scope = None if operator.can(Permission.SESSIONS_MANAGE) else operator.operator_id
    service.end_session(
        session=session, session_id=session_id, operator_id=scope, actor=actor, now=now
    )


@operators_router.get("")
def list_operators(session: SessionDep) -> list[OperatorPublic]:
    return [service.operator_public(o) for o in service.list_operators(session=session)]


@operators_router.post("", status_code=status.HTTP_201_CREATED)
def create_operator(
    body: OperatorCreate, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> OperatorPublic:
    operator = service.create_operator(
        session=session,
        username=body.username,
        role=body.role,
        password=body.password,
        actor=actor,
        now=now,
    )
    return service.operator_public(operator)


@operators_router.patch("/{username}")
def update_operator(
    username: str, body: OperatorUpdate, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> OperatorPublic:
    operator = service.update_operator(
        session=session,
        username=username,
        role=body.role,
        disabled=body.disabled,
        actor=actor,
        now=now,
    )
    return service.operator_public(operator)
