"""The asyncio SDK: the same contract as :class:`~opsconsole.sdk.client.GateClient`, awaited.

``admit`` is bounded by ``timeout`` in total (an asyncio deadline around the whole call, not
only per phase). ``report`` stays a plain method that only queues: a background task, started
by the first report on the running loop, sends the batches. Use the client from one event loop
and close it with ``await client.aclose()`` or ``async with``: unlike the sync client it cannot
flush from an ``atexit`` hook, because the loop is gone by then.

Example::

    async with AsyncGateClient(url, app_key) as gate:
        decision = await gate.admit(user_id, "voice")
        ...
        gate.report(decision, input_tokens=812, output_tokens=95, latency_ms=640.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from opsconsole.sdk.batcher import (
    Counters,
    Queued,
    ReportQueue,
    Verdict,
    backoff,
    describe_bad,
    triage,
)
from opsconsole.sdk.client import (
    SLOW_TIMEOUT_S,
    Decision,
    FailMode,
    GateError,
    GateUnavailable,
    Reachability,
    admit_body,
    batch_body,
    degraded_decision,
    http_options,
    json_or_none,
    parse_decision,
    parse_fail_mode,
    problem_of,
    report_body,
    unavailable_status,
)

log = logging.getLogger("opsconsole.sdk")


class AsyncGateClient:
    """An asyncio client of the control plane's gate; arguments as for ``GateClient``."""

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
        self._http = httpx.AsyncClient(
            **http_options(base_url, app_key, timeout, verify, max_connections)
        )
        self._counters = Counters()
        self._queue = ReportQueue(
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_buffer=max_buffer,
            counters=self._counters,
        )
        self._reach = Reachability()
        self._wake = asyncio.Event()  # work for the sender: a full batch, a flush, closing
        self._progress = asyncio.Event()  # a batch was settled: flush re-checks
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False

    async def admit(
        self,
        user_id: str,
        feature: str = "default",
        *,
        estimated_tokens: int | None = None,
        dry_run: bool = False,
    ) -> Decision:
        """May ``user_id`` make an AI request now? See ``GateClient.admit``."""
        self._counters.add(admits=1)
        body = admit_body(user_id, feature, estimated_tokens, dry_run)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http.post("/v1/gate/admit", json=body)
        except (httpx.TransportError, TimeoutError) as exc:
            return self._degraded(f"{type(exc).__name__}: {exc}")
        if unavailable_status(response.status_code):
            return self._degraded(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise GateError(response.status_code, problem_of(response))
        try:
            decision = parse_decision(response.json())
        except ValueError as exc:
            return self._degraded(str(exc))
        self._reach.succeeded()
        return decision

    def report(
        self,
        decision: Decision,
        *,
        input_tokens: int,
        output_tokens: int,
        latency_ms: float,
        status: str = "ok",
        cost: float | None = None,
    ) -> None:
        """Queue what an admitted request cost (no I/O; call it on the client's loop).

        Raises:
            ValueError: a value is out of range or ``status`` is not ok, error or timeout.
            RuntimeError: no event loop is running (the sender task needs one).
        """
        if decision.decision_id is None:
            self._counters.add(reports_skipped=1)
            return
        body = report_body(
            decision,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            status=status,
            cost=cost,
        )
        if self._closing:
            self._counters.add(reports_dropped=1)
            log.warning("report after aclose() dropped: %s", decision.decision_id)
            return
        self._ensure_task()
        wake = self._queue.put(body, time.monotonic())
        if wake or self._queue.pending() == 1:
            self._wake.set()

    async def register_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        tier: str | None = None,
        country: str | None = None,
    ) -> dict[str, Any]:
        """Create or update one of the app's users; fields left None keep their value."""
        fields = {"email": email, "name": name, "tier": tier, "country": country}
        body = {key: value for key, value in fields.items() if value is not None}
        return await self._call("PUT", f"/v1/users/{quote(user_id, safe='')}", body)

    async def register_users(self, users: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Create or update up to 1000 users in one request; see `GateClient.register_users`."""
        answer = await self._call("PUT", "/v1/users", {"users": batch_body(users)})
        return {key: int(value) for key, value in answer.items()}

    async def open_ticket(
        self, user_id: str, subject: str, body: str, priority: str = "normal"
    ) -> dict[str, Any]:
        """Open a support ticket for a user; ``body`` becomes its first message."""
        payload = {"user_id": user_id, "subject": subject, "body": body, "priority": priority}
        return await self._call("POST", "/v1/tickets", payload)

    @property
    def stats(self) -> dict[str, int]:
        return self._counters.snapshot(self._queue.pending())

    async def flush(self, timeout: float = 10) -> None:
        """Send everything queued so far now and wait until each is acknowledged or dropped."""
        target = self._queue.request_flush()
        if self._queue.low_water() > target:
            return
        self._ensure_task()
        self._wake.set()
        deadline = time.monotonic() + timeout
        while self._queue.low_water() <= target:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning(
                    "flush timed out after %.1f s with %d reports pending",
                    timeout,
                    self._queue.pending(),
                )
                return
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._progress.wait()

    async def aclose(self, timeout: float = 10) -> None:
        """Flush (waiting up to ``timeout``), stop the sender task and close the connections."""
        if self._closed:
            return
        self._closed = True
        await self.flush(timeout)
        self._closing = True
        self._wake.set()
        if self._task is not None:
            if not self._queue.empty():
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        dropped = self._queue.drop_all()
        if dropped:
            log.warning("closed with %d reports undelivered: dropped", dropped)
        await self._http.aclose()

    async def __aenter__(self) -> AsyncGateClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- internals -------------------------------------------------------------------------

    def _degraded(self, why: str) -> Decision:
        self._reach.failed("admit", why, self.fail_mode)
        if self.fail_mode is FailMode.RAISE:
            raise GateUnavailable(f"control plane unreachable: {why}")
        self._counters.add(degraded=1)
        return degraded_decision(self.fail_mode, self.fallback_provider)

    async def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=body, timeout=SLOW_TIMEOUT_S)
        except httpx.TransportError as exc:
            raise GateUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if unavailable_status(response.status_code):
            raise GateUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise GateError(response.status_code, problem_of(response))
        data = json_or_none(response)
        return data if isinstance(data, dict) else {}

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="opsconsole-sdk-reports"
            )

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            batch = self._queue.take(now, force=self._closing)
            if not batch:
                if self._closing:
                    return
                # No await between the check above and clear(): no wake-up can be missed.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._queue.wait_time(now)):
                        await self._wake.wait()
                continue
            try:
                await self._deliver(batch)
            except Exception:  # a bug here must not silently stop all reporting
                log.exception("report sender failed; dropping a batch of %d", len(batch))
                self._queue.settle(batch, dropped=len(batch))
            self._progress.set()

    async def _deliver(self, batch: list[Queued]) -> None:
        attempt = 0
        while batch:
            status: int | None = None
            body: Any = None
            try:
                response = await self._http.post(
                    "/v1/gate/report",
                    json={"reports": [item.body for item in batch]},
                    timeout=SLOW_TIMEOUT_S,
                )
                status, body = response.status_code, json_or_none(response)
            except httpx.TransportError as exc:
                body = f"{type(exc).__name__}: {exc}"
            outcome = triage(status, body, len(batch))
            if outcome.verdict is Verdict.SENT:
                self._queue.settle(batch, sent=len(batch))
                if attempt:
                    log.warning("report batch delivered after %d retries", attempt)
                return
            self._counters.add(report_errors=1)
            if outcome.verdict is Verdict.RESEND:
                bad = [item for i, item in enumerate(batch) if i in outcome.bad_indices]
                batch = [item for i, item in enumerate(batch) if i not in outcome.bad_indices]
                self._queue.settle(bad, dropped=len(bad))
                self._progress.set()
                log.warning("control plane refused %d reports: %s", len(bad), describe_bad(body))
                continue
            if outcome.verdict is Verdict.FAILED:
                self._queue.settle(batch, dropped=len(batch))
                log.error(
                    "control plane refused a batch of %d reports (%s); dropped",
                    len(batch),
                    outcome.detail,
                )
                return
            attempt += 1
            if attempt == 1:
                log.warning(
                    "report batch of %d not delivered (%s); retrying with backoff",
                    len(batch),
                    outcome.detail if status else body,
                )
            await asyncio.sleep(backoff(attempt))
