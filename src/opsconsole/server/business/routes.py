"""HTTP routes of the business figures: the month, the cost forecast, the recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opsconsole.server.business import recommendations, service
from opsconsole.server.deps import CurrentOperator, NowDep, SessionDep
from opsconsole.server.permissions import Permission
from opsconsole.wire.business import BusinessReport, CostForecast, Recommendations

router = APIRouter(prefix="/v1/business", tags=["business"])


@router.get("")
def business(
    *,
    session: SessionDep,
    operator: CurrentOperator,
    now: NowDep,
    month: Annotated[
        str | None, Query(max_length=7, description="YYYY-MM; default: the current month")
    ] = None,
) -> BusinessReport:
    """Revenue (tier prices x paying users), AI cost and gross margin by tier, cost and revenue
    per active user, heavy users (top 10% by requests) and cost by feature, for one month.

    Heavy users are named only for roles that may read end users.
    """
    return service.business_report(
        session=session, month=month, now=now, show_users=operator.can(Permission.USERS_READ)
    )


@router.get("/forecast")
def forecast(*, session: SessionDep, now: NowDep) -> CostForecast:
    """AI cost of the next 7 and 30 days and at the month's end, with 90% ranges, and how
    accurate the same forecast was on this history (a rolling backtest)."""
    return service.cost_forecast(session=session, now=now)


@router.get("/recommendations")
def recommend(
    *,
    session: SessionDep,
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=90, description="full days before today")] = 7,
    quota_tier: Annotated[
        str | None, Query(min_length=1, max_length=32, description="with quota: this tier")
    ] = None,
    quota: Annotated[
        int | None, Query(ge=0, le=1_000_000, description="with quota_tier: a lower quota")
    ] = None,
) -> Recommendations:
    """What routing each tier to another provider, or lowering a tier's daily quota, would have
    saved over the last days, priced from the recorded requests."""
    return recommendations.recommendations(
        session=session, now=now, days=days, quota_tier=quota_tier, quota=quota
    )
