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
from dataclasses import dataclass
from enum import StrEnum
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
from opsconsole.wire.gate import DenyReason, Remaining, UsageReport, UsageStatus

log = logging.getLogger("opsconsole.sdk")

# Report batches and user/ticket calls are off the hot path: give a busy control plane time.
SLOW_TIMEOUT_S = 5.0
USER_AGENT = "opsconsole-sdk"


class FailMode(StrEnum):
    """What ``admit`` answers when the control plane cannot be reached.

    ``open``: allow through ``fallback_provider`` (the AI feature keeps working, unmetered).
    ``closed``: deny with reason ``no_provider`` (nothing is spent that nobody counts).
    ``raise``: raise :class:`GateUnavailable` and let the caller decide.
    """

    OPEN = "open"
    CLOSED = "closed"
    RAISE = "raise"


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer to one ``admit``.

    Attributes:
        allow: whether the AI request may go ahead.
        provider: the provider to call (the fallback provider when degraded and failing open).
        model: the provider's model; None when denied or degraded.
        reason: a :class:`~opsconsole.wire.gate.DenyReason` (``ok`` when allowed); a plain
            string only if the control plane is newer than this SDK and sent a new reason.
        decision_id: what ``report`` refers to; None for denials, dry runs and degraded
            decisions (their reports are skipped).
        retry_after_s: when a denial lifts by itself (rate limits), if the gate knows.
        remaining: the user's remaining quota and budget, when the gate sends it.
        degraded: True when the control plane could not answer and the fail mode decided.
        policy: the routing policy that picked the provider, if the gate says.
        experiment: the traffic-split experiment the decision belongs to, if any.
    """

    allow: bool
    provider: str | None
    model: str | None
    reason: DenyReason | str
    decision_id: str | None = None
    retry_after_s: float | None = None
    remaining: Remaining | None = None
    degraded: bool = False
    policy: str | None = None
    experiment: str | None = None


class GateError(Exception):
    """The control plane refused a call as wrong (4xx other than 429): fix the calling code.

    Attributes:
        status: the HTTP status.
        problem_type: the RFC 9457 problem type URI (or "" when the body was not a problem).
        detail: what the control plane says went wrong and what to do about it.
        problem: the whole problem-details body.
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.problem_type = str(problem.get("type", ""))
        self.detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        super().__init__(f"HTTP {status}: {self.detail}")


class GateUnavailable(Exception):  # noqa: N818 - reads as the state it reports
    """The control plane could not be reached or did not answer in time (or answered 429/5xx)."""


# --- pieces shared with the async client -----------------------------------------------------


def parse_fail_mode(value: FailMode | str) -> FailMode:
    try:
        return FailMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in FailMode)
        raise ValueError(f"fail_mode must be one of {choices}, not {value!r}") from None


def http_options(
    base_url: str, app_key: str, timeout: float, verify: bool | str, max_connections: int
) -> dict[str, Any]:
    """Keyword arguments for httpx.Client / AsyncClient: one pool, kept alive, sized for load."""
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    if not app_key:
        raise ValueError("app_key is empty: create one with `opsconsole admin app-key`")
    return {
        "base_url": base_url.rstrip("/"),
        "headers": {"Authorization": f"Bearer {app_key}", "User-Agent": USER_AGENT},
        "timeout": httpx.Timeout(timeout),
        "limits": httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30,
        ),
        "verify": verify,
    }


def admit_body(
    user_id: str, feature: str, estimated_tokens: int | None, dry_run: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user_id, "feature": feature, "dry_run": dry_run}
    if estimated_tokens is not None:
        body["estimated_tokens"] = estimated_tokens
    return body


# One batch registration carries at most this many users (the server's limit).
MAX_USERS_PER_BATCH = 1000


def batch_body(users: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The entries of a batch registration, without the None values (they keep theirs)."""
    body = [{key: value for key, value in user.items() if value is not None} for user in users]
    if not 1 <= len(body) <= MAX_USERS_PER_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_USERS_PER_BATCH} users, not {len(body)}")
    return body


def parse_decision(data: Any) -> Decision:
    """A Decision from an admit response body; ValueError when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("allow"), bool):
        raise ValueError(f"not an admit response: {str(data)[:200]}")
    raw_reason = str(data.get("reason", ""))
    # A reason this SDK does not know yet stays a string rather than failing the request.
    reason: DenyReason | str = (
        DenyReason(raw_reason) if raw_reason in DenyReason._value2member_map_ else raw_reason
    )
    remaining = data.get("remaining")
    return Decision(
        allow=data["allow"],
        provider=data.get("provider"),
        model=data.get("model"),
        reason=reason,
        decision_id=data.get("decision_id"),
        retry_after_s=data.get("retry_after_s"),
        remaining=Remaining.model_validate(remaining) if remaining is not None else None,
        policy=data.get("policy"),
        experiment=data.get("experiment"),
    )


def degraded_decision(fail_mode: FailMode, fallback_provider: str) -> Decision:
    if fail_mode is FailMode.OPEN:
        return Decision(True, fallback_provider, None, DenyReason.OK, degraded=True)
    # No dedicated reason exists for "control plane unreachable" in the closed set the app
    # switches on; no_provider is the nearest truthful one and ``degraded`` tells them apart.
    return Decision(False, None, None, DenyReason.NO_PROVIDER, degraded=True)


def report_body(
    decision: Decision,
    *,
    input_tokens: int,
    output_tokens: int,
    latency_ms: float,
    status: str,
    cost: float | None,
) -> dict[str, Any]:
    """The wire form of one report, validated now so one bad call cannot sink a whole batch.

    Raises:
        ValueError: a field is out of range (pydantic's ValidationError is a ValueError).
    """
    assert decision.decision_id is not None and decision.provider is not None
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


def unavailable_status(status: int) -> bool:
    return status == 429 or status >= 500


def problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"detail": response.text[:500]}
    return data if isinstance(data, dict) else {"detail": str(data)[:500]}


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Reachability:
    """Logs the control plane going away and coming back once, not on every call."""

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()

    def failed(self, what: str, why: str, fail_mode: FailMode) -> None:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.warning(
                "control plane unreachable (%s: %s); admit fails %s until it answers again",
                what,
                why,
                fail_mode.value,
            )

    def succeeded(self) -> None:
        with self._lock:
            recovered, self._down = self._down, False
        if recovered:
            log.warning("control plane reachable again")


# --- the synchronous client ------------------------------------------------------------------

_LIVE: weakref.WeakSet[GateClient] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for client in list(_LIVE):
        try:
            client.close(timeout=5)
        except Exception:  # exiting: log it and keep closing the others
            log.exception("closing a GateClient at exit failed")


atexit.register(_close_all_at_exit)


class GateClient:
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
        self._http = httpx.Client(
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
        # One condition for all waiting: the sender waits for work, flush waits for progress.
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False  # no more reports; the sender exits once the queue is empty
        self._abandon = False  # closing gave up on what is left; the sender exits now
        self._closed = False
        _LIVE.add(self)

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
        self._counters.add(admits=1)
        body = admit_body(user_id, feature, estimated_tokens, dry_run)
        try:
            response = self._http.post("/v1/gate/admit", json=body)
        except httpx.TransportError as exc:
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
        """Queue what an admitted request cost; sent in the background, never blocks.

        Decisions without a ``decision_id`` (denials, dry runs, degraded decisions) have
        nothing to report against: their reports are skipped (counted in
        ``stats["reports_skipped"]``).

        Raises:
            ValueError: a value is out of range or ``status`` is not ok, error or timeout.
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
        fields = {"email": email, "name": name, "tier": tier, "country": country}
        body = {key: value for key, value in fields.items() if value is not None}
        return self._call("PUT", f"/v1/users/{quote(user_id, safe='')}", body)

    def register_users(self, users: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Create or update up to 1000 users in one request and one transaction.

        Each user is a mapping with ``id`` and any of ``email``, ``name``, ``tier``,
        ``country`` (None values are left out: they keep their value). Returns the counts
        ``created``, ``updated``, ``unchanged``.

        Raises:
            GateError: the control plane refused the batch (one bad entry refuses it whole).
            GateUnavailable: the control plane could not be reached.
        """
        body = {"users": batch_body(users)}
        return {key: int(value) for key, value in self._call("PUT", "/v1/users", body).items()}

    def open_ticket(
        self, user_id: str, subject: str, body: str, priority: str = "normal"
    ) -> dict[str, Any]:
        """Open a support ticket for a user; ``body`` becomes its first message."""
        payload = {"user_id": user_id, "subject": subject, "body": body, "priority": priority}
        return self._call("POST", "/v1/tickets", payload)

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """Counters: admits, degraded, reports_sent/_dropped/_skipped/_pending, report_errors."""
        return self._counters.snapshot(self._queue.pending())

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
            self._thread.join(SLOW_TIMEOUT_S + 1)
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

    def _degraded(self, why: str) -> Decision:
        self._reach.failed("admit", why, self.fail_mode)
        if self.fail_mode is FailMode.RAISE:
            raise GateUnavailable(f"control plane unreachable: {why}")
        self._counters.add(degraded=1)
        return degraded_decision(self.fail_mode, self.fallback_provider)

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body, timeout=SLOW_TIMEOUT_S)
        except httpx.TransportError as exc:
            raise GateUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if unavailable_status(response.status_code):
            raise GateUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise GateError(response.status_code, problem_of(response))
        data = json_or_none(response)
        return data if isinstance(data, dict) else {}

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
        attempt = 0
        while batch:
            status: int | None = None
            body: Any = None
            try:
                response = self._http.post(
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
            with self._cond:
                if self._cond.wait_for(lambda: self._abandon, backoff(attempt)):
                    return
