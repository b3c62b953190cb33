"""Live metrics: the per-second snapshot the stream carries, series for charts, the headline
summary and provider health. Server, console and benchmarks read these shapes only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from opsconsole.wire.gate import BreakerState


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"


class Latency(BaseModel):
    """Percentiles in milliseconds from a DDSketch (1% relative error); null with no samples."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class Counts(BaseModel):
    """What happened in one interval, for one provider or for all of them."""

    requests: int = 0  # decisions taken (admits + denials)
    admits: int = 0
    denials: dict[str, int] = Field(default_factory=dict)  # by DenyReason value
    reports: int = 0
    errors: int = 0
    timeouts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_ms: Latency = Field(default_factory=Latency)  # provider latency from reports


class ProviderHealth(BaseModel):
    name: str
    status: Health
    breaker: BreakerState
    retry_at: datetime | None = None
    success_rate: float | None = None  # over the last 5 minutes; null with no reports
    p95_ms: float | None = None  # over the last 5 minutes
    cost_per_request: float | None = None
    share: float = 0.0  # of admitted traffic over the last 5 minutes, 0..1
    reason: str = ""  # why it is degraded or down, in words


class MetricsSnapshot(BaseModel):
    """Traffic since the previous snapshot, sent on the stream once per (real) second.

    Normally one second; where the server's clock runs faster than real time (the demo),
    one snapshot covers every clock second that closed since the previous one.
    """

    at: datetime  # the start of the interval it covers (UTC, server clock)
    interval_s: float = 1.0  # its length in server-clock seconds
    total: Counts
    providers: dict[str, Counts] = Field(default_factory=dict)
    tiers: dict[str, Counts] = Field(default_factory=dict)
    gate_us: Latency = Field(default_factory=Latency)  # the gate's own decision time, in us
    active_users_5m: int = 0
    active_users_today: int = 0
    health: list[ProviderHealth] = Field(default_factory=list)
    # The newest report this snapshot contains was received at this time (for lag measurement).
    last_report_at: datetime | None = None


class SeriesStep(StrEnum):
    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"


class SeriesPoint(BaseModel):
    at: datetime
    value: float | None  # null where nothing was measured (a gap, not a zero)


class Series(BaseModel):
    metric: str
    step: SeriesStep
    provider: str | None = None
    tier: str | None = None
    points: list[SeriesPoint]


class Summary(BaseModel):
    """The headline tiles."""

    at: datetime
    active_users_now: int  # distinct users over the last 5 minutes
    active_users_today: int
    requests_per_s: float  # over the last minute
    cost_per_hour: float  # over the last hour
    cost_today: float
    daily_target: float  # the day's spend cap in force
    p95_latency_ms: float | None  # over the last 5 minutes
    error_rate: float | None  # errors + timeouts over reports, last 5 minutes
    spend_by_provider_24h: dict[str, float]
    health: list[ProviderHealth]
