"""The half of a gate client that does no I/O, shared by ``GateClient`` and ``AsyncGateClient``.

Settings and their validation, the counters, the report queue, and what each answer from the
control plane means live here once; a subclass adds only how requests travel and how its
sender waits (a thread and a condition, or a task and events).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import httpx

from opsconsole.sdk.batcher import Counters, ReportQueue
from opsconsole.sdk.decisions import (
    Decision,
    FailMode,
    Reachability,
    degraded_decision,
    parse_decision,
    parse_fail_mode,
)
from opsconsole.sdk.errors import GateUnavailable, refusal, unavailable_status
from opsconsole.sdk.protocol import admit_body, http_options
from opsconsole.wire.gate import UsageReport, UsageStatus


class BaseGateClient(ABC):
    """Settings, counters, report queue and answer handling; see ``GateClient`` for the args."""

    def __init__(
        self,
        base_url: str,
        app_key: str,
        *,
        timeout: float = 0.5,
        fail_mode: FailMode | str = "open",
        fallback_provider: str = "fallback",
        verify: bool | str = True,
        batch_size: int = 100,
        flush_interval: float = 0.5,
        max_buffer: int = 100_000,
        max_connections: int = 100,
    ) -> None:
        self.fail_mode = parse_fail_mode(fail_mode)
        self.fallback_provider = fallback_provider
        self.timeout = timeout
        options = http_options(base_url, app_key, timeout, verify, max_connections)
        self._counters = Counters()
        self._queue = ReportQueue(
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_buffer=max_buffer,
            counters=self._counters,
        )
        self._reach = Reachability()
        self._closing = False  # no more reports; the sender exits once the queue is empty
        self._closed = False
        # Last, so that no connection pool is opened for settings that are then refused.
        self._start(options)

    @property
    def stats(self) -> dict[str, int]:
        """Counters: admits, degraded, reports_sent/_dropped/_skipped/_pending, report_errors."""
        return self._counters.snapshot(self._queue.pending())

    # --- for the subclasses ----------------------------------------------------------------

    @abstractmethod
    def _start(self, pool_options: dict[str, Any]) -> None:
        """Open the connection pool (``pool_options`` are its keyword arguments) and whatever
        the report sender waits on."""

    def _admit_body(
        self, user_id: str, feature: str, estimated_tokens: int | None, dry_run: bool
    ) -> dict[str, Any]:
        """The body of an admit about to be sent (counted as one)."""
        self._counters.add(admits=1)
        return admit_body(user_id, feature, estimated_tokens, dry_run)

    def _admitted(self, response: httpx.Response) -> Decision:
        """The decision an admit answer carries, or the fail mode's when it carries none.

        Raises:
            GateError: a 4xx other than 429, never answered by the fail mode.
            GateUnavailable: the control plane could not answer and the fail mode is raise.
        """
        if unavailable_status(response.status_code):
            return self._degraded(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise refusal(response)
        try:
            decision = parse_decision(response.json())
        except ValueError as exc:
            return self._degraded(str(exc))
        self._reach.succeeded()
        return decision

    def _degraded(self, why: str) -> Decision:
        """What the fail mode answers when the control plane could not (``why``)."""
        self._reach.failed("admit", why, self.fail_mode)
        if self.fail_mode is FailMode.RAISE:
            raise GateUnavailable(f"control plane unreachable: {why}")
        self._counters.add(degraded=1)
        return degraded_decision(self.fail_mode, self.fallback_provider)

    def _usage(  # noqa: PLR0917 - report()'s own arguments, passed on in its order
        self,
        decision: Decision,
        input_tokens: int,
        output_tokens: int,
        latency_ms: float,
        status: str,
        cost: float | None,
    ) -> dict[str, Any] | None:
        """The report body to queue, or None when the decision has nothing to report against.

        Raises:
            ValueError: a value is out of range or ``status`` is not ok, error or timeout.
        """
        if decision.decision_id is None:
            self._counters.add(reports_skipped=1)
            return None
        assert decision.provider is not None  # a decision with an id names its provider
        # Validated now, while queueing, so that one bad call cannot sink a whole batch
        # (pydantic's ValidationError is a ValueError).
        report = UsageReport(
            decision_id=decision.decision_id,
            provider=decision.provider,
            model=decision.model or decision.provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            status=UsageStatus(status),
            cost=cost,
        )
        return report.model_dump(mode="json", exclude_none=True)
