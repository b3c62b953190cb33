"""Failed logins: counted per username and per address, they throttle and then lock out.

Re-authentication by a signed-in operator (step-up, password change) obeys the same limits
as logging in, so a stolen token cannot be used to guess the password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor
from opsconsole.server.auth.models import LoginFailure, Operator
from opsconsole.server.errors import Problem
from opsconsole.server.settings import Settings


def login_refusal(
    *, session: Session, username: str, client_addr: str, settings: Settings, now: datetime
) -> Problem | None:
    """Why a login attempt is refused before its credentials are even checked, or None."""
    window = timedelta(minutes=settings.lockout_window_minutes)
    by_addr, _ = _failures_since(session, now - window, client_addr=client_addr)
    if by_addr >= settings.address_failures:
        return _retry_problem(
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
            f"Several logins for {username!r} failed; wait {settings.throttle_seconds} s "
            "between attempts.",
            spacing - (now - latest),
        )
    return None


def count_failure(*, session: Session, username: str, client_addr: str, now: datetime) -> None:
    session.add(LoginFailure(username=username, client_addr=client_addr, at=now))


def forget_failures(*, session: Session, username: str) -> None:
    """Clear the count: after a successful login, or to lift a lockout early."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))


def refuse_reauthentication_if_throttled(
    *, session: Session, operator: Operator, actor: Actor, settings: Settings, now: datetime
) -> None:
    problem = login_refusal(
        session=session,
        username=operator.username,
        client_addr=_address(actor),
        settings=settings,
        now=now,
    )
    if problem is not None:
        raise problem


def count_reauthentication_failure(
    *, session: Session, operator: Operator, actor: Actor, now: datetime
) -> None:
    count_failure(session=session, username=operator.username, client_addr=_address(actor), now=now)


def _address(actor: Actor) -> str:
    return actor.client_addr or "unknown"


def _failures_since(session: Session, since: datetime, **match: str) -> tuple[int, datetime | None]:
    query = select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.at >= since)
    for column, value in match.items():
        query = query.where(getattr(LoginFailure, column) == value)
    count, latest = session.execute(query).one()
    return int(count), latest


def _retry_problem(detail: str, retry_after: timedelta) -> Problem:
    seconds = max(1, int(retry_after.total_seconds()) + 1)
    return Problem(
        429,
        "login-throttled",
        "Too many failed logins",
        detail,
        headers={"Retry-After": str(seconds)},
    )
