"""The gate's hot counters: quotas, spend and rate limits, checked and counted in one step.

:class:`MemoryCounters` keeps them in this process (one replica); the Redis store in
`redis_counters.py` keeps the same numbers in Redis with one round trip per decision, so
several replicas enforce one truth. Both implement :class:`CounterStore`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class RateWindow:
    """Requests in the current and the previous minute (a sliding-minute estimate's input)."""

    minute: int = 0
    current: int = 0
    previous: int = 0

    def at(self, minute: int) -> tuple[int, int]:
        """(previous, current) as they stand in ``minute``, without moving the window."""
        if minute <= self.minute:  # an earlier minute (the clock stepped back) reads the newest
            return self.previous, self.current
        if minute == self.minute + 1:
            return self.current, 0
        return 0, 0

    def roll(self, minute: int) -> None:
        if minute > self.minute:
            self.previous, self.current = self.at(minute)
            self.minute = minute


@dataclass(slots=True)
class UserCounts:
    """One user's numbers in the windows they were last counted in.

    One record per user instead of one dictionary entry per (user, day), (user, week)... :
    memory stays one record per active user however long the server runs, and a decision does
    one lookup and allocates nothing once the user is known.
    """

    day: int = 0
    requests: int = 0
    week: int = 0
    spent_week: float = 0.0
    month: int = 0
    spent_month: float = 0.0
    rate: RateWindow = field(default_factory=RateWindow)

    def roll(self, day: int, week: int, month: int) -> None:
        # Windows only move forward: after a step back of the clock, counting goes on in the
        # newest window rather than losing it.
        if day > self.day:
            self.day, self.requests = day, 0
        if week > self.week:
            self.week, self.spent_week = week, 0.0
        if month > self.month:
            self.month, self.spent_month = month, 0.0

    def usage(self, day: int, week: int, month: int) -> tuple[int, float, float]:
        return (
            self.requests if day == self.day else 0,
            self.spent_week if week == self.week else 0.0,
            self.spent_month if month == self.month else 0.0,
        )


@dataclass(slots=True)
class GlobalCounts:
    """Everyone's spend today and this week, and everyone's requests per minute."""

    day: int = 0
    spent_day: float = 0.0
    week: int = 0
    spent_week: float = 0.0
    rate: RateWindow = field(default_factory=RateWindow)

    def roll(self, day: int, week: int) -> bool:
        """Move to ``day`` and ``week``; True when the day changed."""
        if week > self.week:
            self.week, self.spent_week = week, 0.0
        if day > self.day:
            self.day, self.spent_day = day, 0.0
            return True
        return False

    def spend(self, day: int, week: int) -> tuple[float, float]:
        return (
            self.spent_day if day == self.day else 0.0,
            self.spent_week if week == self.week else 0.0,
        )


class MemoryCounters:
    """Counters in process memory; rebuilt from the store on start (see `GateState.load`)."""

    def __init__(self) -> None:
        self.users: dict[str, UserCounts] = {}
        self.everyone = GlobalCounts()
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
        day, week, month = windows.numbers(now)
        minute, now_s = windows.minute_number(now), now.timestamp()
        everyone = self._everyone(day, week, month)
        counts = self.users.get(user)
        if counts is None:
            counts = UserCounts(day, 0, week, 0.0, month, 0.0)
        else:
            counts.roll(day, week, month)
        user_rate, all_rate = counts.rate, everyone.rate
        user_rate.roll(minute)
        all_rate.roll(minute)
        requests_today = counts.requests
        reason, retry = DenyReason.OK, None
        if (limits.global_day_cap is not None and everyone.spent_day >= limits.global_day_cap) or (
            limits.global_week_cap is not None and everyone.spent_week >= limits.global_week_cap
        ):
            reason = DenyReason.GLOBAL_BUDGET_CAP
        elif counts.spent_week >= limits.weekly_budget:
            reason = DenyReason.WEEKLY_BUDGET
        elif counts.spent_month >= limits.monthly_budget:
            reason = DenyReason.MONTHLY_BUDGET
        elif limits.daily_requests is not None and requests_today >= limits.daily_requests:
            reason = DenyReason.DAILY_QUOTA
        elif windows.sliding_minute(user_rate.previous, user_rate.current, now_s) >= (
            limits.user_rpm
        ):
            reason = DenyReason.USER_RATE_LIMITED
            retry = windows.retry_after(
                user_rate.previous, user_rate.current, limits.user_rpm, now_s
            )
        elif (
            limits.global_rpm is not None
            and windows.sliding_minute(all_rate.previous, all_rate.current, now_s)
            >= limits.global_rpm
        ):
            reason = DenyReason.GLOBAL_RATE_LIMITED
            retry = windows.retry_after(
                all_rate.previous, all_rate.current, limits.global_rpm, now_s
            )
        if reason is DenyReason.OK and count:
            requests_today += 1
            counts.requests = requests_today
            user_rate.current += 1
            all_rate.current += 1
            # Only a counted user is remembered: checks alone (dry runs, denials of users
            # never admitted) leave no record behind.
            self.users.setdefault(user, counts)
        return Admission(
            reason,
            retry,
            requests_today,
            counts.spent_week,
            counts.spent_month,
            everyone.spent_day,
            everyone.spent_week,
        )

    def _everyone(self, day: int, week: int, month: int) -> GlobalCounts:
        everyone = self.everyone
        if everyone.roll(day, week):
            self._forget_idle(week, month)
        return everyone

    def _forget_idle(self, week: int, month: int) -> None:
        """Drop the records of users with nothing counted this week or month (once a day).

        A walk over every record (milliseconds for 100,000 users) once a day keeps memory to
        the users active this month, for a server that runs for months.
        """
        idle = [
            user
            for user, counts in self.users.items()
            if counts.week < week and counts.month < month
        ]
        for user in idle:
            del self.users[user]

    def add_spend(self, user: str, cost: float, now: datetime) -> tuple[float, float]:
        return self.add_spend_many({user: cost}, now)

    def add_spend_many(self, costs: Mapping[str, float], now: datetime) -> tuple[float, float]:
        day, week, month = windows.numbers(now)
        with self._lock:
            everyone = self._everyone(day, week, month)
            users = self.users
            for user, cost in costs.items():
                counts = users.get(user)
                if counts is None:
                    counts = users[user] = UserCounts(day, 0, week, 0.0, month, 0.0)
                else:
                    counts.roll(day, week, month)
                counts.spent_week += cost
                counts.spent_month += cost
            total = sum(costs.values())
            everyone.spent_day += total
            everyone.spent_week += total
            return everyone.spent_day, everyone.spent_week

    def restore(
        self,
        now: datetime,
        *,
        requests_today: Mapping[str, int],
        spent_week: Mapping[str, float],
        spent_month: Mapping[str, float],
        everyone_day: float,
        everyone_week: float,
    ) -> None:
        """Set the numbers of the windows ``now`` falls in (a rebuild from the database)."""
        day, week, month = windows.numbers(now)
        with self._lock:
            self.everyone.roll(day, week)
            self.everyone.spent_day, self.everyone.spent_week = everyone_day, everyone_week
            for user in {*requests_today, *spent_week, *spent_month}:
                self.users[user] = UserCounts(
                    day,
                    requests_today.get(user, 0),
                    week,
                    spent_week.get(user, 0.0),
                    month,
                    spent_month.get(user, 0.0),
                )

    def global_spend(self, now: datetime) -> tuple[float, float]:
        day, week, _ = windows.numbers(now)
        return self.everyone.spend(day, week)

    def global_rpm(self, now: datetime) -> float:
        previous, current = self.everyone.rate.at(windows.minute_number(now))
        return windows.sliding_minute(previous, current, now.timestamp())

    def user_usage(self, user: str, now: datetime) -> tuple[int, float, float]:
        counts = self.users.get(user)
        return counts.usage(*windows.numbers(now)) if counts else (0, 0.0, 0.0)
