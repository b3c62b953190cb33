"""Business figures on the wire: revenue, AI cost and margin, forecasts, recommendations.

Money is in US dollars. Periods are half-open: ``[start, end)`` in UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class TierFigures(BaseModel):
    """One tier's month (``tier`` is ``"all"`` for the totals)."""

    tier: str
    price_monthly: float | None = Field(description="what a user of the tier pays a month")
    paying_users: int = Field(description="users of the tier, not erased, joined by the cutoff")
    active_users: int = Field(description="users with at least one usage report in the period")
    requests: int = Field(description="usage reports (admitted requests that were reported)")
    revenue: float = Field(description="price_monthly x paying_users")
    ai_cost: float
    gross_margin: float = Field(description="revenue - ai_cost")
    gross_margin_pct: float | None = Field(description="margin / revenue in percent; None at 0")
    cost_per_active_user: float | None
    revenue_per_active_user: float | None


class FeatureCost(BaseModel):
    feature: str
    requests: int
    cost: float
    share_of_cost: float = Field(description="0..1")


class HeavyUser(BaseModel):
    user_id: str | None = Field(description="None when the caller's role may not see users")
    tier: str
    requests: int
    cost: float


class HeavyUsers(BaseModel):
    """The top 10% of the period's active users by number of requests."""

    share_of_users: float = 0.1
    count: int
    min_requests: int = Field(description="requests of the lightest heavy user")
    requests: int
    cost: float
    share_of_cost: float = Field(description="their share of the period's AI cost, 0..1")
    top: list[HeavyUser] = Field(description="the heaviest, at most `limit`")


class Period(BaseModel):
    start: datetime
    end: datetime


class Range(BaseModel):
    """An expected amount with its prediction interval."""

    expected: float
    low: float
    high: float


class PeriodForecast(Range):
    """AI cost forecast for [start, end): the rest of today counts by its hours still to come."""

    start: datetime
    end: datetime
    days: int


class MonthEndForecast(Range):
    """The month's total cost: recorded so far plus the forecast of the rest."""

    month: str
    recorded: float = Field(description="cost recorded from the month's start until as_of")


class DayForecast(Range):
    day: date


class DayCost(BaseModel):
    day: date
    cost: float


class ForecastAccuracy(BaseModel):
    """How the same model did on this history: each week forecast from the days before it."""

    method: str
    origins: int = Field(description="forecast origins tested (one per day)")
    horizon_days: int
    mape_daily_pct: float = Field(description="mean absolute % error of the daily costs")
    mape_total_pct: float = Field(description="mean absolute % error of the 7-day totals")
    coverage: float = Field(description="share of 7-day totals inside their range, 0..1")


class CostForecast(BaseModel):
    as_of: datetime
    model: str
    interval: float = Field(description="nominal coverage of the ranges, e.g. 0.9")
    history_days: int = Field(description="full days of cost history used")
    note: str | None = Field(default=None, description="why something is missing, if it is")
    trend_per_day: float | None = None
    weekday_factors: dict[str, float] | None = None
    next_7_days: PeriodForecast | None = None
    next_30_days: PeriodForecast | None = None
    month_end: MonthEndForecast | None = None
    history: list[DayCost] = Field(
        default_factory=list, description="the recorded cost of each full day the model read"
    )
    daily: list[DayForecast] = Field(default_factory=list, description="the next 30 days")
    accuracy: ForecastAccuracy | None = None


class BusinessReport(BaseModel):
    month: str = Field(description="YYYY-MM")
    period: Period = Field(description="the month, cut off at as_of while it is running")
    as_of: datetime
    complete: bool = Field(description="the month is over")
    currency: str = "USD"
    totals: TierFigures
    tiers: list[TierFigures]
    features: list[FeatureCost]
    heavy_users: HeavyUsers
    month_end_cost: MonthEndForecast | None = Field(
        default=None, description="forecast of the month's AI cost, while it is running"
    )


class ProviderAlternative(BaseModel):
    provider: str
    allowed_for_tier: bool = Field(description="in the tier's provider list")
    cost: float = Field(description="the recorded tokens priced at this provider's prices")
    saving: float = Field(description="recorded cost - cost (negative: dearer)")
    saving_pct: float | None


class TierRouting(BaseModel):
    tier: str
    requests: int
    recorded_cost: float
    by_provider: dict[str, int] = Field(description="requests per provider actually used")
    alternatives: list[ProviderAlternative]


class QuotaChange(BaseModel):
    tier: str
    current_quota: int
    proposed_quota: int
    saving: float = Field(description="cost of the admitted requests beyond the proposed quota")
    requests_refused: int
    users_affected: int
    user_days_affected: int


class Recommendation(BaseModel):
    kind: str = Field(description="routing or quota")
    tier: str
    text: str
    saving: float


class Recommendations(BaseModel):
    as_of: datetime
    period: Period
    days: int
    recommendations: list[Recommendation] = Field(description="largest saving first")
    routing: list[TierRouting]
    quotas: list[QuotaChange]
