"""Operators' sessions: logging in for a bearer token, checking it, listing and ending sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor, record
from opsconsole.server.auth import credentials, lockout
from opsconsole.server.auth.models import Operator, OperatorSession
from opsconsole.server.auth.step_up import accept_totp_code
from opsconsole.server.errors import Problem, not_found
from opsconsole.server.settings import Settings
from opsconsole.wire.auth import SessionPublic

# last_seen_at is written at most this often, so reads do not each cost a write.
TOUCH_INTERVAL = timedelta(seconds=60)

# Problem kinds of a login that failed and was recorded: the caller commits before answering.
RECORDED_LOGIN_FAILURES = ("bad-credentials", "bad-totp")


def unauthenticated(detail: str, kind: str = "unauthenticated") -> Problem:
    return Problem(
        401,
        kind,
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="opsconsole"'},
    )


def session_public(row: OperatorSession, username: str, current_id: str | None) -> SessionPublic:
    return SessionPublic(
        id=row.id,
        username=username,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        client_addr=row.client_addr,
        user_agent=row.user_agent,
        current=row.id == current_id,
    )


@dataclass(frozen=True)
class LoginResult:
    """A successful login: the new token (shown this once), its session and the operator."""

    token: str
    session: OperatorSession
    operator: Operator


def login(
    *,
    session: Session,
    username: str,
    password: str,
    totp: str | None,
    client_addr: str,
    user_agent: str | None,
    settings: Settings,
    now: datetime,
) -> LoginResult:
    """Check credentials and open a session with a new token.

    Raises the problem to answer with; a failure of kind `RECORDED_LOGIN_FAILURES` is counted
    and audited first, and the caller commits it before answering.
    """
    throttled = lockout.login_refusal(
        session=session, username=username, client_addr=client_addr, settings=settings, now=now
    )
    if throttled is not None:
        raise throttled
    operator = session.scalar(select(Operator).where(Operator.username == username))
    actor = Actor("operator", username, client_addr=client_addr)
    password_ok = credentials.verify_password(
        operator.password_hash if operator else None, password
    )
    problem: Problem | None = None
    if not password_ok or operator is None or operator.disabled:
        # One answer for an unknown name, a wrong password and a disabled operator.
        problem = unauthenticated("Wrong username or password.", "bad-credentials")
    elif operator.totp_secret is not None:
        if totp is None:
            # Not a failure: the console asks for the code and sends the login again.
            raise unauthenticated(
                "This operator uses a second factor: send the 6-digit code as `totp`.",
                "totp-required",
            )
        if not accept_totp_code(operator, totp, now):
            problem = unauthenticated(
                "The one-time code is wrong or was used already; wait for the next code.",
                "bad-totp",
            )
    if problem is not None:
        lockout.count_failure(session=session, username=username, client_addr=client_addr, now=now)
        record(
            session=session,
            actor=actor,
            action="auth.login_failed",
            target=f"operator:{username}",
            at=now,
            after={"reason": problem.kind},
        )
        raise problem
    assert operator is not None
    lockout.forget_failures(session=session, username=username)
    token = credentials.new_secret(credentials.OPERATOR_TOKEN_PREFIX)
    row = OperatorSession(
        id=credentials.new_public_id(),
        token_hash=credentials.digest(token),
        operator_id=operator.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_lifetime_hours),
        client_addr=client_addr,
        user_agent=(user_agent or "")[:256] or None,
    )
    session.add(row)
    record(
        session=session,
        actor=actor,
        action="auth.login",
        target=f"operator:{username}",
        at=now,
        after={"session": row.id},
    )
    return LoginResult(token=token, session=row, operator=operator)


def authenticate(
    *, session: Session, token: str, settings: Settings, now: datetime
) -> tuple[OperatorSession, Operator]:
    """The live session and operator a bearer token belongs to, or a 401 saying why not."""
    found = session.execute(
        select(OperatorSession, Operator)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(OperatorSession.token_hash == credentials.digest(token))
    ).first()
    if found is None:
        raise unauthenticated("The token is not valid; log in again.", "invalid-token")
    row, operator = found
    if row.revoked_at is not None:
        raise unauthenticated("This session was ended; log in again.", "session-revoked")
    if operator.disabled:
        raise unauthenticated("This operator is disabled; ask an admin.", "operator-disabled")
    if now >= row.expires_at:
        raise unauthenticated(
            "The session reached its maximum age; log in again.", "session-expired"
        )
    if now - row.last_seen_at >= timedelta(minutes=settings.session_idle_minutes):
        raise unauthenticated(
            f"The session was idle for more than {settings.session_idle_minutes} minutes; "
            "log in again.",
            "session-expired",
        )
    return row, operator


def touch(*, session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(OperatorSession)
        .where(
            OperatorSession.id == session_id, OperatorSession.last_seen_at < now - TOUCH_INTERVAL
        )
        .values(last_seen_at=now)
    )


def logout(*, session: Session, session_id: str, actor: Actor, now: datetime) -> None:
    session.execute(
        update(OperatorSession).where(OperatorSession.id == session_id).values(revoked_at=now)
    )
    record(
        session=session, actor=actor, action="auth.logout", target=f"session:{session_id}", at=now
    )


def list_sessions(
    *, session: Session, operator_id: int | None, now: datetime, settings: Settings
) -> list[tuple[OperatorSession, str]]:
    """Live sessions, newest first; all operators' when ``operator_id`` is None."""
    idle_cutoff = now - timedelta(minutes=settings.session_idle_minutes)
    query = (
        select(OperatorSession, Operator.username)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(
            OperatorSession.revoked_at.is_(None),
            OperatorSession.expires_at > now,
            OperatorSession.last_seen_at > idle_cutoff,
        )
        .order_by(OperatorSession.created_at.desc())
        .limit(1000)
    )
    if operator_id is not None:
        query = query.where(OperatorSession.operator_id == operator_id)
    return [(row, username) for row, username in session.execute(query)]


def end_session(
    *,
    session: Session,
    session_id: str,
    operator_id: int | None,
    actor: Actor,
    now: datetime,
) -> None:
    """End one session; limited to ``operator_id``'s own unless it is None (admins)."""
    row = session.get(OperatorSession, session_id)
    if row is None or (operator_id is not None and row.operator_id != operator_id):
        raise not_found("session", session_id)
    if row.revoked_at is None:
        row.revoked_at = now
    record(
        session=session,
        actor=actor,
        action="auth.end_session",
        target=f"session:{session_id}",
        at=now,
    )


def end_all_sessions(
    *, session: Session, operator_id: int, now: datetime, keep: str | None = None
) -> int:
    """End the operator's live sessions, except the one with id ``keep``; returns how many."""
    query = update(OperatorSession).where(
        OperatorSession.operator_id == operator_id, OperatorSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(OperatorSession.id != keep)
    result = session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)
