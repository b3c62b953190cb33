"""The gate's hot counters: quotas, spend and rate limits, checked and counted in one step.

:class:`MemoryCounters` keeps them in this process (one replica); the Redis store in
`redis_counters.py` keeps the same numbers in Redis with one round trip per decision, so
several replicas enforce one truth. Both implement :class:`CounterStore`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from opsconsole.server.gate import windows
from opsconsole.server.gate.state import PendingDecision
from opsconsole.wire.gate import DenyReason

# A decision can be reported this long after it was made; later reports are refused.
DECISION_TTL = timedelta(hours=1)
UNKNOWN_DECISION = "no open decision with this id (unknown, expired or reported already)"


# Built on every decision: slotted, unfrozen dataclasses construct about twice as fast.
@dataclass(slots=True)
class Limits:
    """Everything one admission is checked against; None means "no limit"."""

    daily_requests: int | None
    weekly_budget: float
    monthly_budget: float
    user_rpm: int
    global_rpm: int | None
    global_day_cap: float | None
    global_week_cap: float | None


@dataclass(slots=True)
class Admission:
    reason: DenyReason  # OK when admitted
    retry_after_s: float | None
    requests_today: int  # after this request when counted
    spent_week: float
    spent_month: float
    global_spent_day: float
    global_spent_week: float


class CounterStore(Protocol):
    def admit(
        self,
        user: str,
        limits: Limits,
        now: datetime,
        *,
        count: bool,
        pending: PendingDecision | None = None,
    ) -> Admission:
        """Check every limit and, when all pass and ``count`` is set, count the request and
        keep ``pending`` open for its report."""
        ...

    def take_pending(
        self, reports: Sequence[tuple[str, str]], now: datetime
    ) -> list[PendingDecision | str]:
        """Close the decisions named by (decision id, provider) pairs, all or none.

        Returns, in order, each decision or the reason it cannot be reported; when any is a
        reason, no decision was closed.
        """
        ...

    def add_spend(self, user: str, cost: float, now: datetime) -> tuple[float, float]:
        """Add a reported cost; returns the global spend (today, this week) after it."""
        ...

    def add_spend_many(self, costs: Mapping[str, float], now: datetime) -> tuple[float, float]:
        """Add the costs of a batch, summed per user, in one step (one lock, one round trip);
        returns the global spend (today, this week) after it."""
        ...

    def global_spend(self, now: datetime) -> tuple[float, float]: ...

    def global_rpm(self, now: datetime) -> float: ...

    def user_usage(self, user: str, now: datetime) -> tuple[int, float, float]:
        """(requests today, spent this week, spent this month)."""
        ...


# An open decision in `MemoryCounters`: PendingDecision's fields after its id, in order.
_Open = tuple[int, str, str, str, str, str, datetime]


def _minute(now: datetime) -> int:
    return int(now.timestamp()) // 60


class MemoryCounters:
    """Counters in process memory; rebuilt from the store on start (see `GateState.load`)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = defaultdict(int)  # (user, day)
        self.spend: dict[tuple[str, str], float] = defaultdict(float)  # (user, week|month key)
        self.global_spent: dict[str, float] = defaultdict(float)  # day or week key
        # minute -> user (or "*" for everyone) -> requests; whole minutes are dropped when old.
        self.minutes: dict[int, dict[str, int]] = {}
        # Open decisions, oldest first, as plain tuples of strings, numbers and a datetime:
        # the garbage collector stops tracking such tuples, so the many thousands that wait
        # for their reports do not lengthen every full collection (an event-loop stall).
        self.pending: OrderedDict[str, _Open] = OrderedDict()
        # Decisions run on the event loop, but reports and tests may come from threads: the
        # check and the count must be one step.
        self._lock = threading.Lock()

    def admit(
        self,
        user: str,
        limits: Limits,
        now: datetime,
        *,
        count: bool,
        pending: PendingDecision | None = None,
    ) -> Admission:
        with self._lock:
            admission = self._admit(user, limits, now, count=count)
            if admission.reason is DenyReason.OK and count and pending is not None:
                self.keep(pending)
                self._expire_pending(now)
            return admission

    def keep(self, decision: PendingDecision) -> None:
        """Hold ``decision`` open for its report (decisions must come in time order)."""
        self.pending[decision.id] = (
            decision.user_pk,
            decision.user_id,
            decision.tier,
            decision.feature,
            decision.provider,
            decision.model,
            decision.at,
        )

    def take_pending(
        self, reports: Sequence[tuple[str, str]], now: datetime
    ) -> list[PendingDecision | str]:
        with self._lock:
            self._expire_pending(now)
            found: list[PendingDecision | str] = []
            for decision_id, provider in reports:
                kept = self.pending.get(decision_id)
                if kept is None:
                    found.append(UNKNOWN_DECISION)
                elif kept[4] != provider:
                    found.append(f"the decision routed to {kept[4]}, not {provider}")
                else:
                    found.append(PendingDecision(decision_id, *kept))
            if all(isinstance(item, PendingDecision) for item in found):
                for decision_id, _ in reports:
                    del self.pending[decision_id]
            return found

    def _expire_pending(self, now: datetime) -> None:
        cutoff = now - DECISION_TTL
        while self.pending:
            oldest = next(iter(self.pending.values()))
            if oldest[6] >= cutoff:
                break
            self.pending.popitem(last=False)

    def _admit(self, user: str, limits: Limits, now: datetime, *, count: bool) -> Admission:
        day, week, month = windows.day_key(now), windows.week_key(now), windows.month_key(now)
        minute, now_s = _minute(now), now.timestamp()
        requests_today = self.requests[(user, day)]
        spent_week, spent_month = self.spend[(user, week)], self.spend[(user, month)]
        global_day, global_week = self.global_spent[day], self.global_spent[week]
        reason, retry = DenyReason.OK, None
        previous, current = self._bucket(minute - 1), self._bucket(minute)
        user_prev, user_cur = previous.get(user, 0), current.get(user, 0)
        all_prev, all_cur = previous.get("*", 0), current.get("*", 0)
        if (limits.global_day_cap is not None and global_day >= limits.global_day_cap) or (
            limits.global_week_cap is not None and global_week >= limits.global_week_cap
        ):
            reason = DenyReason.GLOBAL_BUDGET_CAP
        elif spent_week >= limits.weekly_budget:
            reason = DenyReason.WEEKLY_BUDGET
        elif spent_month >= limits.monthly_budget:
            reason = DenyReason.MONTHLY_BUDGET
        elif limits.daily_requests is not None and requests_today >= limits.daily_requests:
            reason = DenyReason.DAILY_QUOTA
        elif windows.sliding_minute(user_prev, user_cur, now_s) >= limits.user_rpm:
            reason = DenyReason.USER_RATE_LIMITED
            retry = windows.retry_after(user_prev, user_cur, limits.user_rpm, now_s)
        elif (
            limits.global_rpm is not None
            and windows.sliding_minute(all_prev, all_cur, now_s) >= limits.global_rpm
        ):
            reason = DenyReason.GLOBAL_RATE_LIMITED
            retry = windows.retry_after(all_prev, all_cur, limits.global_rpm, now_s)
        if reason is DenyReason.OK and count:
            requests_today += 1
            self.requests[(user, day)] = requests_today
            current[user] = user_cur + 1
            current["*"] = all_cur + 1
        return Admission(
            reason, retry, requests_today, spent_week, spent_month, global_day, global_week
        )

    def add_spend(self, user: str, cost: float, now: datetime) -> tuple[float, float]:
        return self.add_spend_many({user: cost}, now)

    def add_spend_many(self, costs: Mapping[str, float], now: datetime) -> tuple[float, float]:
        week, month, day = windows.week_key(now), windows.month_key(now), windows.day_key(now)
        total = sum(costs.values())
        spend = self.spend
        with self._lock:
            for user, cost in costs.items():
                spend[(user, week)] += cost
                spend[(user, month)] += cost
            self.global_spent[day] += total
            self.global_spent[week] += total
            return self.global_spent[day], self.global_spent[week]

    def global_spend(self, now: datetime) -> tuple[float, float]:
        return self.global_spent[windows.day_key(now)], self.global_spent[windows.week_key(now)]

    def global_rpm(self, now: datetime) -> float:
        minute = _minute(now)
        previous, current = self._bucket(minute - 1), self._bucket(minute)
        return windows.sliding_minute(previous.get("*", 0), current.get("*", 0), now.timestamp())

    def user_usage(self, user: str, now: datetime) -> tuple[int, float, float]:
        return (
            self.requests[(user, windows.day_key(now))],
            self.spend[(user, windows.week_key(now))],
            self.spend[(user, windows.month_key(now))],
        )

    def _bucket(self, minute: int) -> dict[str, int]:
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = {}
            # Buckets older than the previous minute are never read again.
            for old in [m for m in self.minutes if m < minute - 1]:
                del self.minutes[old]
        return bucket
