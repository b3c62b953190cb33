"""SLA arithmetic for tickets: deadlines per priority, the stopped clock, and breaches.

Pure functions of times and the :class:`~opsconsole.server.settings.SlaPolicy`; no database.

The model: a ticket's deadlines are ``created_at + policy[priority] + stopped time``. The clock
runs while a ticket is ``new`` or ``open`` and stops while it waits on the customer or is
resolved/closed; when it starts again the deadlines move by exactly the stopped time. A ticket
is breached when it is not resolved/closed and its next deadline passed before now (or, while
its clock is stopped, before it stopped: a ticket breached when parked stays breached).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from opsconsole.server.settings import SlaPolicy

# States in which the team owes the customer something: the SLA clock runs.
RUNNING_STATES = frozenset({"new", "open"})
# States that end the obligation: never breached.
DONE_STATES = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class Deadlines:
    first_response_due: datetime
    resolution_due: datetime


def targets(policy: SlaPolicy, priority: str) -> tuple[timedelta, timedelta]:
    """(first response, resolution) allowances for a priority."""
    first_minutes, resolution_minutes = getattr(policy, priority)
    return timedelta(minutes=first_minutes), timedelta(minutes=resolution_minutes)


def deadlines(
    policy: SlaPolicy, priority: str, created_at: datetime, paused: timedelta = timedelta(0)
) -> Deadlines:
    """Deadlines of a ticket created at ``created_at`` whose clock was stopped for ``paused``."""
    first, resolution = targets(policy, priority)
    return Deadlines(created_at + first + paused, created_at + resolution + paused)


def next_due(d: Deadlines, *, first_responded: bool) -> datetime:
    """The deadline that matters next: first response until staff replied, then resolution."""
    if first_responded:
        return d.resolution_due
    # A policy could (oddly) give less time to resolve than to answer; the earlier one wins.
    return min(d.first_response_due, d.resolution_due)


def clock_runs(status: str) -> bool:
    return status in RUNNING_STATES


def stopped_for(paused_since: datetime | None, now: datetime) -> timedelta:
    """How long the clock has been stopped; zero when it runs."""
    if paused_since is None:
        return timedelta(0)
    return max(now - paused_since, timedelta(0))


def resume(d: Deadlines, paused_since: datetime, now: datetime) -> Deadlines:
    """The deadlines after a clock stopped at ``paused_since`` starts again at ``now``."""
    shift = stopped_for(paused_since, now)
    return Deadlines(d.first_response_due + shift, d.resolution_due + shift)


def is_breached(
    *, status: str, next_due_at: datetime, paused_since: datetime | None, now: datetime
) -> bool:
    """Not done, and the next deadline passed (before the clock stopped, if it is stopped)."""
    if status in DONE_STATES:
        return False
    reference = paused_since if paused_since is not None else now
    return next_due_at < reference


def to_micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> timedelta:
    return timedelta(microseconds=micros)
