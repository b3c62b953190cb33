"""HTTP routes of live metrics: series for charts, the headline summary, provider health."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from opsconsole.server.deps import NowDep
from opsconsole.server.errors import Problem
from opsconsole.server.metrics import series as names
from opsconsole.server.metrics.service import MetricsRuntime
from opsconsole.wire.metrics import ProviderHealth, Series, SeriesStep, Summary

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])

Name = Annotated[str | None, Query(min_length=1, max_length=64)]


def runtime(request: Request) -> MetricsRuntime:
    metrics: MetricsRuntime = request.app.state.metrics
    return metrics


def _utc(moment: datetime | None) -> datetime | None:
    # A time without a zone is read as UTC, the zone every time in the API is given in.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@router.get("/series")
def series(
    request: Request,
    now: NowDep,
    *,
    metric: Annotated[str, Query(min_length=1, max_length=64, description="see the list above")],
    step: SeriesStep = SeriesStep.MINUTE,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    provider: Name = None,
    tier: Name = None,
) -> Series:
    """One metric per minute, hour or day (UTC), for charts.

    `to` defaults to now and `from` to 24 h, 7 d or 30 d before it (by step); a point with
    nothing measured is null (the server was not running), not zero. At most 1,500 points.
    Metrics: requests, admits, denials, denials.<reason>, reports, errors, timeouts,
    error_rate, cost, tokens, input_tokens, output_tokens, latency_p50/p95/p99 (ms),
    gate_us_p50/p95/p99 (the gate's own time, us), active_users.
    """
    until = _utc(end) or now
    since = _utc(start) or until - names.DEFAULT_SPAN[step]
    try:
        return runtime(request).series(
            metric=metric, step=step, start=since, end=until, provider=provider, tier=tier
        )
    except names.SeriesError as error:
        raise Problem(422, "bad-series-query", "Series query not possible", str(error)) from None


@router.get("/summary")
def summary(request: Request, now: NowDep) -> Summary:
    """The headline tiles: active users, requests per second, cost against the daily target,
    p95 latency, error rate, spend by provider over 24 h, provider health."""
    return runtime(request).summary(now)


@router.get("/health")
def health(request: Request, now: NowDep) -> list[ProviderHealth]:
    """Every provider: healthy, degraded or down (and why), from the last 5 minutes."""
    return runtime(request).aggregator.health(now)
