"""Webhook notifications: Slack-compatible JSON, retried with exponential backoff.

Deliveries run on the notifier's own thread and event loop, so a slow or dead webhook never
holds up evaluation (which only puts a message on a queue) nor the server's event loop.
A message that still fails after the last attempt is logged and dropped; at most
`max_pending` deliveries wait at once, newer ones are dropped (and logged) beyond that.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx

from opsconsole.wire.alerts import Alert, AlertState

log = logging.getLogger("opsconsole.alerts.notify")

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 300.0


def message(alert: Alert, event: str) -> dict[str, Any]:
    """The body sent to every webhook: Slack's `text`, plus the alert for other receivers."""
    icon = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}.get(event, ":eyes:")
    text = f"{icon} [{alert.severity.upper()}] {alert.rule} on {alert.subject}: {alert.summary}"
    if event == "resolved":
        text = f"{icon} RESOLVED {alert.rule} on {alert.subject} (was: {alert.summary})"
    elif event == "acknowledged":
        text = (
            f"{icon} {alert.acknowledged_by} acknowledged {alert.rule} on {alert.subject}: "
            f"{alert.ack_comment}"
        )
    return {
        "text": text,
        "event": event,
        "alert": alert.model_dump(mode="json"),
        "firing": alert.state is AlertState.FIRING,
    }


@dataclass
class Stats:
    delivered: int = 0
    failed: int = 0  # gave up after the last attempt
    attempts: int = 0
    dropped: int = 0  # queue full
    errors: list[str] = field(default_factory=list)  # the last few, for the log and tests


class WebhookNotifier:
    """Posts messages to every configured URL; `send` never blocks."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        attempts: int = 6,
        backoff_s: float = 1.0,
        timeout_s: float = 5.0,
        max_pending: int = 1000,
    ) -> None:
        self.urls = list(urls)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self.stats = Stats()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._ready = threading.Event()

    def send(self, body: dict[str, Any]) -> list[Future[bool]]:
        """Queue one message for every URL; returns a future per delivery (True: delivered)."""
        if not self.urls:
            return []
        self._start()
        assert self._loop is not None
        futures = []
        for url in self.urls:
            with self._lock:
                if self._pending >= self.max_pending:
                    self.stats.dropped += 1
                    log.warning("webhook queue full: dropped a message for %s", url)
                    continue
                self._pending += 1
            futures.append(asyncio.run_coroutine_threadsafe(self._deliver(url, body), self._loop))
        return futures

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued message is delivered or given up; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._loop = self._thread = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="opsconsole-webhooks", daemon=True
            )
            self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._client = httpx.AsyncClient(timeout=self.timeout_s)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._client.aclose())
            loop.close()

    async def _deliver(self, url: str, body: dict[str, Any]) -> bool:
        try:
            return await self._attempts(url, body)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    async def _attempts(self, url: str, body: dict[str, Any]) -> bool:
        assert self._client is not None
        for attempt in range(1, self.attempts + 1):
            self.stats.attempts += 1
            retry_after: float | None = None
            try:
                response = await self._client.post(url, json=body)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.is_success:
                    self.stats.delivered += 1
                    return True
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    break  # the receiver refuses this message: sending it again will not help
                retry_after = _retry_after(response)
            self._note(f"{url}: attempt {attempt}: {problem}")
            if attempt < self.attempts:
                await asyncio.sleep(retry_after or self._backoff(attempt))
        self.stats.failed += 1
        self._note(f"{url}: gave up on {body.get('event')} of alert {_alert_id(body)}")
        log.error("webhook %s: gave up after %d attempts", url, self.attempts)
        return False

    def _backoff(self, attempt: int) -> float:
        # Exponential, with jitter so that many alerts to one recovering receiver spread out.
        delay = min(MAX_BACKOFF_S, self.backoff_s * 2.0 ** (attempt - 1))
        jitter: float = random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        return delay * jitter

    def _note(self, text: str) -> None:
        log.warning("webhook %s", text)
        self.stats.errors = [*self.stats.errors[-19:], text]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(MAX_BACKOFF_S, max(0.0, float(value)))
    except ValueError:
        return None


def _alert_id(body: dict[str, Any]) -> Any:
    alert = body.get("alert")
    return alert.get("id") if isinstance(alert, dict) else None
