"""The synchronous SDK: ask the gate before each AI request, report what it cost afterwards.

``admit`` is one HTTP round trip on a keep-alive connection, bounded by ``timeout``; when the
control plane cannot answer (connection refused, timeout, 429, 5xx) the client's fail mode
decides instead and the decision says ``degraded=True``. A 4xx other than 429 is a bug in the
calling code (bad key, bad user id) and raises :class:`GateError`: failing open on it would
hide the bug. ``report`` never does I/O: it queues the report for a background thread that
sends batches, retries with backoff while the control plane is away, and drops only what the
control plane refuses for good. ``close`` (or leaving the ``with`` block, or interpreter exit)
flushes what is queued.

Example::

    with GateClient("https://ops.internal:8443", app_key) as gate:
        decision = gate.admit(user.id, "coach")
        if not decision.allow:
            return refuse(decision.reason)
        answer = call_llm(decision.provider, decision.model, prompt)
        gate.report(decision, input_tokens=answer.prompt_tokens,
                    output_tokens=answer.completion_tokens, latency_ms=answer.ms)
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

from opsconsole.sdk import protocol
from opsconsole.sdk.base import BaseGateClient
from opsconsole.sdk.batcher import Delivery, Queued
from opsconsole.sdk.decisions import Decision, FailMode
from opsconsole.sdk.errors import GateError, GateUnavailable, describe_failure
from opsconsole.sdk.protocol import MAX_USERS_PER_BATCH

# Names that were defined here before the client was split up, still importable from here.
__all__ = [
    "MAX_USERS_PER_BATCH",
    "Decision",
    "FailMode",
    "GateClient",
    "GateError",
    "GateUnavailable",
]

log = logging.getLogger("opsconsole.sdk")

_LIVE: weakref.WeakSet[GateClient] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for client in list(_LIVE):
        try:
            client.close(timeout=5)
        except Exception:  # exiting: log it and keep closing the others
            log.exception("closing a GateClient at exit failed")


atexit.register(_close_all_at_exit)


class GateClient(BaseGateClient):
    """A thread-safe client of the control plane's gate, for an AI app's backend.

    Args:
        base_url: the control plane, e.g. ``https://ops.internal:8443``.
        app_key: the app key (``opsconsole admin app-key``), sent as a bearer token.
        timeout: seconds ``admit`` waits for each phase (connect, send, receive) before the
            fail mode decides; the total is in practice at most about twice this.
        fail_mode: ``open``, ``closed`` or ``raise`` (see :class:`FailMode`).
        fallback_provider: the provider a degraded fail-open decision names.
        verify: TLS verification: True, False, or the path of a CA bundle / self-signed cert.
        batch_size: reports per POST (at most 1,000).
        flush_interval: the longest a report waits in the queue before it is sent.
        max_buffer: reports kept while the control plane is away; beyond it the oldest go.
        max_connections: size of the keep-alive pool (concurrent admits in flight).
    """

    _http: httpx.Client
    _cond: threading.Condition
    _thread: threading.Thread | None
    _abandon: bool

    # --- the hot path ----------------------------------------------------------------------

    def admit(
        self,
        user_id: str,
        feature: str = "default",
        *,
        estimated_tokens: int | None = None,
        dry_run: bool = False,
    ) -> Decision:
        """May ``user_id`` make an AI request now, and through which provider?

        Raises:
            GateError: the control plane refused the call itself (bad app key, invalid user
                id or feature): a bug to fix, never answered by the fail mode.
            GateUnavailable: only with ``fail_mode="raise"``.
        """
        body = self._admit_body(user_id, feature, estimated_tokens, dry_run)
        try:
            response = self._http.post(protocol.ADMIT_PATH, json=body)
        except httpx.TransportError as exc:
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
        """Queue what an admitted request cost; sent in the background, never blocks.

        Decisions without a ``decision_id`` (denials, dry runs, degraded decisions) have
        nothing to report against: their reports are skipped (counted in
        ``stats["reports_skipped"]``).

        Raises:
            ValueError: a value is out of range or ``status`` is not ok, error or timeout.
        """
        body = self._usage(decision, input_tokens, output_tokens, latency_ms, status, cost)
        if body is None:
            return
        with self._cond:
            if self._closing:
                self._counters.add(reports_dropped=1)
                log.warning("report after close() dropped: %s", decision.decision_id)
                return
            wake = self._queue.put(body, time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="opsconsole-sdk-reports", daemon=True
                )
                self._thread.start()
            # The sender sleeps until the oldest report is due; a full batch cannot wait.
            if wake or self._queue.pending() == 1:
                self._cond.notify_all()

    # --- users and tickets -----------------------------------------------------------------

    def register_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        tier: str | None = None,
        country: str | None = None,
    ) -> dict[str, Any]:
        """Create or update one of the app's users; fields left None keep their value.

        Raises:
            GateError: the control plane refused the values (unknown tier, bad email...).
            GateUnavailable: the control plane could not be reached.
        """
        return self._call(
            protocol.user_call(user_id, email=email, name=name, tier=tier, country=country)
        )

    def register_users(self, users: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Create or update up to 1000 users in one request and one transaction.

        Each user is a mapping with ``id`` and any of ``email``, ``name``, ``tier``,
        ``country`` (None values are left out: they keep their value). Returns the counts
        ``created``, ``updated``, ``unchanged``.

        Raises:
            GateError: the control plane refused the batch (one bad entry refuses it whole).
            GateUnavailable: the control plane could not be reached.
        """
        return protocol.user_counts(self._call(protocol.users_call(users)))

    def open_ticket(
        self, user_id: str, subject: str, body: str, priority: str = "normal"
    ) -> dict[str, Any]:
        """Open a support ticket for a user; ``body`` becomes its first message."""
        return self._call(protocol.ticket_call(user_id, subject, body, priority))

    # --- lifecycle -------------------------------------------------------------------------

    def flush(self, timeout: float = 10) -> None:
        """Send everything queued so far now and wait until each is acknowledged or dropped.

        Returns after ``timeout`` seconds at the latest (logging a warning) if the control
        plane stays away; the reports stay queued and are retried.
        """
        target = self._queue.request_flush()
        with self._cond:
            self._cond.notify_all()
            done = self._cond.wait_for(lambda: self._queue.low_water() > target, timeout)
        if not done:
            log.warning(
                "flush timed out after %.1f s with %d reports pending",
                timeout,
                self._queue.pending(),
            )

    def close(self, timeout: float = 10) -> None:
        """Flush (waiting up to ``timeout``), stop the sender and close the connections.

        Reports still unsent after ``timeout`` are dropped with a warning.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
        _LIVE.discard(self)
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._abandon = not self._queue.empty()
            self._cond.notify_all()
        if self._thread is not None:
            # A POST under way may take up to its own timeout to give up.
            self._thread.join(protocol.SLOW_TIMEOUT_S + 1)
        dropped = self._queue.drop_all()
        if dropped:
            log.warning("closed with %d reports undelivered: dropped", dropped)
        self._http.close()

    def __enter__(self) -> GateClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------------

    def _start(self, pool_options: dict[str, Any]) -> None:
        self._http = httpx.Client(**pool_options)
        # One condition for all waiting: the sender waits for work, flush waits for progress.
        self._cond = threading.Condition()
        self._thread = None
        self._abandon = False  # closing gave up on what is left; the sender exits now
        _LIVE.add(self)

    def _call(self, call: protocol.Call) -> dict[str, Any]:
        return call.answer(self._send(call))

    def _send(self, call: protocol.Call) -> protocol.Sent:
        """Send a request off the hot path; its answer, or the transport failure instead."""
        try:
            return self._http.request(
                call.method, call.path, json=call.body, timeout=protocol.SLOW_TIMEOUT_S
            )
        except httpx.TransportError as exc:
            return exc

    def _run(self) -> None:
        """The sender thread: take due batches and deliver them, until closed."""
        while True:
            with self._cond:
                while True:
                    if self._abandon:
                        return
                    now = time.monotonic()
                    batch = self._queue.take(now, force=self._closing)
                    if batch:
                        break
                    if self._closing:
                        return
                    self._cond.wait(self._queue.wait_time(now))
            try:
                self._deliver(batch)
            except Exception:  # a bug here must not silently stop all reporting
                log.exception("report sender failed; dropping a batch of %d", len(batch))
                self._queue.settle(batch, dropped=len(batch))
            with self._cond:
                self._cond.notify_all()

    def _deliver(self, batch: list[Queued]) -> None:
        delivery = Delivery(self._queue, batch)
        while not delivery.done:
            backoff_s = delivery.answered(self._send(delivery.request()))
            if backoff_s is not None:
                with self._cond:
                    if self._cond.wait_for(lambda: self._abandon, backoff_s):
                        return
