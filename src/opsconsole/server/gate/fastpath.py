"""The gate's hot path in front of FastAPI: no routing, dependencies or middleware stack.

Every AI request of the app costs one admit, so its per-request overhead is what the gate's
throughput and tail latency are made of. Profiled under 64 clients, the layers around the
route (Starlette's error middleware, our error, metrics and body-limit middlewares, FastAPI's
own, each wrapping `send` and `receive`) cost as much CPU as the decision itself. This layer
sits outside all of them (see `ControlPlaneApp`) and answers the happy path of
`POST /v1/gate/admit` and `POST /v1/gate/report` directly: an app key already verified and
cached, a Content-Length within the body limit, a body that parses. It does for those
requests what the middlewares would: the HTTP metrics, and a 500 problem on an unexpected
error. Everything else, with the body it read, goes to the full application, which stays the
one definition of authentication failures, validation errors and problem details.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from opsconsole.server.auth import credentials
from opsconsole.server.deps import APP_KEY_CACHE_S
from opsconsole.server.errors import PROBLEM_MEDIA_TYPE, internal_error
from opsconsole.server.observability import HttpMetrics
from opsconsole.wire.gate import AdmitRequest, ReportBatch, ReportResult, UsageReport

log = logging.getLogger("opsconsole.server")

ADMIT, REPORT = "/v1/gate/admit", "/v1/gate/report"
PATHS = frozenset((ADMIT, REPORT))
JSON_HEADERS = [(b"content-type", b"application/json")]
ASGIHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


class GateFastPath:
    def __init__(
        self, app: ASGIHandler, state: Any, metrics: HttpMetrics, max_body_bytes: int
    ) -> None:
        self.app = app  # the full application, for everything this layer does not answer
        self.state = state  # the FastAPI app's state: gate runtime and app key cache
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        # Children bound on first use (a series appears once it has a request): looking a
        # labelled child up per request costs more than using it.
        self._answered: dict[str, Any] = {}
        self._timed: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if (
            path not in PATHS
            or scope["type"] != "http"
            or scope.get("method") != "POST"
            or not self._acceptable(scope)
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body = await _read_body(receive)
        try:
            answer = await self._answer(path, body)
        except ValidationError:
            answer = None
        except Exception:
            log.exception("unhandled error on POST %s", path)
            await _send(send, 500, _problem_json(path), PROBLEM_MEDIA_TYPE)
            self.metrics.requests.labels(path, "POST", "500").inc()  # rare: looked up
            self.metrics.latency.labels(path, "POST").observe(time.perf_counter() - started)
            return
        if answer is None:
            await self.app(scope, _replay(body), send)
            return
        await _send(send, 200, answer, "application/json")
        self._observe(path, time.perf_counter() - started)

    def _observe(self, path: str, seconds: float) -> None:
        answered = self._answered.get(path)
        timed = self._timed.get(path)
        if answered is None or timed is None:
            answered = self._answered[path] = self.metrics.requests.labels(path, "POST", "200")
            timed = self._timed[path] = self.metrics.latency.labels(path, "POST")
        answered.inc()
        timed.observe(seconds)

    async def _answer(self, path: str, body: bytes) -> bytes | None:
        runtime = self.state.gate
        if path == ADMIT:
            request = AdmitRequest.model_validate_json(body)
            decision = await runtime.admit(
                user_id=request.user_id, feature=request.feature, dry_run=request.dry_run
            )
            return bytes(decision.response.model_dump_json().encode())
        batch = (
            ReportBatch.model_validate_json(body).reports
            if b'"reports"' in body
            else [UsageReport.model_validate_json(body)]
        )
        result = await runtime.report(batch)
        if result.problems:
            return None  # nothing changed: the route answers with the problem details
        return ReportResult(accepted=len(result.rows)).model_dump_json().encode()

    def _acceptable(self, scope: Scope) -> bool:
        """A cached, still fresh app key and a declared body within the limit; anything else
        (a chunked body, an operator token, a key not seen for a while) takes the full path."""
        key_ok = length_ok = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.startswith(credentials.APP_KEY_PREFIX):
                    return False
                hit = self.state.app_key_cache.get(credentials.digest(token.strip()))
                key_ok = hit is not None and time.monotonic() - hit[1] < APP_KEY_CACHE_S
            elif name == b"content-length":
                length_ok = value.isdigit() and int(value) <= self.max_body_bytes
        return key_ok and length_ok


async def _send(send: Send, status: int, body: bytes, media_type: str) -> None:
    headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _problem_json(path: str) -> bytes:
    return json.dumps(internal_error().body(path)).encode()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
