"""Operators, their sessions, login throttling, step-up and TOTP, and the app's keys.

Plain functions over a SQLAlchemy session; the routes in `routes.py` only translate HTTP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor, record
from opsconsole.server.auth import credentials
from opsconsole.server.auth.models import AppKey, LoginFailure, Operator, OperatorSession
from opsconsole.server.errors import Problem, bad_request, conflict, not_found
from opsconsole.server.permissions import ROLE_PERMISSIONS
from opsconsole.server.settings import Settings
from opsconsole.wire.auth import OperatorPublic, SessionPublic
from opsconsole.wire.common import Role

log = logging.getLogger("opsconsole.auth")

# last_seen_at is written at most this often, so reads do not each cost a write.
TOUCH_INTERVAL = timedelta(seconds=60)


def unauthenticated(detail: str, kind: str = "unauthenticated") -> Problem:
    return Problem(
        401,
        kind,
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="opsconsole"'},
    )


def operator_public(operator: Operator) -> OperatorPublic:
    role = Role(operator.role)
    return OperatorPublic(
        username=operator.username,
        role=role,
        disabled=operator.disabled,
        totp_enrolled=operator.totp_secret is not None,
        created_at=operator.created_at,
        permissions=sorted(ROLE_PERMISSIONS[role]),
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


# --- operators -----------------------------------------------------------------------------


def get_operator(*, session: Session, username: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.username == username))
    if operator is None:
        raise not_found("operator", username)
    return operator


def create_operator(
    *, session: Session, username: str, role: Role, password: str, actor: Actor, now: datetime
) -> Operator:
    if session.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise conflict(f"An operator named {username!r} exists already; pick another name.")
    operator = Operator(
        username=username,
        password_hash=credentials.hash_password(password),
        role=role.value,
        disabled=False,
        totp_last_step=0,
        created_at=now,
    )
    session.add(operator)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="operators.create",
        target=f"operator:{username}",
        at=now,
        after={"role": role.value},
    )
    return operator


def list_operators(*, session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.username)))


def update_operator(
    *,
    session: Session,
    username: str,
    role: Role | None,
    disabled: bool | None,
    actor: Actor,
    now: datetime,
) -> Operator:
    """Change an operator's role or disable them; disabling ends all their sessions at once."""
    operator = get_operator(session=session, username=username)
    if actor.type == "operator" and actor.name == username and (role or disabled):
        # An admin who demotes or disables themselves could lock everyone out.
        raise Problem(
            409,
            "self-change",
            "Cannot change yourself",
            "You cannot change your own role or disable yourself; ask another admin.",
        )
    before = {"role": operator.role, "disabled": operator.disabled}
    if role is not None:
        operator.role = role.value
    if disabled is not None:
        operator.disabled = disabled
        if disabled:
            end_all_sessions(session=session, operator_id=operator.id, now=now)
        else:
            # Re-enabling also lifts a lockout from failed logins.
            session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    after = {"role": operator.role, "disabled": operator.disabled}
    record(
        session=session,
        actor=actor,
        action="operators.update",
        target=f"operator:{username}",
        at=now,
        before=before,
        after=after,
    )
    return operator


def end_all_sessions(*, session: Session, operator_id: int, now: datetime) -> int:
    result = session.execute(
        update(OperatorSession)
        .where(OperatorSession.operator_id == operator_id, OperatorSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- login and sessions --------------------------------------------------------------------


@dataclass
class LoginResult:
    """A successful login, or the problem to answer with once the failure is recorded."""

    token: str | None = None
    session: OperatorSession | None = None
    operator: Operator | None = None
    problem: Problem | None = None


def _failures_since(session: Session, since: datetime, **match: str) -> tuple[int, datetime | None]:
    query = select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.at >= since)
    for column, value in match.items():
        query = query.where(getattr(LoginFailure, column) == value)
    count, latest = session.execute(query).one()
    return int(count), latest


def _retry_problem(kind: str, title: str, detail: str, retry_after: timedelta) -> Problem:
    seconds = max(1, int(retry_after.total_seconds()) + 1)
    return Problem(429, kind, title, detail, headers={"Retry-After": str(seconds)})


def _throttle(
    session: Session, *, username: str, client_addr: str, settings: Settings, now: datetime
) -> Problem | None:
    window = timedelta(minutes=settings.lockout_window_minutes)
    by_addr, _ = _failures_since(session, now - window, client_addr=client_addr)
    if by_addr >= settings.address_failures:
        return _retry_problem(
            "login-throttled",
            "Too many failed logins",
            "Too many failed logins from your address; wait and try again.",
            window,
        )
    by_user, latest = _failures_since(session, now - window, username=username)
    if by_user >= settings.lockout_failures:
        assert latest is not None
        return Problem(
            423,
            "account-locked",
            "Account locked",
            f"Too many failed logins: {username!r} is locked until "
            f"{(latest + window):%H:%M} UTC. An admin can unlock it sooner by enabling the "
            "operator again.",
        )
    spacing = timedelta(seconds=settings.throttle_seconds)
    if by_user >= settings.throttle_after_failures and latest and now - latest < spacing:
        return _retry_problem(
            "login-throttled",
            "Too many failed logins",
            f"Several logins for {username!r} failed; wait {settings.throttle_seconds} s "
            "between attempts.",
            spacing - (now - latest),
        )
    return None


def _refuse_if_throttled(
    session: Session, *, operator: Operator, actor: Actor, settings: Settings, now: datetime
) -> None:
    """Re-authentication by a signed-in operator obeys the same limits as logging in."""
    problem = _throttle(
        session,
        username=operator.username,
        client_addr=actor.client_addr or "unknown",
        settings=settings,
        now=now,
    )
    if problem is not None:
        raise problem


def _count_failure(session: Session, *, operator: Operator, actor: Actor, now: datetime) -> None:
    session.add(
        LoginFailure(username=operator.username, client_addr=actor.client_addr or "unknown", at=now)
    )


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
    """Check credentials and open a session with a new token; failures are recorded."""
    throttled = _throttle(
        session, username=username, client_addr=client_addr, settings=settings, now=now
    )
    if throttled is not None:
        return LoginResult(problem=throttled)
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
            return LoginResult(
                problem=unauthenticated(
                    "This operator uses a second factor: send the 6-digit code as `totp`.",
                    "totp-required",
                )
            )
        step = credentials.totp_step(operator.totp_secret, totp, now)
        if step is None or step <= operator.totp_last_step:
            problem = unauthenticated(
                "The one-time code is wrong or was used already; wait for the next code.",
                "bad-totp",
            )
        else:
            operator.totp_last_step = step
    if problem is not None:
        session.add(LoginFailure(username=username, client_addr=client_addr, at=now))
        record(
            session=session,
            actor=actor,
            action="auth.login_failed",
            target=f"operator:{username}",
            at=now,
            after={"reason": problem.kind},
        )
        return LoginResult(problem=problem)
    assert operator is not None
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
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


def change_password(
    *,
    session: Session,
    operator: Operator,
    session_id: str,
    current: str,
    new: str,
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> int:
    """Replace the password; every other session of the operator ends. Returns how many.

    A wrong current password counts as a failed login (throttling, lockout), so a stolen
    token cannot be used to guess the password; the caller commits it before answering.
    """
    _refuse_if_throttled(session, operator=operator, actor=actor, settings=settings, now=now)
    if not credentials.verify_password(operator.password_hash, current):
        _count_failure(session, operator=operator, actor=actor, now=now)
        raise Problem(
            403, "wrong-password", "Wrong password", "The current password is wrong; try again."
        )
    if current == new:
        raise bad_request("The new password is the same as the current one; choose another.")
    operator.password_hash = credentials.hash_password(new)
    ended = session.execute(
        update(OperatorSession)
        .where(
            OperatorSession.operator_id == operator.id,
            OperatorSession.id != session_id,
            OperatorSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    count = int(getattr(ended, "rowcount", 0) or 0)
    record(
        session=session,
        actor=actor,
        action="auth.password_changed",
        target=f"operator:{operator.username}",
        at=now,
        after={"other_sessions_ended": count},
    )
    return count


# --- step-up and TOTP ----------------------------------------------------------------------


def step_up(
    *,
    session: Session,
    session_id: str,
    operator: Operator,
    password: str | None,
    totp: str | None,
    settings: Settings,
    actor: Actor,
    now: datetime,
) -> datetime:
    """Mark the session as recently re-authenticated; returns until when.

    Failures count as failed logins (throttling, lockout) and are audited; the caller
    commits them before answering.
    """
    _refuse_if_throttled(session, operator=operator, actor=actor, settings=settings, now=now)
    if password is not None:
        ok = credentials.verify_password(operator.password_hash, password)
    else:
        assert totp is not None
        if operator.totp_secret is None:
            raise Problem(
                400,
                "totp-not-enrolled",
                "No second factor",
                "This operator has no TOTP enrolled; step up with the password instead.",
            )
        step = credentials.totp_step(operator.totp_secret, totp, now)
        ok = step is not None and step > operator.totp_last_step
        if ok and step is not None:
            operator.totp_last_step = step
    if not ok:
        _count_failure(session, operator=operator, actor=actor, now=now)
        record(
            session=session,
            actor=actor,
            action="auth.step_up_failed",
            target=f"session:{session_id}",
            at=now,
        )
        raise Problem(
            403, "step-up-failed", "Step-up failed", "The password or code is wrong; try again."
        )
    until = now + timedelta(minutes=settings.step_up_minutes)
    session.execute(
        update(OperatorSession).where(OperatorSession.id == session_id).values(step_up_until=until)
    )
    record(
        session=session, actor=actor, action="auth.step_up", target=f"session:{session_id}", at=now
    )
    return until


def enrol_totp(
    *, session: Session, operator: Operator, code: str | None, actor: Actor, now: datetime
) -> tuple[bool, str | None]:
    """Start (no code) or confirm (code) TOTP enrolment. Returns (enrolled, new secret)."""
    if code is None:
        operator.totp_pending_secret = credentials.new_totp_secret()
        record(
            session=session,
            actor=actor,
            action="auth.totp_started",
            target=f"operator:{operator.username}",
            at=now,
        )
        return False, operator.totp_pending_secret
    if operator.totp_pending_secret is None:
        raise Problem(
            409,
            "totp-not-started",
            "No enrolment in progress",
            "Start enrolment first: POST /v1/auth/totp without a code returns the secret.",
        )
    step = credentials.totp_step(operator.totp_pending_secret, code, now)
    if step is None:
        raise Problem(
            400,
            "bad-totp",
            "Wrong code",
            "That code does not match the new secret; check the authenticator app's clock.",
        )
    operator.totp_secret = operator.totp_pending_secret
    operator.totp_pending_secret = None
    operator.totp_last_step = step
    record(
        session=session,
        actor=actor,
        action="auth.totp_enrolled",
        target=f"operator:{operator.username}",
        at=now,
    )
    return True, None


# --- app keys ------------------------------------------------------------------------------


def create_app_key(
    *, session: Session, name: str, actor: Actor, now: datetime
) -> tuple[AppKey, str]:
    if session.scalar(select(AppKey.id).where(AppKey.name == name)) is not None:
        raise conflict(f"An app key named {name!r} exists already; pick another name.")
    secret = credentials.new_secret(credentials.APP_KEY_PREFIX)
    key = AppKey(name=name, key_hash=credentials.digest(secret), prefix=secret[:10], created_at=now)
    session.add(key)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="app_keys.create",
        target=f"app_key:{name}",
        at=now,
        after={"prefix": key.prefix},
    )
    return key, secret


def list_app_keys(*, session: Session) -> list[AppKey]:
    return list(session.scalars(select(AppKey).order_by(AppKey.name)))


def revoke_app_key(*, session: Session, name: str, actor: Actor, now: datetime) -> AppKey:
    """Revoke a key for good (a leaked key is replaced by a new one, never revived)."""
    key = session.scalar(select(AppKey).where(AppKey.name == name))
    if key is None:
        raise not_found("app key", name)
    if key.revoked_at is None:
        key.revoked_at = now
        record(
            session=session,
            actor=actor,
            action="app_keys.revoke",
            target=f"app_key:{name}",
            at=now,
            before={"prefix": key.prefix},
        )
    return key


def authenticate_app_key(*, session: Session, secret: str) -> AppKey:
    key = session.scalar(select(AppKey).where(AppKey.key_hash == credentials.digest(secret)))
    if key is None or key.revoked_at is not None:
        raise unauthenticated("The app key is not valid or was revoked.", "invalid-app-key")
    return key
