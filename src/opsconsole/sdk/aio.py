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

import httpx

from opsconsole.sdk import protocol
from opsconsole.sdk.base import BaseGateClient
from opsconsole.sdk.batcher import Delivery, Queued
from opsconsole.sdk.decisions import Decision
from opsconsole.sdk.errors import describe_failure

log = logging.getLogger("opsconsole.sdk")


class AsyncGateClient(BaseGateClient):
    """An asyncio client of the control plane's gate; arguments as for ``GateClient``."""

    _http: httpx.AsyncClient
    _wake: asyncio.Event
    _progress: asyncio.Event
    _task: asyncio.Task[None] | None

    async def admit(
        self,
        user_id: str,
        feature: str = "default",
        *,
        estimated_tokens: int | None = None,
        dry_run: bool = False,
    ) -> Decision:
        """May ``user_id`` make an AI request now? See ``GateClient.admit``."""
        body = self._admit_body(user_id, feature, estimated_tokens, dry_run)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http.post(protocol.ADMIT_PATH, json=body)
        except (httpx.TransportError, TimeoutError) as exc:
            return self._degraded(describe_failure(exc))
        return self._admitted(response)

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
        body = self._usage(decision, input_tokens, output_tokens, latency_ms, status, cost)
        if body is None:
            return
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
        call = protocol.user_call(user_id, email=email, name=name, tier=tier, country=country)
        return await self._call(call)

    async def register_users(self, users: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Create or update up to 1000 users in one request; see `GateClient.register_users`."""
        return protocol.user_counts(await self._call(protocol.users_call(users)))

    async def open_ticket(
        self, user_id: str, subject: str, body: str, priority: str = "normal"
    ) -> dict[str, Any]:
        """Open a support ticket for a user; ``body`` becomes its first message."""
        return await self._call(protocol.ticket_call(user_id, subject, body, priority))

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

    def _start(self, pool_options: dict[str, Any]) -> None:
        self._http = httpx.AsyncClient(**pool_options)
        self._wake = asyncio.Event()  # work for the sender: a full batch, a flush, closing
        self._progress = asyncio.Event()  # a batch was settled: flush re-checks
        self._task = None

    async def _call(self, call: protocol.Call) -> dict[str, Any]:
        return call.answer(await self._send(call))

    async def _send(self, call: protocol.Call) -> protocol.Sent:
        """Send a request off the hot path; its answer, or the transport failure instead."""
        try:
            return await self._http.request(
                call.method, call.path, json=call.body, timeout=protocol.SLOW_TIMEOUT_S
            )
        except httpx.TransportError as exc:
            return exc

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
        delivery = Delivery(self._queue, batch)
        while not delivery.done:
            backoff_s = delivery.answered(await self._send(delivery.request()))
            if backoff_s is None:
                self._progress.set()  # reports were settled: a waiting flush re-checks
            else:
                await asyncio.sleep(backoff_s)
