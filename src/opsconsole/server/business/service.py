"""Business figures of a month (revenue, AI cost and margin by tier, heavy users, features)
and the cost forecast built on the model in ``forecast.py``.

Everything is aggregated in the database (GROUP BY over an indexed time range of the usage
table): a month of millions of usage events comes back as a few dozen rows, plus the heavy
users (a tenth of the active ones, ranked and cut in the database).

Revenue is the tiers' monthly prices times their paying users: users of the tier who were
registered by the end of the period (or now) and are not erased. The tier is the user's
current one (no tier history is kept); AI cost is counted by the tier a request was made in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from opsconsole.server.business import daily, forecast
from opsconsole.server.errors import Problem
from opsconsole.server.gate.models import UsageEvent
from opsconsole.server.users.models import Tier, User
from opsconsole.wire.business import (
    BusinessReport,
    CostForecast,
    DayCost,
    DayForecast,
    FeatureCost,
    ForecastAccuracy,
    HeavyUser,
    HeavyUsers,
    MonthEndForecast,
    Period,
    PeriodForecast,
    TierFigures,
)

HEAVY_SHARE = 0.10
HEAVY_LIMIT = 50  # heavy users listed one by one (the group's totals cover all of them)


def month_period(month: str | None, now: datetime) -> tuple[str, datetime, datetime]:
    """The month named ``YYYY-MM`` (default: the current one) as [start, end) in UTC."""
    if month is None:
        year, number = now.year, now.month
    else:
        try:
            parsed = datetime.strptime(month, "%Y-%m")
        except ValueError:
            raise bad_query(
                "month", f"{month!r} is not a month: give it as YYYY-MM, e.g. 2026-03"
            ) from None
        year, number = parsed.year, parsed.month
    start = datetime(year, number, 1, tzinfo=UTC)
    if start > now:
        raise bad_query(
            "month", f"{month} has not started yet; ask for {now:%Y-%m} or an earlier month"
        )
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return f"{year:04d}-{number:02d}", start, end


def bad_query(field: str, message: str) -> Problem:
    """A 422 in the shape of the API's validation errors, for checks pydantic cannot make."""
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        f"The request does not match the API: query.{field}: {message}.",
        errors=[{"field": f"query.{field}", "message": message}],
    )


def business_report(
    *, session: Session, month: str | None, now: datetime, show_users: bool
) -> BusinessReport:
    """Revenue, AI cost and margin of one month, by tier; heavy users; cost by feature.

    Args:
        show_users: whether heavy users are named (the caller may read end users).
    """
    label, start, end = month_period(month, now)
    cutoff = min(end, now)
    in_period = (UsageEvent.at >= start, UsageEvent.at < cutoff)
    tiers = {row.name: row for row in session.scalars(select(Tier).order_by(Tier.name))}
    paying = {
        tier: int(count)
        for tier, count in session.execute(
            select(User.tier, func.count())
            .where(User.status != "erased", User.joined_at < cutoff)
            .group_by(User.tier)
        )
    }
    usage = {
        tier: (int(requests), int(active), float(cost or 0.0))
        for tier, requests, active, cost in session.execute(
            select(
                UsageEvent.tier,
                func.count(),
                func.count(func.distinct(UsageEvent.user_pk)),
                func.sum(UsageEvent.cost),
            )
            .where(*in_period)
            .group_by(UsageEvent.tier)
        )
    }
    active_total = session.scalar(
        select(func.count(func.distinct(UsageEvent.user_pk))).where(*in_period)
    )
    rows = [
        _figures(
            name,
            price=tiers[name].price_monthly if name in tiers else None,
            paying=int(paying.get(name, 0)),
            requests=usage.get(name, (0, 0, 0.0))[0],
            active=usage.get(name, (0, 0, 0.0))[1],
            cost=usage.get(name, (0, 0, 0.0))[2],
        )
        for name in sorted(set(tiers) | set(usage))
    ]
    totals = _figures(
        "all",
        price=None,
        paying=sum(row.paying_users for row in rows),
        requests=sum(row.requests for row in rows),
        active=int(active_total or 0),
        cost=sum(row.ai_cost for row in rows),
        revenue=sum(row.revenue for row in rows),
    )
    report = BusinessReport(
        month=label,
        period=Period(start=start, end=cutoff),
        as_of=now,
        complete=now >= end,
        totals=totals,
        tiers=rows,
        features=_features(session, in_period, totals.ai_cost),
        heavy_users=_heavy_users(session, in_period, totals, show_users=show_users),
    )
    if not report.complete:
        report.month_end_cost = cost_forecast(session=session, now=now).month_end
    return report


def _figures(
    tier: str,
    *,
    price: float | None,
    paying: int,
    requests: int,
    active: int,
    cost: float,
    revenue: float | None = None,
) -> TierFigures:
    revenue = (price or 0.0) * paying if revenue is None else revenue
    margin = revenue - cost
    return TierFigures(
        tier=tier,
        price_monthly=price,
        paying_users=paying,
        active_users=active,
        requests=requests,
        revenue=revenue,
        ai_cost=cost,
        gross_margin=margin,
        gross_margin_pct=100 * margin / revenue if revenue > 0 else None,
        cost_per_active_user=cost / active if active else None,
        revenue_per_active_user=revenue / active if active else None,
    )


def _features(
    session: Session, in_period: Sequence[ColumnElement[bool]], total: float
) -> list[FeatureCost]:
    rows = session.execute(
        select(UsageEvent.feature, func.count(), func.sum(UsageEvent.cost))
        .where(*in_period)
        .group_by(UsageEvent.feature)
    )
    features = [
        FeatureCost(
            feature=feature,
            requests=int(requests),
            cost=float(cost or 0.0),
            share_of_cost=float(cost or 0.0) / total if total > 0 else 0.0,
        )
        for feature, requests, cost in rows
    ]
    return sorted(features, key=lambda f: (-f.cost, f.feature))


def _heavy_users(
    session: Session,
    in_period: Sequence[ColumnElement[bool]],
    totals: TierFigures,
    *,
    show_users: bool,
) -> HeavyUsers:
    count = math.ceil(HEAVY_SHARE * totals.active_users)
    if count == 0:
        return HeavyUsers(count=0, min_requests=0, requests=0, cost=0.0, share_of_cost=0, top=[])
    requests = func.count().label("requests")
    cost = func.sum(UsageEvent.cost).label("cost")
    ranked = session.execute(
        select(UsageEvent.user_pk, requests, cost)
        .where(*in_period)
        .group_by(UsageEvent.user_pk)
        .order_by(requests.desc(), cost.desc(), UsageEvent.user_pk)
        .limit(count)
    ).all()
    shown = ranked[:HEAVY_LIMIT]
    users = {
        pk: (user_id, tier)
        for pk, user_id, tier in session.execute(
            select(User.pk, User.id, User.tier).where(User.pk.in_([row[0] for row in shown]))
        )
    }
    group_cost = sum(float(row[2] or 0.0) for row in ranked)
    return HeavyUsers(
        count=len(ranked),
        min_requests=int(ranked[-1][1]),
        requests=sum(int(row[1]) for row in ranked),
        cost=group_cost,
        share_of_cost=group_cost / totals.ai_cost if totals.ai_cost > 0 else 0.0,
        top=[
            HeavyUser(
                user_id=users.get(pk, (None, "?"))[0] if show_users else None,
                tier=users.get(pk, (None, "unknown"))[1],
                requests=int(n),
                cost=float(c or 0.0),
            )
            for pk, n, c in shown
        ],
    )


# --- forecasts ------------------------------------------------------------------------------

DAILY_DAYS = 30
MODEL = (
    "linear trend over the last 28 days x day-of-week factors (ratio to the 7-day centred "
    "average); 90% prediction interval from the fit's relative residuals, widened when the "
    "backtest's errors were larger"
)


def cost_forecast(*, session: Session, now: datetime) -> CostForecast:
    """AI cost of the next 7 and 30 days and at the month's end, each with a 90% range.

    Fitted on full UTC days before today; today's part that has passed is recorded cost,
    the rest is forecast, split by the hour-of-day profile of recent days.
    """
    today = datetime.combine(now.date(), datetime.min.time(), UTC)
    settled = daily.settled(session=session, today=today)
    history = settled.history
    result = CostForecast(
        as_of=now,
        model=MODEL,
        interval=forecast.COVERAGE,
        history_days=len(history.days),
        history=[
            DayCost(day=day, cost=cost)
            for day, cost in zip(history.days, history.costs, strict=True)
        ],
    )
    model, tested = forecast.forecast(history.days, history.costs)
    if model is None:
        result.note = (
            f"a forecast needs at least {forecast.MIN_DAYS} full days of cost history; "
            f"there are {len(history.days)}"
        )
        return result
    profile = settled.profile
    result.trend_per_day = model.slope
    result.weekday_factors = dict(zip(WEEKDAYS, model.season, strict=True))
    result.next_7_days = _period(model, profile, now, now + timedelta(days=7))
    result.next_30_days = _period(model, profile, now, now + timedelta(days=30))
    month_start = today.replace(day=1)
    month_end = datetime(
        month_start.year + month_start.month // 12, month_start.month % 12 + 1, 1, tzinfo=UTC
    )
    # Settled days from the history, today's part from the table (a small range).
    recorded = sum(
        cost
        for day, cost in zip(history.days, history.costs, strict=True)
        if day >= month_start.date()
    )
    recorded += float(
        session.scalar(
            select(func.sum(UsageEvent.cost)).where(UsageEvent.at >= today, UsageEvent.at < now)
        )
        or 0.0
    )
    rest = _period(model, profile, now, month_end)
    result.month_end = MonthEndForecast(
        month=f"{month_start:%Y-%m}",
        recorded=recorded,
        expected=recorded + rest.expected,
        low=recorded + rest.low,
        high=recorded + rest.high,
    )
    for day in forecast.day_range(now.date(), DAILY_DAYS):
        expected, low, high = model.total([day])
        result.daily.append(DayForecast(day=day, expected=expected, low=low, high=high))
    if tested is None:
        result.note = (
            f"accuracy is reported from {forecast.MIN_BACKTEST_DAYS} full days of history on; "
            f"there are {len(history.days)}"
        )
    else:
        result.accuracy = ForecastAccuracy(
            method=(
                "rolling-origin backtest: each 7-day stretch of the history forecast from the "
                "days before it"
            ),
            origins=tested.origins,
            horizon_days=tested.horizon_days,
            mape_daily_pct=tested.mape_daily,
            mape_total_pct=tested.mape_total,
            coverage=tested.coverage,
        )
    return result


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _share_before(profile: Sequence[float], moment: datetime) -> float:
    """The share of a day's cost that falls before ``moment``'s time of day."""
    hours = moment.hour + (moment.minute * 60 + moment.second + moment.microsecond / 1e6) / 3600
    whole = int(hours)
    return sum(profile[:whole]) + (profile[whole] * (hours - whole) if whole < 24 else 0.0)


def _period(
    model: forecast.Model, profile: Sequence[float], start: datetime, end: datetime
) -> PeriodForecast:
    """The forecast for [start, end): whole days, and the covered share of part days."""
    days, weights = [], []
    day = start.date()
    while datetime.combine(day, datetime.min.time(), UTC) < end:
        day_start = datetime.combine(day, datetime.min.time(), UTC)
        day_end = day_start + timedelta(days=1)
        low = _share_before(profile, start) if start > day_start else 0.0
        high = _share_before(profile, end) if end < day_end else 1.0
        if high > low:
            days.append(day)
            weights.append(high - low)
        day += timedelta(days=1)
    expected, low_total, high_total = model.total(days, weights)
    return PeriodForecast(
        start=start,
        end=end,
        days=round((end - start).total_seconds() / 86_400),
        expected=expected,
        low=low_total,
        high=high_total,
    )
