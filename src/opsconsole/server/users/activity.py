"""One end user's activity for the console's user details: use against limits, last requests.

The use figures come from the gate's own counters (`app.state.gate`), the numbers it decides
on, so they agree with what the next admission will say; today's spend, errors and denials
are read from the recorded decisions and usage reports. The user's tickets are
`GET /v1/tickets?user=<id>`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from opsconsole.server.deps import NowDep, SessionDep
from opsconsole.server.gate import windows
from opsconsole.server.gate.models import DecisionRow, UsageEvent
from opsconsole.server.gate.service import GateRuntime, user_entry
from opsconsole.server.pagination import (
    decode_time_cursor,
    encode_cursor,
)
from opsconsole.server.users.service import get_user
from opsconsole.wire.activity import (
    RequestReport,
    UsageLimits,
    UsageRemaining,
    UserRequest,
    UserUsage,
)
from opsconsole.wire.common import MAX_PAGE_SIZE, Page
from opsconsole.wire.gate import REASON_TEXT, DenyReason, UsageStatus
from opsconsole.wire.users import USER_ID_PATTERN

router = APIRouter(prefix="/v1/users", tags=["users"])

UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="The app's id of the user.")]

_OVERRIDES = (
    ("daily_requests", "quota_daily_requests"),
    ("weekly_budget", "budget_weekly"),
    ("monthly_budget", "budget_monthly"),
    ("rate_per_minute", "rate_per_minute"),
)


def _next_month(now: datetime) -> datetime:
    start = windows.month_start(now)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def user_usage(*, session: Session, gate: GateRuntime, user_id: str, now: datetime) -> UserUsage:
    """Today's requests and this week's and month's spend against the limits in force."""
    user = get_user(session=session, user_id=user_id)
    requests_today, spent_week, spent_month = gate.gate.counters.user_usage(user.id, now)
    day = windows.day_start(now)
    spent_today, errors_today = session.execute(
        select(
            func.coalesce(func.sum(UsageEvent.cost), 0.0),
            func.count().filter(UsageEvent.status != UsageStatus.OK.value),
        ).where(UsageEvent.user_pk == user.pk, UsageEvent.at >= day)
    ).one()
    denied_today = session.scalar(
        select(func.count()).where(
            DecisionRow.user_pk == user.pk, DecisionRow.at >= day, DecisionRow.allow.is_(False)
        )
    )
    limits = remaining = None
    tier = gate.gate.tiers.get(user.tier)
    if tier is not None:
        in_force = gate.gate.limits_for(user_entry(user), tier, now)
        bonus_live = bool(
            user.budget_bonus and user.budget_bonus_until and now < user.budget_bonus_until
        )
        limits = UsageLimits(
            daily_requests=in_force.daily_requests,
            weekly_budget=in_force.weekly_budget,
            monthly_budget=in_force.monthly_budget,
            rate_per_minute=in_force.user_rpm,
            budget_bonus=user.budget_bonus if bonus_live else None,
            budget_bonus_until=user.budget_bonus_until if bonus_live else None,
            overridden=[name for name, column in _OVERRIDES if getattr(user, column) is not None],
        )
        remaining = UsageRemaining(
            requests_today=None
            if in_force.daily_requests is None
            else max(0, in_force.daily_requests - requests_today),
            budget_week=round(max(0.0, in_force.weekly_budget - spent_week), 6),
            budget_month=round(max(0.0, in_force.monthly_budget - spent_month), 6),
        )
    return UserUsage(
        user_id=user.id,
        tier=user.tier,
        status=user.status,
        at=now,
        requests_today=requests_today,
        spent_today=round(float(spent_today), 6),
        spent_week=round(spent_week, 6),
        spent_month=round(spent_month, 6),
        errors_today=int(errors_today),
        denied_today=int(denied_today or 0),
        limits=limits,
        remaining=remaining,
        day_resets_at=day + timedelta(days=1),
        week_resets_at=windows.week_start(now) + timedelta(days=7),
        month_resets_at=_next_month(now),
    )


def _request(decision: DecisionRow, usage: UsageEvent | None) -> UserRequest:
    reason = DenyReason(decision.reason)
    report = None
    if usage is not None:
        report = RequestReport(
            at=usage.at,
            latency_ms=usage.latency_ms,
            status=UsageStatus(usage.status),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost=usage.cost,
        )
    return UserRequest(
        decision_id=decision.decision_id,
        at=decision.at,
        feature=decision.feature,
        tier=decision.tier,
        allow=decision.allow,
        reason=reason,
        reason_text=REASON_TEXT[reason],
        provider=decision.provider,
        model=decision.model,
        policy=decision.policy,
        report=report,
    )


def last_requests(
    *,
    session: Session,
    user_id: str,
    allow: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[UserRequest], str | None]:
    """The user's decisions, newest first, each with its usage report when one came."""
    user = get_user(session=session, user_id=user_id)
    query: Select[DecisionRow, UsageEvent] = (
        select(DecisionRow, UsageEvent)
        .outerjoin(UsageEvent, UsageEvent.decision_id == DecisionRow.decision_id)
        .where(DecisionRow.user_pk == user.pk)
    )
    if allow is not None:
        query = query.where(DecisionRow.allow.is_(allow))
    position = decode_time_cursor(cursor, "at", int)
    if position is not None:
        at, last_id = position
        query = query.where(
            or_(DecisionRow.at < at, and_(DecisionRow.at == at, DecisionRow.id < last_id))
        )
    rows = session.execute(
        query.order_by(DecisionRow.at.desc(), DecisionRow.id.desc()).limit(limit + 1)
    ).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(at=last.at.isoformat(), id=last.id)
    return [_request(decision, usage) for decision, usage in rows[:limit]], next_cursor


# --- routes --------------------------------------------------------------------------------


@router.get("/{user_id}/usage")
def get_usage(user_id: UserId, request: Request, session: SessionDep, now: NowDep) -> UserUsage:
    """Requests today, spend today, this week and this month, against the limits in force."""
    gate: GateRuntime = request.app.state.gate
    return user_usage(session=session, gate=gate, user_id=user_id, now=now)


@router.get("/{user_id}/requests")
def get_requests(
    *,
    user_id: UserId,
    session: SessionDep,
    allow: Annotated[
        bool | None, Query(description="true: admitted only; false: refused only.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> Page[UserRequest]:
    """The user's last requests, newest first: provider, model, the gate's reason, and once
    reported the latency, status, tokens and cost. Dry runs are not recorded."""
    items, next_cursor = last_requests(
        session=session, user_id=user_id, allow=allow, cursor=cursor, limit=limit
    )
    return Page[UserRequest](items=items, next_cursor=next_cursor)
