"""Operators (the people who use the console): creating, listing, changing, their passwords."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor, record
from opsconsole.server.auth import credentials, lockout
from opsconsole.server.auth.models import Operator
from opsconsole.server.auth.sessions import end_all_sessions
from opsconsole.server.errors import Problem, bad_request, conflict, not_found
from opsconsole.server.permissions import ROLE_PERMISSIONS
from opsconsole.server.settings import Settings
from opsconsole.wire.auth import OperatorPublic
from opsconsole.wire.common import Role

# Problem kind of a wrong current password, which is recorded: the caller commits first.
RECORDED_PASSWORD_FAILURE = "wrong-password"  # noqa: S105 - a problem kind, not a password


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
            lockout.forget_failures(session=session, username=username)
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
    lockout.refuse_reauthentication_if_throttled(
        session=session, operator=operator, actor=actor, settings=settings, now=now
    )
    if not credentials.verify_password(operator.password_hash, current):
        lockout.count_reauthentication_failure(
            session=session, operator=operator, actor=actor, now=now
        )
        raise Problem(
            403,
            RECORDED_PASSWORD_FAILURE,
            "Wrong password",
            "The current password is wrong; try again.",
        )
    if current == new:
        raise bad_request("The new password is the same as the current one; choose another.")
    operator.password_hash = credentials.hash_password(new)
    count = end_all_sessions(session=session, operator_id=operator.id, now=now, keep=session_id)
    record(
        session=session,
        actor=actor,
        action="auth.password_changed",
        target=f"operator:{operator.username}",
        at=now,
        after={"other_sessions_ended": count},
    )
    return count
