"""One end user's activity, for the console's user details: use against limits, last requests."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from opsconsole.wire.gate import DenyReason, UsageStatus


class UsageLimits(BaseModel):
    """The limits in force now: the tier's, with the user's overrides on top."""

    daily_requests: int | None = Field(description="None: no daily cap.")
    weekly_budget: float = Field(description="Dollars, a live budget bonus included.")
    monthly_budget: float = Field(description="Dollars, a live budget bonus included.")
    rate_per_minute: int
    budget_bonus: float | None = Field(description="A temporary increase in force, if any.")
    budget_bonus_until: datetime | None
    overridden: list[str] = Field(
        description="Which limits come from the user's own overrides rather than the tier."
    )


class UsageRemaining(BaseModel):
    requests_today: int | None  # None: no daily cap
    budget_week: float
    budget_month: float


class UserUsage(BaseModel):
    """Requests and spend in the gate's windows (UTC day, ISO week, calendar month).

    ``requests_today``, ``spent_week`` and ``spent_month`` are the gate's own counters, the
    numbers it decides on. ``spent_today``, ``errors_today`` and ``denied_today`` are read from
    the recorded decisions and usage reports (decisions are written within milliseconds).
    """

    user_id: str
    tier: str
    status: str
    at: datetime
    requests_today: int
    spent_today: float
    spent_week: float
    spent_month: float
    errors_today: int = Field(description="Reports with status error or timeout today.")
    denied_today: int = Field(description="Requests the gate refused today.")
    limits: UsageLimits | None = Field(description="None when the gate does not know the tier.")
    remaining: UsageRemaining | None
    day_resets_at: datetime
    week_resets_at: datetime
    month_resets_at: datetime


class RequestReport(BaseModel):
    """What the app reported about an admitted request."""

    at: datetime
    latency_ms: float
    status: UsageStatus
    input_tokens: int
    output_tokens: int
    cost: float


class UserRequest(BaseModel):
    """One decision of the gate about this user, with its report once one came."""

    decision_id: str | None  # None for a denial: nothing to report against
    at: datetime
    feature: str
    tier: str | None
    allow: bool
    reason: DenyReason
    reason_text: str = Field(description="The reason in plain words.")
    provider: str | None
    model: str | None
    policy: str | None
    report: RequestReport | None
