"""A circuit breaker per provider, fed by usage reports.

closed -> open when, over the last ``window`` reports (and at least ``min_requests``), the error
rate or the timeout rate passes its threshold; open -> half_open after ``recovery_s``; in
half_open a few probe requests go through, and ``probes`` successes close it while one failure
opens it again. An operator can trip or reset it by hand.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsconsole.wire.gate import BreakerPublic, BreakerSettings, BreakerState


@dataclass
class Breaker:
    settings: BreakerSettings = field(default_factory=BreakerSettings)
    state: BreakerState = BreakerState.CLOSED
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    manual: bool = False  # tripped by an operator: stays open until reset by hand
    # Outcomes of the last `window` reports: (error, timeout).
    outcomes: deque[tuple[bool, bool]] = field(default_factory=deque)
    # Running totals over `outcomes`, so a report costs O(1) however long the window.
    errors: int = 0
    timeouts: int = 0
    probe_successes: int = 0
    probes_in_flight: int = 0
    # A probe whose report never comes (the app crashed) must not block the breaker forever.
    probe_deadline: datetime | None = None

    def allows(self, now: datetime) -> bool:
        """Whether a request may be routed to this provider now (may start a probe)."""
        self._advance(now)
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN:
            return self.probes_in_flight < self.settings.probes
        return False

    def on_routed(self, now: datetime) -> None:
        self._advance(now)
        if self.state is BreakerState.HALF_OPEN:
            self.probes_in_flight += 1
            self.probe_deadline = now + timedelta(milliseconds=2 * self.settings.timeout_ms)

    def on_report(self, *, error: bool, timeout: bool, now: datetime) -> bool:
        """Record one outcome; returns True when the state changed."""
        before = self.state
        self._advance(now)
        if self.state is BreakerState.HALF_OPEN:
            self.probes_in_flight = max(0, self.probes_in_flight - 1)
            if error or timeout:
                self._open(now)
            else:
                self.probe_successes += 1
                if self.probe_successes >= self.settings.probes:
                    self._close()
            return self.state is not before
        self.outcomes.append((error, timeout))
        self.errors += error
        self.timeouts += timeout
        while len(self.outcomes) > self.settings.window:
            old_error, old_timeout = self.outcomes.popleft()
            self.errors -= old_error
            self.timeouts -= old_timeout
        if self.state is BreakerState.CLOSED and self._tripped():
            self._open(now)
        return self.state is not before

    def trip(self, now: datetime) -> None:
        self._open(now)
        self.manual = True

    def reset(self) -> None:
        self._close()

    def adopt(
        self,
        state: BreakerState,
        *,
        opened_at: datetime | None,
        retry_at: datetime | None,
        manual: bool,
    ) -> None:
        """Take the state another replica reached (see `broadcast.py`)."""
        if state is BreakerState.CLOSED:
            self._close()
            return
        if (state, opened_at, retry_at, manual) == (
            self.state,
            self.opened_at,
            self.retry_at,
            self.manual,
        ):
            return  # already there: keep this replica's probe accounting
        self.state = state
        self.opened_at = opened_at
        self.retry_at = retry_at
        self.manual = manual
        self.probe_successes = 0
        self.probes_in_flight = 0

    def public(self, now: datetime) -> BreakerPublic:
        self._advance(now)
        failures = sum(1 for error, timeout in self.outcomes if error or timeout)
        return BreakerPublic(
            state=self.state,
            failures=failures,
            requests=len(self.outcomes),
            opened_at=self.opened_at,
            retry_at=self.retry_at,
            manual=self.manual,
        )

    def _tripped(self) -> bool:
        total = len(self.outcomes)
        if total < self.settings.min_requests:
            return False
        return (
            self.errors / total > self.settings.error_rate
            or self.timeouts / total > self.settings.timeout_rate
        )

    def _open(self, now: datetime) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.retry_at = now + timedelta(seconds=self.settings.recovery_s)
        self.probe_successes = 0
        self.probes_in_flight = 0

    def _close(self) -> None:
        self.state = BreakerState.CLOSED
        self.opened_at = None
        self.retry_at = None
        self.manual = False
        self.outcomes.clear()
        self.errors = self.timeouts = 0
        self.probe_successes = 0
        self.probes_in_flight = 0

    def _advance(self, now: datetime) -> None:
        if (
            self.state is BreakerState.OPEN
            and not self.manual
            and self.retry_at is not None
            and now >= self.retry_at
        ):
            self.state = BreakerState.HALF_OPEN
            self.probe_successes = 0
            self.probes_in_flight = 0
        if (
            self.state is BreakerState.HALF_OPEN
            and self.probe_deadline is not None
            and now >= self.probe_deadline
        ):
            self.probes_in_flight = 0
            self.probe_deadline = None
