"""Weeks of simulated history written straight into a control plane's database.

The business figures, forecasts and recommendations need what a live run cannot give in
minutes: months of decisions and usage. This module makes them the way the gate would have
recorded them: the simulator's population (tiers, heavy users, favourite features), its daily
rhythm with a weekly one on top, users joining over time, the tiers' daily quotas and budgets,
peak-hour routing to the cheapest allowed provider, provider errors and a few outages (during
which the breaker routes around the provider), priced with the database's own provider prices.

It is deterministic for a seed and fast: rows are built in memory and inserted in bulk, one
transaction per simulated day.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from opsconsole.server.db import Database
from opsconsole.server.gate.models import DecisionRow, Provider, UsageEvent
from opsconsole.server.users.models import Tier, User
from opsconsole.server.users.service import search_text
from opsconsole.sim.population import SimUser, make_population
from opsconsole.sim.providers import DEFAULT_FEATURE, FEATURES, TIMEOUT_MS, SimulatedProviders
from opsconsole.sim.rhythm import DailyRhythm

log = logging.getLogger("opsconsole.sim.history")

# Relative traffic by day of the week, Monday first: people start the week with good
# intentions and skip the gym on Fridays and Saturdays.
WEEKLY_PROFILE: tuple[float, ...] = (1.14, 1.08, 1.03, 0.99, 0.90, 0.85, 1.01)
PEAK_HOURS = frozenset(range(18, 22))  # the gate's default: cheapest provider in the evening
# Reports that fail before a provider's breaker opens in an outage (its default window).
OUTAGE_FAILURES = 10
# Users who registered before the history starts did so within this many days before it.
PRIOR_JOIN_DAYS = 365


@dataclass(frozen=True)
class HistoryConfig:
    """What to generate.

    Attributes:
        days: simulated days, ending at ``end``.
        users: population size (the simulator's tier mix and activity).
        seed: the same seed gives the same rows.
        end: the history's end (exclusive); default now. It starts at midnight UTC ``days``
            days before the day of ``end``.
        requests_per_user_day: mean AI requests a user of mean activity attempts per day.
        joined_share: users registered before the history starts; the rest join evenly
            during it, which gives cost and revenue their upward trend.
        day_noise: sigma of a day's overall level (lognormal): weather, news, a push message.
        outages_per_week: mean provider outages (1 to 3 hours each) per week.
        weekly: relative traffic per weekday, Monday first.
        id_prefix: prefix of the users' ids (``h00042``).
    """

    days: int = 56
    users: int = 2_000
    seed: int = 0
    end: datetime | None = None
    requests_per_user_day: float = 3.0
    joined_share: float = 0.8
    day_noise: float = 0.05
    outages_per_week: float = 1.0
    weekly: tuple[float, ...] = WEEKLY_PROFILE
    id_prefix: str = "h"

    def __post_init__(self) -> None:
        if self.days < 1 or self.users < 1:
            raise ValueError("days and users must be at least 1")
        if len(self.weekly) != 7 or min(self.weekly) <= 0:
            raise ValueError("weekly needs 7 positive weights, Monday first")
        if not 0 <= self.joined_share <= 1:
            raise ValueError("joined_share is a share: 0 to 1")


@dataclass
class HistoryResult:
    """What was written: counts, and the cost and requests of each day (for checks)."""

    users: int = 0
    decisions: int = 0
    usage_events: int = 0
    cost: float = 0.0
    daily_cost: dict[date, float] = field(default_factory=dict)
    daily_decisions: dict[date, int] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class _Tier:
    name: str
    daily_requests: int
    weekly_budget: float
    monthly_budget: float
    providers: tuple[str, ...]


@dataclass(frozen=True)
class _Provider:
    name: str
    model: str
    price_in: float
    price_out: float
    median_ms: float
    sigma: float
    error_rate: float
    timeout_rate: float

    @property
    def rank(self) -> float:
        return self.price_in + self.price_out


@dataclass
class _Outage:
    provider: str
    start: datetime
    end: datetime
    failures_left: int = OUTAGE_FAILURES


@dataclass
class _Member:
    """A user of the population with their database key and running counters."""

    sim: SimUser
    pk: int
    joined_at: datetime
    day_count: int = 0
    week_spend: float = 0.0
    month_spend: float = 0.0


def write_history(
    db: Database,
    config: HistoryConfig | None = None,
    *,
    progress: Callable[[date, int], None] | None = None,
) -> HistoryResult:
    """Generate ``config.days`` days of history into ``db`` (already migrated).

    Users of the population that exist already (same ids) are reused; decisions of the same
    seed written before make it refuse, so a second run cannot double the history.

    Args:
        progress: called after each day with the day and its number of decisions.
    """
    config = config or HistoryConfig()
    started = time.perf_counter()
    rng = random.Random(config.seed)
    end = (config.end or datetime.now(UTC)).astimezone(UTC)
    start = datetime.combine(end.date(), datetime.min.time(), UTC) - timedelta(days=config.days)
    tiers, providers = _load_policy(db)
    members = _register(db, config, rng, start=start, end=end, tiers=tiers)
    result = HistoryResult(users=len(members), start=start, end=end)
    outages = _plan_outages(config, rng, start=start, end=end, tiers=tiers, providers=providers)
    rhythm = DailyRhythm()
    hour_weights = list(itertools.accumulate(rhythm.hourly))
    mean_activity = sum(m.sim.activity for m in members) / len(members)
    first_id = f"{random.Random(f'decision-ids-{config.seed}').getrandbits(96):024x}"
    with db.reading() as session:
        if session.scalar(select(DecisionRow.id).where(DecisionRow.decision_id == first_id)):
            raise ValueError(
                f"history with seed {config.seed} is in this database already; "
                "use another seed or a fresh database"
            )
    ids = random.Random(f"decision-ids-{config.seed}")
    day = start
    while day < end:
        eligible = [m for m in members if m.joined_at < day]
        for member in eligible:
            member.day_count = 0
            if day.weekday() == 0:
                member.week_spend = 0.0
            if day.day == 1:
                member.month_spend = 0.0
        level = config.weekly[day.weekday()] * rng.lognormvariate(0.0, config.day_noise)
        level /= sum(config.weekly) / 7
        expected = config.requests_per_user_day * level / mean_activity
        expected *= sum(m.sim.activity for m in eligible)
        times = _arrivals(rng, _poisson(rng, expected), day, hour_weights)
        decisions, usage = _simulate_day(
            rng,
            ids,
            times=[t for t in times if t < end],
            members=eligible,
            tiers=tiers,
            providers=providers,
            outages=[o for o in outages if o.start < day + timedelta(days=1) and o.end > day],
        )
        _insert_day(db, decisions, usage)
        result.decisions += len(decisions)
        result.usage_events += len(usage)
        for event in usage:
            # By the report's time, as the server counts it (a call may end after midnight).
            when = event["at"].date()
            result.daily_cost[when] = result.daily_cost.get(when, 0.0) + event["cost"]
            result.cost += event["cost"]
        result.daily_decisions[day.date()] = len(decisions)
        if progress is not None:
            progress(day.date(), len(decisions))
        day += timedelta(days=1)
    result.seconds = time.perf_counter() - started
    log.info(
        "history: %d users, %d decisions, %d usage events, $%.2f in %.1f s",
        result.users,
        result.decisions,
        result.usage_events,
        result.cost,
        result.seconds,
    )
    return result


def _load_policy(db: Database) -> tuple[dict[str, _Tier], dict[str, _Provider]]:
    """Tiers and providers as the database has them (an operator may have changed prices)."""
    profiles = SimulatedProviders()
    with db.reading() as session:
        tiers = {
            row.name: _Tier(
                row.name,
                row.daily_requests,
                row.weekly_budget,
                row.monthly_budget,
                tuple(json.loads(row.providers)),
            )
            for row in session.scalars(select(Tier))
        }
        providers = {}
        for row in session.scalars(select(Provider).where(Provider.enabled.is_(True))):
            profile = profiles.profile(row.name, row.model)
            providers[row.name] = _Provider(
                row.name,
                row.model,
                row.price_in_per_1k,
                row.price_out_per_1k,
                profile.median_ms,
                profile.sigma,
                profile.error_rate,
                profile.timeout_rate,
            )
    return tiers, providers


def _register(
    db: Database,
    config: HistoryConfig,
    rng: random.Random,
    *,
    start: datetime,
    end: datetime,
    tiers: dict[str, _Tier],
) -> list[_Member]:
    population = make_population(config.users, seed=config.seed, id_prefix=config.id_prefix)
    unknown = {user.tier for user in population} - set(tiers)
    if unknown:
        raise ValueError(f"the database has no tier {sorted(unknown)}")
    span = (end - start).total_seconds()
    joined: dict[str, datetime] = {}
    for user in population:
        if rng.random() < config.joined_share:
            at = start - timedelta(seconds=rng.uniform(0, PRIOR_JOIN_DAYS * 86_400))
        else:
            at = start + timedelta(seconds=rng.uniform(0, span))
        joined[user.id] = at.replace(microsecond=0)
    with db.writing() as session:
        existing = _pks(session, list(joined))
        rows = [
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "tier": user.tier,
                "status": "active",
                "country": user.country,
                "joined_at": joined[user.id],
                "updated_at": joined[user.id],
                "search_text": search_text(user.id, user.email, user.name),
            }
            for user in population
            if user.id not in existing
        ]
        if rows:
            session.execute(insert(User), rows)
        pks = _pks(session, list(joined))
    return [_Member(user, pks[user.id], joined[user.id]) for user in population]


def _pks(session: Session, ids: list[str]) -> dict[str, int]:
    """The database keys of the users with these ids (a chunk at a time: bind limits)."""
    found: dict[str, int] = {}
    for at in range(0, len(ids), 1000):
        chunk = ids[at : at + 1000]
        rows = session.execute(select(User.id, User.pk).where(User.id.in_(chunk)))
        found.update((user_id, pk) for user_id, pk in rows)
    return found


def _plan_outages(
    config: HistoryConfig,
    rng: random.Random,
    *,
    start: datetime,
    end: datetime,
    tiers: dict[str, _Tier],
    providers: dict[str, _Provider],
) -> list[_Outage]:
    # Outages hit the providers that carry traffic: each tier's first choice.
    primaries = sorted({t.providers[0] for t in tiers.values() if t.providers} & set(providers))
    if not primaries:
        return []
    count = _poisson(rng, config.outages_per_week * (end - start).total_seconds() / 604_800)
    outages = []
    for _ in range(count):
        at = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
        length = timedelta(minutes=rng.uniform(60, 180))
        outages.append(_Outage(rng.choice(primaries), at, at + length))
    return sorted(outages, key=lambda o: o.start)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 500:  # the normal approximation is within a fraction of a percent here
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    # Knuth's method: multiply uniforms until the product drops below e^-mean.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _arrivals(
    rng: random.Random, count: int, day: datetime, hour_weights: Sequence[float]
) -> list[datetime]:
    """``count`` request times within ``day``, following the daily rhythm, in order."""
    total = hour_weights[-1]
    seconds = []
    for _ in range(count):
        hour = min(bisect.bisect_right(hour_weights, rng.random() * total), 23)
        seconds.append(hour * 3600 + rng.random() * 3600)
    seconds.sort()
    return [day + timedelta(seconds=round(s, 3)) for s in seconds]


def _simulate_day(
    rng: random.Random,
    ids: random.Random,
    *,
    times: list[datetime],
    members: list[_Member],
    tiers: dict[str, _Tier],
    providers: dict[str, _Provider],
    outages: list[_Outage],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The day's decisions and usage events, as the gate would have recorded them."""
    if not members:
        return [], []
    cumulative = list(itertools.accumulate(m.sim.activity for m in members))
    decisions: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    for at in times:
        index = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        member = members[min(index, len(members) - 1)]
        user = member.sim
        feature = user.pick_feature(rng)
        tier = tiers[user.tier]
        decision_id = f"{ids.getrandbits(96):024x}"
        row: dict[str, Any] = {
            "decision_id": decision_id,
            "at": at,
            "user_pk": member.pk,
            "tier": tier.name,
            "feature": feature,
            "allow": False,
            "provider": None,
            "model": None,
            "policy": None,
            "gate_us": round(rng.uniform(40, 250), 1),
        }
        decisions.append(row)
        reason = _limit_reached(member, tier)
        if reason is not None:
            row["reason"] = reason
            continue
        down = {o.provider for o in outages if o.start <= at < o.end and o.failures_left <= 0}
        usable = [providers[n] for n in tier.providers if n in providers and n not in down]
        if not usable:
            row["reason"] = "no_provider"
            continue
        peak = at.hour in PEAK_HOURS
        provider = min(usable, key=lambda p: p.rank) if peak else usable[0]
        member.day_count += 1
        row.update(
            allow=True,
            reason="ok",
            provider=provider.name,
            model=provider.model,
            policy="peak_hours" if peak else "priority",
        )
        event = _call(rng, provider, feature, at, outages)
        member.week_spend += event["cost"]
        member.month_spend += event["cost"]
        event.update(
            decision_id=decision_id,
            decided_at=at,
            user_pk=member.pk,
            tier=tier.name,
            feature=feature,
        )
        usage.append(event)
    return decisions, usage


def _limit_reached(member: _Member, tier: _Tier) -> str | None:
    if 0 <= tier.daily_requests <= member.day_count:
        return "daily_quota"
    if member.week_spend >= tier.weekly_budget:
        return "weekly_budget"
    if member.month_spend >= tier.monthly_budget:
        return "monthly_budget"
    return None


def _call(
    rng: random.Random, provider: _Provider, feature: str, at: datetime, outages: list[_Outage]
) -> dict[str, Any]:
    """One provider call's outcome: tokens, latency, status and what it cost."""
    shape = FEATURES.get(feature, DEFAULT_FEATURE)
    input_tokens = max(1, round(rng.lognormvariate(math.log(shape.input_median), shape.sigma)))
    output_tokens = max(1, round(rng.lognormvariate(math.log(shape.output_median), shape.sigma)))
    status = "ok"
    latency = rng.lognormvariate(math.log(provider.median_ms), provider.sigma)
    for outage in outages:
        # The reports that fail before the breaker opens and routes around the provider.
        active = outage.provider == provider.name and outage.start <= at < outage.end
        if active and outage.failures_left > 0:
            outage.failures_left -= 1
            status = "error"
    roll = rng.random()
    if status == "ok" and roll < provider.error_rate:
        status = "error"
    elif status == "ok" and roll < provider.error_rate + provider.timeout_rate:
        status = "timeout"
    elif latency >= TIMEOUT_MS:
        status = "timeout"  # the caller gave up: the tail of the latency distribution
    if status == "error":
        latency = provider.median_ms * rng.uniform(0.05, 0.5)
    elif status == "timeout":
        latency = TIMEOUT_MS
    if status != "ok":
        output_tokens = 0  # a failed call is not billed
    cost = (input_tokens * provider.price_in + output_tokens * provider.price_out) / 1000
    return {
        "at": at + timedelta(milliseconds=latency),
        "provider": provider.name,
        "model": provider.model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "latency_ms": round(latency, 1),
        "status": status,
        "cost": cost if status == "ok" else 0.0,
    }


def _insert_day(db: Database, decisions: list[dict[str, Any]], usage: list[dict[str, Any]]) -> None:
    if not decisions:
        return
    with db.writing() as session:
        # Core inserts: one executemany per table, no ORM bookkeeping per row.
        session.execute(insert(cast(Table, DecisionRow.__table__)), decisions)
        if usage:
            session.execute(insert(cast(Table, UsageEvent.__table__)), usage)
