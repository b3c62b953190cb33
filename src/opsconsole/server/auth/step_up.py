"""Step-up (a signed-in operator re-authenticates for sensitive actions) and TOTP enrolment."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor, record
from opsconsole.server.auth import credentials, lockout
from opsconsole.server.auth.models import Operator, OperatorSession
from opsconsole.server.errors import Problem
from opsconsole.server.settings import Settings

# Problem kind of a step-up that failed and was recorded: the caller commits before answering.
RECORDED_STEP_UP_FAILURE = "step-up-failed"


def accept_totp_code(operator: Operator, code: str, now: datetime) -> bool:
    """Whether ``code`` is a current code of the operator's enrolled TOTP.

    An accepted code's time step is remembered, so each code works once.
    """
    assert operator.totp_secret is not None
    step = credentials.totp_step(operator.totp_secret, code, now)
    if step is None or step <= operator.totp_last_step:
        return False
    operator.totp_last_step = step
    return True


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
    lockout.refuse_reauthentication_if_throttled(
        session=session, operator=operator, actor=actor, settings=settings, now=now
    )
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
        ok = accept_totp_code(operator, totp, now)
    if not ok:
        lockout.count_reauthentication_failure(
            session=session, operator=operator, actor=actor, now=now
        )
        record(
            session=session,
            actor=actor,
            action="auth.step_up_failed",
            target=f"session:{session_id}",
            at=now,
        )
        raise Problem(
            403,
            RECORDED_STEP_UP_FAILURE,
            "Step-up failed",
            "The password or code is wrong; try again.",
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
    # No replay check here: the pending secret has never accepted a code.
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
