"""Everything the alert rules look at, gathered at one moment into one immutable `Inputs`.

Live figures (error rates, latency, recent cost, active users, provider health) come from the
metrics aggregator when this process runs one; without it (or before it has started) the same
figures are read from the usage and decision tables. The longer history (the trailing day's
cost, last week's active users, today's spend per user, breached tickets) is read from the
database and kept for `history_ttl_s` of clock time, so evaluating every few seconds does not
scan a day of usage every few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsconsole.server.db import Database
from opsconsole.server.gate import windows
from opsconsole.server.gate.engine import Gate
from opsconsole.server.gate.models import DecisionRow, UsageEvent
from opsconsole.server.tickets.models import Ticket
from opsconsole.server.tickets.service import TicketFilter
from opsconsole.server.users.models import User
from opsconsole.wire.alerts import AlertRule, RuleKind
from opsconsole.wire.gate import BreakerState, SwitchName
from opsconsole.wire.metrics import Counts, Health, Latency, ProviderHealth

TOTAL = "total"  # the subject of figures over every provider
WEEK = timedelta(days=7)
DAY = timedelta(days=1)
LIVE_WINDOW_S = 3600  # the longest window the metrics aggregator answers
HEAVY_USERS_CONSIDERED = 10
BREACHED_TICKETS_LISTED = 20


class LiveFigures(Protocol):
    """What the metrics aggregator (`app.state.metrics.aggregator`) offers the alerts."""

    def window(
        self, *, seconds: int, now: datetime, provider: str | None = None, tier: str | None = None
    ) -> Counts: ...

    def health(self, now: datetime) -> list[ProviderHealth]: ...

    def active_users(self, *, seconds: int, now: datetime) -> int: ...


@dataclass(frozen=True)
class WindowFigures:
    reports: int
    failures: int  # errors and timeouts
    p95_ms: float | None
    cost: float


@dataclass(frozen=True)
class CostFigures:
    recent_per_hour: float  # over the rule's window, scaled to an hour
    baseline_per_hour: float  # the trailing day before that window, per hour


@dataclass(frozen=True)
class UserFigures:
    now: int  # distinct users over the rule's window
    last_week: int  # the same window a week earlier


@dataclass(frozen=True)
class Budget:
    day: float
    week: float
    day_cap: float
    week_cap: float


@dataclass(frozen=True)
class Inputs:
    """Everything the rules see; rules are pure functions of this (and its `now`)."""

    now: datetime
    providers: tuple[str, ...] = ()
    # window_s -> subject (TOTAL or a provider) -> figures
    windows: dict[int, dict[str, WindowFigures]] = field(default_factory=dict)
    down: dict[str, str] = field(default_factory=dict)  # provider -> why it is down
    cost: dict[int, CostFigures] = field(default_factory=dict)  # by window_s
    users: dict[int, UserFigures] = field(default_factory=dict)  # by window_s
    budget: Budget | None = None
    breached_tickets: int = 0
    breached_ids: tuple[int, ...] = ()
    spend_today: float = 0.0
    top_spenders: tuple[tuple[str, float], ...] = ()  # (user id, spend today), largest first


class History:
    """Database figures kept for a while (clock time) so each is recomputed only now and then."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl = timedelta(seconds=ttl_s)
        self._kept: dict[tuple[Any, ...], tuple[datetime, Any]] = {}

    def get(self, key: tuple[Any, ...], now: datetime, compute: Callable[[], Any]) -> Any:
        kept = self._kept.get(key)
        if kept is not None and kept[0] <= now < kept[0] + self.ttl:
            return kept[1]
        value = compute()
        self._kept[key] = (now, value)
        return value


class StoredFigures:
    """The live figures computed from the usage and decision tables (no aggregator)."""

    def __init__(self, session: Session, gate: Gate) -> None:
        self.session = session
        self.gate = gate

    def window(
        self, *, seconds: int, now: datetime, provider: str | None = None, tier: str | None = None
    ) -> Counts:
        # [now - seconds, now), as the aggregator counts: whole seconds that have closed.
        query = select(UsageEvent.status, UsageEvent.latency_ms, UsageEvent.cost).where(
            UsageEvent.at >= now - timedelta(seconds=seconds), UsageEvent.at < now
        )
        if provider is not None:
            query = query.where(UsageEvent.provider == provider)
        if tier is not None:
            query = query.where(UsageEvent.tier == tier)
        rows = self.session.execute(query).all()
        latencies = sorted(row.latency_ms for row in rows)
        return Counts(
            reports=len(rows),
            errors=sum(1 for row in rows if row.status == "error"),
            timeouts=sum(1 for row in rows if row.status == "timeout"),
            cost=sum(row.cost for row in rows),
            latency_ms=Latency(p95=_percentile(latencies, 0.95)),
        )

    def health(self, now: datetime) -> list[ProviderHealth]:
        result = []
        for name, runtime in self.gate.providers.items():
            breaker = runtime.breaker.public(now)
            down = breaker.state is BreakerState.OPEN
            result.append(
                ProviderHealth(
                    name=name,
                    status=Health.DOWN if down else Health.HEALTHY,
                    breaker=breaker.state,
                    retry_at=breaker.retry_at,
                    reason=_breaker_reason(breaker.manual, breaker.retry_at) if down else "",
                )
            )
        return result

    def active_users(self, *, seconds: int, now: datetime) -> int:
        return _distinct_users(self.session, now - timedelta(seconds=seconds), now)


def _breaker_reason(manual: bool, retry_at: datetime | None) -> str:
    if manual:
        return "its circuit breaker was tripped by hand"
    return f"its circuit breaker is open (retry at {retry_at:%H:%M:%S} UTC)"


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    # Nearest rank, as a sketch would answer within its error.
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


def _distinct_users(session: Session, since: datetime, until: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(func.distinct(DecisionRow.user_pk))).where(
                DecisionRow.at >= since, DecisionRow.at < until, DecisionRow.user_pk.is_not(None)
            )
        )
        or 0
    )


def _cost_between(session: Session, since: datetime, until: datetime) -> float:
    total = session.scalar(
        select(func.sum(UsageEvent.cost)).where(UsageEvent.at >= since, UsageEvent.at < until)
    )
    return float(total or 0.0)


def _figures(counts: Counts) -> WindowFigures:
    return WindowFigures(
        reports=counts.reports,
        failures=counts.errors + counts.timeouts,
        p95_ms=counts.latency_ms.p95,
        cost=counts.cost,
    )


def _kinds(rules: Iterable[AlertRule]) -> dict[RuleKind, set[int]]:
    """The windows each kind of rule needs, enabled rules only."""
    needed: dict[RuleKind, set[int]] = {}
    for rule in rules:
        if rule.enabled:
            needed.setdefault(rule.kind, set()).add(rule.window_s)
    return needed


class Gatherer:
    """Builds `Inputs` for a set of rules at a moment."""

    def __init__(
        self,
        *,
        db: Database,
        gate: Gate,
        live: Callable[[], LiveFigures | None],
        history_ttl_s: float,
    ) -> None:
        self.db = db
        self.gate = gate
        self.live = live
        self.history = History(history_ttl_s)

    def gather(self, rules: Iterable[AlertRule], now: datetime) -> Inputs:
        needed = _kinds(rules)
        providers = tuple(sorted(self.gate.providers))
        with self.db.reading() as session:
            live, stored = self.live(), StoredFigures(session, self.gate)

            def source(seconds: int) -> LiveFigures:
                # The aggregator keeps the last hour in memory; longer windows are read back.
                return live if live is not None and seconds <= LIVE_WINDOW_S else stored

            figures: dict[int, dict[str, WindowFigures]] = {}
            for seconds in needed.get(RuleKind.ERROR_RATE, set()) | needed.get(
                RuleKind.LATENCY_P95, set()
            ):
                figures[seconds] = {
                    subject: _figures(
                        source(seconds).window(
                            seconds=seconds,
                            now=now,
                            provider=None if subject == TOTAL else subject,
                        )
                    )
                    for subject in (TOTAL, *providers)
                }
            down = {}
            if RuleKind.PROVIDER_DOWN in needed or figures:
                health = (live or stored).health(now)
                down = {h.name: h.reason for h in health if h.status is Health.DOWN}
            cost = {
                seconds: self._cost(session, source(seconds), seconds, now)
                for seconds in needed.get(RuleKind.COST_SPIKE, set())
            }
            users = {
                seconds: self._users(session, source(seconds), seconds, now)
                for seconds in needed.get(RuleKind.ACTIVE_USERS_DROP, set())
            }
            breached: tuple[int, tuple[int, ...]] = (0, ())
            if RuleKind.SLA_BREACH in needed:
                breached = self.history.get(
                    ("tickets",), now, lambda: _breached_tickets(session, now)
                )
            spenders: tuple[float, tuple[tuple[str, float], ...]] = (0.0, ())
            if RuleKind.HEAVY_USER in needed:
                spenders = self.history.get(("spend",), now, lambda: _spend_today(session, now))
        return Inputs(
            now=now,
            providers=providers,
            windows=figures,
            down=down,
            cost=cost,
            users=users,
            budget=self._budget(now) if RuleKind.GLOBAL_BUDGET in needed else None,
            breached_tickets=breached[0],
            breached_ids=breached[1],
            spend_today=spenders[0],
            top_spenders=spenders[1],
        )

    def _cost(
        self, session: Session, source: LiveFigures, seconds: int, now: datetime
    ) -> CostFigures:
        window = timedelta(seconds=seconds)
        recent = source.window(seconds=seconds, now=now).cost
        baseline = self.history.get(
            ("cost", seconds), now, lambda: _cost_between(session, now - window - DAY, now - window)
        )
        return CostFigures(
            recent_per_hour=recent * 3600 / seconds, baseline_per_hour=float(baseline) / 24
        )

    def _users(
        self, session: Session, source: LiveFigures, seconds: int, now: datetime
    ) -> UserFigures:
        then = now - WEEK
        last_week = self.history.get(
            ("users", seconds),
            now,
            lambda: _distinct_users(session, then - timedelta(seconds=seconds), then),
        )
        return UserFigures(now=source.active_users(seconds=seconds, now=now), last_week=last_week)

    def _budget(self, now: datetime) -> Budget:
        day, week = self.gate.counters.global_spend(now)
        cap_switch = self.gate.switches[SwitchName.GLOBAL_BUDGET_CAP]
        day_cap = (
            float(cap_switch.value) if cap_switch.active(now) else self.gate.config.global_day_cap
        )
        return Budget(
            day=day, week=week, day_cap=day_cap, week_cap=self.gate.config.global_week_cap
        )


def _breached_tickets(session: Session, now: datetime) -> tuple[int, tuple[int, ...]]:
    query = TicketFilter(breached=True).apply(
        select(Ticket, User.id).join(User, User.pk == Ticket.user_pk), now
    )
    count = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    ids = tuple(
        session.scalars(
            query.with_only_columns(Ticket.id)
            .order_by(Ticket.next_due_at, Ticket.id)
            .limit(BREACHED_TICKETS_LISTED)
        )
    )
    return count, ids


def _spend_today(session: Session, now: datetime) -> tuple[float, tuple[tuple[str, float], ...]]:
    since = windows.day_start(now)
    total = _cost_between(session, since, now + timedelta(microseconds=1))
    spend = func.sum(UsageEvent.cost)
    rows = session.execute(
        select(User.id, spend)
        .join(User, User.pk == UsageEvent.user_pk)
        .where(UsageEvent.at >= since, UsageEvent.at <= now)
        .group_by(User.id)
        .order_by(spend.desc())
        .limit(HEAVY_USERS_CONSIDERED)
    ).all()
    return total, tuple((user_id, float(cost or 0.0)) for user_id, cost in rows)
