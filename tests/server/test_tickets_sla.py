"""Unit tests of the SLA arithmetic (no server, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.server.settings import SlaPolicy
from opsconsole.server.tickets import sla

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("priority", "first", "resolution"),
    [
        ("urgent", 1 * H, 4 * H),
        ("high", 4 * H, 24 * H),
        ("normal", 24 * H, 72 * H),
        ("low", 72 * H, 7 * 24 * H),
    ],
)
def test_default_deadlines_per_priority(
    priority: str, first: timedelta, resolution: timedelta
) -> None:
    d = sla.deadlines(SlaPolicy(), priority, T0)
    assert d == sla.Deadlines(T0 + first, T0 + resolution)


def test_configured_policy_and_paused_time_move_deadlines() -> None:
    policy = SlaPolicy(high=(10, 30))
    d = sla.deadlines(policy, "high", T0, paused=timedelta(minutes=7))
    assert d.first_response_due == T0 + timedelta(minutes=17)
    assert d.resolution_due == T0 + timedelta(minutes=37)


def test_next_due_is_first_response_until_answered() -> None:
    d = sla.Deadlines(T0 + H, T0 + 4 * H)
    assert sla.next_due(d, first_responded=False) == T0 + H
    assert sla.next_due(d, first_responded=True) == T0 + 4 * H
    # A policy that gives less time to resolve than to answer: the earlier deadline counts.
    odd = sla.Deadlines(T0 + 4 * H, T0 + H)
    assert sla.next_due(odd, first_responded=False) == T0 + H


def test_resume_shifts_by_exactly_the_stopped_time() -> None:
    d = sla.Deadlines(T0 + H, T0 + 4 * H)
    stopped = timedelta(hours=2, minutes=13, microseconds=17)
    resumed = sla.resume(d, T0 + timedelta(minutes=30), T0 + timedelta(minutes=30) + stopped)
    assert resumed == sla.Deadlines(T0 + H + stopped, T0 + 4 * H + stopped)
    # A clock that went backwards never pulls deadlines earlier.
    assert sla.resume(d, T0, T0 - H) == d


def test_stopped_for() -> None:
    assert sla.stopped_for(None, T0) == timedelta(0)
    assert sla.stopped_for(T0, T0 + H) == H


@pytest.mark.parametrize(
    ("status", "paused_since", "now", "expected"),
    [
        ("open", None, T0 + H, False),  # exactly at the deadline: not yet late
        ("open", None, T0 + H + timedelta(microseconds=1), True),
        ("new", None, T0, False),
        ("resolved", None, T0 + 10 * H, False),
        ("closed", None, T0 + 10 * H, False),
        # Stopped before the deadline: not breached however long it waits.
        ("waiting_on_customer", T0 + H / 2, T0 + 100 * H, False),
        # Stopped after the deadline had passed: stays breached.
        ("waiting_on_customer", T0 + 2 * H, T0 + 100 * H, True),
    ],
)
def test_is_breached(
    status: str, paused_since: datetime | None, now: datetime, expected: bool
) -> None:
    assert (
        sla.is_breached(status=status, next_due_at=T0 + H, paused_since=paused_since, now=now)
        is expected
    )


def test_clock_runs_only_while_the_team_owes_an_answer() -> None:
    assert sla.clock_runs("new") and sla.clock_runs("open")
    for status in ("waiting_on_customer", "resolved", "closed"):
        assert not sla.clock_runs(status)


def test_micros_round_trip() -> None:
    delta = timedelta(days=3, hours=5, seconds=7, microseconds=123_456)
    assert sla.from_micros(sla.to_micros(delta)) == delta
