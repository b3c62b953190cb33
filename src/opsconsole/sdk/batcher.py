"""Report batching shared by the sync and async clients: the bounded queue, triage, delivery.

Neither waiting nor I/O happens here: :class:`ReportQueue` is a plain data structure guarded
by one lock, :func:`triage` turns an HTTP answer into what the sender does next, and
:class:`Delivery` applies it to one batch, so the thread-based and the asyncio-based senders
apply exactly the same rules and differ only in how they send and wait.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from opsconsole.sdk.protocol import REPORT_PATH, Call, Sent, status_and_body

log = logging.getLogger("opsconsole.sdk")

# The control plane refuses batches of more than 1,000 reports.
MAX_BATCH = 1000
# Backoff between attempts to deliver a batch: full jitter on an exponential curve. The cap is
# short because a report queue that waits long after the control plane came back only delays
# the quota and budget counters operators look at.
RETRY_BASE_S = 0.05
RETRY_CAP_S = 2.0


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based), with full jitter."""
    return random.uniform(0, min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(attempt, 16)))  # noqa: S311 - jitter, not crypto


@dataclass(slots=True)
class Queued:
    """One report waiting to be sent: its place in line, when it was queued, its JSON body."""

    seq: int
    at: float
    body: dict[str, Any]


@dataclass
class Counters:
    """What the client did so far; read through ``client.stats``."""

    admits: int = 0
    degraded: int = 0
    reports_sent: int = 0
    reports_dropped: int = 0
    reports_skipped: int = 0
    report_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: int) -> None:
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self, pending: int) -> dict[str, int]:
        with self.lock:
            return {
                "admits": self.admits,
                "degraded": self.degraded,
                "reports_sent": self.reports_sent,
                "reports_dropped": self.reports_dropped,
                "reports_skipped": self.reports_skipped,
                "reports_pending": pending,
                "report_errors": self.report_errors,
            }


class ReportQueue:
    """A bounded FIFO of reports plus the batch currently being delivered.

    Every report gets a sequence number; :meth:`low_water` is the smallest one not yet settled
    (sent or dropped), which is what ``flush`` waits on: "everything queued before I asked" is
    settled exactly when the low-water mark has passed the last number handed out by then.
    """

    def __init__(
        self, *, batch_size: int, flush_interval: float, max_buffer: int, counters: Counters
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}, not {batch_size}")
        if flush_interval <= 0:
            raise ValueError(f"flush_interval must be positive, not {flush_interval}")
        if max_buffer < batch_size:
            raise ValueError(f"max_buffer ({max_buffer}) must be at least batch_size")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.counters = counters
        self.lock = threading.Lock()
        self._items: deque[Queued] = deque()
        self._in_flight: list[Queued] = []
        self._last_seq = 0
        self._flush_target = 0

    # --- producer side ------------------------------------------------------------------

    def put(self, body: dict[str, Any], now: float) -> bool:
        """Queue one report; True when the sender should wake up (a full batch is ready)."""
        with self.lock:
            if len(self._items) >= self.max_buffer:
                # Oldest first: the newest usage matters most to live counters and breakers.
                self._items.popleft()
                self.counters.add(reports_dropped=1)
                log.warning(
                    "report buffer full (%d): dropped the oldest report; the control plane is "
                    "unreachable or slower than the report rate",
                    self.max_buffer,
                )
            self._last_seq += 1
            self._items.append(Queued(self._last_seq, now, body))
            return len(self._items) >= self.batch_size

    def request_flush(self) -> int:
        """Ask for everything queued so far to be sent now; returns the number to wait for."""
        with self.lock:
            self._flush_target = self._last_seq
            return self._last_seq

    # --- sender side --------------------------------------------------------------------

    def take(self, now: float, *, force: bool = False) -> list[Queued]:
        """The next batch if one is due (full, old enough, flushed or ``force``), else []."""
        with self.lock:
            if not self._items:
                return []
            head = self._items[0]
            due = (
                force
                or len(self._items) >= self.batch_size
                or now - head.at >= self.flush_interval
                or head.seq <= self._flush_target
            )
            if not due:
                return []
            count = min(self.batch_size, len(self._items))
            batch = [self._items.popleft() for _ in range(count)]
            self._in_flight.extend(batch)
            return batch

    def wait_time(self, now: float) -> float | None:
        """Seconds until the oldest queued report is due; None when nothing is queued."""
        with self.lock:
            if not self._items:
                return None
            return max(0.0, self._items[0].at + self.flush_interval - now)

    def settle(self, batch: list[Queued], *, sent: int = 0, dropped: int = 0) -> None:
        """The batch being delivered is done with (``sent`` + ``dropped`` of it)."""
        with self.lock:
            keep = {item.seq for item in batch}
            self._in_flight = [item for item in self._in_flight if item.seq not in keep]
        self.counters.add(reports_sent=sent, reports_dropped=dropped)

    def drop_all(self) -> int:
        """Give up on everything queued or in flight (closing with the plane unreachable)."""
        with self.lock:
            count = len(self._items) + len(self._in_flight)
            self._items.clear()
            self._in_flight = []
        self.counters.add(reports_dropped=count)
        return count

    def low_water(self) -> int:
        """The smallest sequence number not yet settled (one past the last when all are)."""
        with self.lock:
            candidates = [self._last_seq + 1]
            if self._items:
                candidates.append(self._items[0].seq)
            if self._in_flight:
                candidates.append(self._in_flight[0].seq)
            return min(candidates)

    def pending(self) -> int:
        with self.lock:
            return len(self._items) + len(self._in_flight)

    def empty(self) -> bool:
        with self.lock:
            return not self._items and not self._in_flight


class Verdict(Enum):
    SENT = "sent"  # 2xx: on disk at the control plane
    RETRY = "retry"  # unreachable, 429 or 5xx: try the same batch again after a backoff
    RESEND = "resend"  # 422 bad-report: drop the named reports, send the rest at once
    FAILED = "failed"  # another 4xx: sending it again cannot help


@dataclass
class Triage:
    verdict: Verdict
    bad_indices: frozenset[int] = frozenset()
    detail: str = ""


def triage(status: int | None, body: Any, batch_len: int) -> Triage:
    """What to do with a batch after the control plane answered ``status`` (None: no answer)."""
    if status is None or status == 429 or status >= 500:
        return Triage(Verdict.RETRY, detail=f"HTTP {status}" if status else "unreachable")
    if 200 <= status < 300:
        return Triage(Verdict.SENT)
    detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
    if (
        status == 422
        and isinstance(body, dict)
        and str(body.get("type", "")).endswith("bad-report")
    ):
        problems = body.get("problems")
        indices: set[int] = set()
        if isinstance(problems, list):
            for problem in problems:
                index = problem.get("index") if isinstance(problem, dict) else None
                if isinstance(index, int) and 0 <= index < batch_len:
                    indices.add(index)
        if indices:
            return Triage(Verdict.RESEND, frozenset(indices), detail)
    return Triage(Verdict.FAILED, detail=detail or f"HTTP {status}")


def describe_bad(body: Any) -> str:
    """A short log line naming the refused reports (first five) and why."""
    problems = body.get("problems", []) if isinstance(body, dict) else []
    parts = [
        f"{p.get('decision_id')}: {p.get('problem')}" for p in problems[:5] if isinstance(p, dict)
    ]
    more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
    return "; ".join(parts) + more


class Delivery:
    """One batch on its way to the control plane, and what each answer means for it.

    A sender sends :meth:`request` while not :attr:`done`, hands what came of it to
    :meth:`answered` and, when that returns seconds to back off, waits them before retrying.
    """

    def __init__(self, queue: ReportQueue, batch: list[Queued]) -> None:
        self._queue = queue
        self._batch = batch
        self._retries = 0

    @property
    def done(self) -> bool:
        return not self._batch

    def request(self) -> Call:
        return Call("POST", REPORT_PATH, {"reports": [item.body for item in self._batch]})

    def answered(self, sent: Sent) -> float | None:
        """Settle what the answer decided; the backoff before a retry, or None to go on now."""
        status, body = status_and_body(sent)
        batch = self._batch
        outcome = triage(status, body, len(batch))
        if outcome.verdict is Verdict.SENT:
            self._finish(sent=len(batch))
            if self._retries:
                log.warning("report batch delivered after %d retries", self._retries)
            return None
        self._queue.counters.add(report_errors=1)
        if outcome.verdict is Verdict.RESEND:
            bad = [item for i, item in enumerate(batch) if i in outcome.bad_indices]
            self._batch = [item for i, item in enumerate(batch) if i not in outcome.bad_indices]
            self._queue.settle(bad, dropped=len(bad))
            log.warning("control plane refused %d reports: %s", len(bad), describe_bad(body))
            return None
        if outcome.verdict is Verdict.FAILED:
            self._finish(dropped=len(batch))
            log.error(
                "control plane refused a batch of %d reports (%s); dropped",
                len(batch),
                outcome.detail,
            )
            return None
        self._retries += 1
        if self._retries == 1:
            log.warning(
                "report batch of %d not delivered (%s); retrying with backoff",
                len(batch),
                outcome.detail if status else body,
            )
        return backoff(self._retries)

    def _finish(self, *, sent: int = 0, dropped: int = 0) -> None:
        self._queue.settle(self._batch, sent=sent, dropped=dropped)
        self._batch = []
