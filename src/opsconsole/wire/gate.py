"""The gate's contract: admission decisions, usage reports, tiers, providers and switches."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from opsconsole.wire.common import WireModel


class DenyReason(StrEnum):
    """Why the gate answered as it did; a closed set the app can switch on."""

    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    USER_SUSPENDED = "user_suspended"
    DAILY_QUOTA = "daily_quota"
    WEEKLY_BUDGET = "weekly_budget"
    MONTHLY_BUDGET = "monthly_budget"
    USER_RATE_LIMITED = "user_rate_limited"
    GLOBAL_RATE_LIMITED = "global_rate_limited"
    PAUSED_ALL = "paused_all"
    PAUSED_TIER = "paused_tier"
    GLOBAL_BUDGET_CAP = "global_budget_cap"
    NO_PROVIDER = "no_provider"


REASON_TEXT: dict[DenyReason, str] = {
    DenyReason.OK: "allowed",
    DenyReason.UNKNOWN_USER: "the user is not registered with the control plane",
    DenyReason.USER_SUSPENDED: "the user is suspended (or erased)",
    DenyReason.DAILY_QUOTA: "the user has made all of today's requests their tier allows",
    DenyReason.WEEKLY_BUDGET: "the user has spent this week's budget",
    DenyReason.MONTHLY_BUDGET: "the user has spent this month's budget",
    DenyReason.USER_RATE_LIMITED: "the user sends requests faster than their tier allows",
    DenyReason.GLOBAL_RATE_LIMITED: "all users together exceed the global request rate",
    DenyReason.PAUSED_ALL: "an operator paused all AI requests",
    DenyReason.PAUSED_TIER: "AI requests of this user's tier are paused",
    DenyReason.GLOBAL_BUDGET_CAP: "today's or this week's global spend cap is reached",
    DenyReason.NO_PROVIDER: "no provider the tier allows is enabled with a closed breaker",
}


class AdmitRequest(WireModel):
    user_id: str = Field(min_length=1, max_length=128)
    feature: str = Field(default="default", min_length=1, max_length=64)
    estimated_tokens: int | None = Field(default=None, ge=0, le=10_000_000)
    dry_run: bool = False


class Remaining(BaseModel):
    requests_today: int | None  # None: no daily cap
    budget_week: float
    budget_month: float


class AdmitResponse(BaseModel):
    decision_id: str | None  # None on a dry run: nothing to report against
    allow: bool
    provider: str | None
    model: str | None
    reason: DenyReason
    retry_after_s: float | None = None
    remaining: Remaining | None = None
    # Set when the decision came from a traffic-split experiment: the arm's configured share.
    experiment: str | None = None
    experiment_share: float | None = None
    policy: str | None = None  # which routing policy picked the provider


class UsageStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"


class UsageReport(WireModel):
    decision_id: str = Field(min_length=1, max_length=64)
    provider: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=128)
    input_tokens: int = Field(ge=0, le=100_000_000)
    output_tokens: int = Field(ge=0, le=100_000_000)
    latency_ms: float = Field(ge=0, le=3_600_000)
    status: UsageStatus
    cost: float | None = Field(default=None, ge=0, le=1_000_000)


class ReportBatch(WireModel):
    reports: Annotated[list[UsageReport], Field(min_length=1, max_length=1000)]


class ReportResult(BaseModel):
    accepted: int


class TierPublic(BaseModel):
    name: str
    daily_requests: int  # -1: no cap
    weekly_budget: float
    monthly_budget: float
    rate_per_minute: int
    providers: list[str]
    price_monthly: float


class TierUpdate(WireModel):
    daily_requests: int = Field(ge=-1, le=10_000_000)
    weekly_budget: float = Field(ge=0, le=1_000_000)
    monthly_budget: float = Field(ge=0, le=10_000_000)
    rate_per_minute: int = Field(ge=1, le=1_000_000)
    providers: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=20
    )
    price_monthly: float = Field(default=0.0, ge=0, le=100_000)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerSettings(WireModel):
    window: int = Field(default=100, ge=1, le=10_000, description="last N reports considered")
    min_requests: int = Field(default=10, ge=1, le=10_000)
    error_rate: float = Field(default=0.05, gt=0, le=1)
    timeout_rate: float = Field(default=0.05, gt=0, le=1)
    timeout_ms: float = Field(default=10_000, gt=0, description="slower counts as a timeout")
    recovery_s: float = Field(default=300, gt=0)
    probes: int = Field(default=3, ge=1, le=100, description="successes that close it again")


class BreakerPublic(BaseModel):
    state: BreakerState
    failures: int
    requests: int
    opened_at: datetime | None
    retry_at: datetime | None
    manual: bool


class ProviderPublic(BaseModel):
    name: str
    model: str
    price_in_per_1k: float
    price_out_per_1k: float
    enabled: bool
    breaker_settings: BreakerSettings
    breaker: BreakerPublic


class ProviderUpdate(WireModel):
    model: str | None = Field(default=None, min_length=1, max_length=128)
    price_in_per_1k: float | None = Field(default=None, ge=0, le=1000)
    price_out_per_1k: float | None = Field(default=None, ge=0, le=1000)
    enabled: bool | None = None
    breaker_settings: BreakerSettings | None = None


class BreakerAction(WireModel):
    action: Literal["trip", "reset"]
    reason: str = Field(min_length=3, max_length=500)


class SwitchName(StrEnum):
    PAUSE_ALL = "pause_all"
    PAUSE_TIERS = "pause_tiers"
    FALLBACK_ONLY = "fallback_only"
    CHEAPEST_ONLY = "cheapest_only"
    GLOBAL_BUDGET_CAP = "global_budget_cap"
    GLOBAL_RATE_LIMIT = "global_rate_limit"


class SwitchUpdate(WireModel):
    """Turn a switch on (``value``) or off (``value`` null).

    Values: pause_all, fallback_only, cheapest_only take true; pause_tiers a list of tier
    names; global_budget_cap dollars per day; global_rate_limit requests per minute.
    """

    value: bool | float | list[str] | None
    reason: str = Field(min_length=3, max_length=500)
    expires_at: datetime | None = None

    @model_validator(mode="after")
    def _aware(self) -> SwitchUpdate:
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a timezone (e.g. Z for UTC)")
        return self


class SwitchPublic(BaseModel):
    name: SwitchName
    active: bool
    value: Any
    set_by: str | None
    reason: str | None
    set_at: datetime | None
    expires_at: datetime | None
