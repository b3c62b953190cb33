"""Alert rules (data, edited by operators), alerts with their lifecycle, acks and silences."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from opsconsole.wire.common import WireModel


class RuleKind(StrEnum):
    COST_SPIKE = "cost_spike"
    ERROR_RATE = "error_rate"
    LATENCY_P95 = "latency_p95"
    PROVIDER_DOWN = "provider_down"
    GLOBAL_BUDGET = "global_budget"
    ACTIVE_USERS_DROP = "active_users_drop"
    SLA_BREACH = "sla_breach"
    HEAVY_USER = "heavy_user"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Automation(StrEnum):
    NONE = "none"
    FALLBACK_ONLY = "fallback_only"  # costSpike -> switch to fallback
    TRIP_BREAKER = "trip_breaker"  # errorSpike -> circuit breaker
    PAUSE_NON_PREMIUM = "pause_non_premium"  # budgetExceeded -> pause non-premium


class AlertRule(BaseModel):
    name: str
    kind: RuleKind
    enabled: bool = True
    severity: Severity = Severity.WARNING
    threshold: float  # meaning depends on the kind: a percentage, a rate, milliseconds...
    for_s: int = Field(default=60, ge=0, le=86_400)  # condition must hold this long
    window_s: int = Field(default=300, ge=1, le=604_800)
    automation: Automation = Automation.NONE
    silenced_until: datetime | None = None
    description: str = ""
    # The least evidence before the rule judges at all: reports in the window for error rate
    # and latency, dollars for cost spike and heavy user (today's spend), users last week for
    # active users. Keeps one error out of two reports, or the day's first dollar, quiet.
    floor: float = Field(default=0.0, ge=0)
    updated_by: str | None = None
    updated_at: datetime | None = None


class AlertRuleUpdate(WireModel):
    enabled: bool | None = None
    severity: Severity | None = None
    threshold: float | None = Field(default=None, ge=0, le=1_000_000_000)
    for_s: int | None = Field(default=None, ge=0, le=86_400)
    window_s: int | None = Field(default=None, ge=1, le=604_800)
    automation: Automation | None = None
    floor: float | None = Field(default=None, ge=0, le=1_000_000_000)


class Alert(BaseModel):
    id: int
    rule: str
    kind: RuleKind
    severity: Severity
    subject: str  # what it is about: "total", a provider name, a user id, a ticket id
    state: AlertState
    summary: str  # one line a person can act on
    value: float | None = None
    threshold: float | None = None
    pending_since: datetime
    firing_since: datetime | None = None
    resolved_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    ack_comment: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)


class AckRequest(WireModel):
    comment: str = Field(min_length=1, max_length=1000)


class SilenceRequest(WireModel):
    """Silence a rule, or one provider for every rule, until a time."""

    until: datetime
    reason: str = Field(min_length=3, max_length=500)
    rule: str | None = Field(default=None, min_length=1, max_length=64)
    provider: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _target(self) -> SilenceRequest:
        if self.until.tzinfo is None:
            raise ValueError("until needs a timezone (e.g. Z for UTC)")
        if self.rule is None and self.provider is None:
            raise ValueError("name a rule, a provider, or both")
        return self


class Silence(BaseModel):
    id: int
    rule: str | None
    provider: str | None
    until: datetime
    reason: str
    created_by: str
    created_at: datetime
    ended_by: str | None = None  # set when an operator ended it before `until`
    active: bool = True
