"""The gate's hot path without FastAPI's routing and dependency machinery.

Every AI request of the app costs one admit, so its per-request overhead is what the gate's
throughput is made of. This ASGI middleware answers the happy path of `POST /v1/gate/admit`
and `POST /v1/gate/report` (an app key already verified, a body that parses) directly, and
hands everything else, with the body it read, to the FastAPI routes, which stay the one
definition of authentication failures, validation errors and problem details.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsconsole.server.auth import credentials
from opsconsole.server.deps import APP_KEY_CACHE_S, AppPrincipal
from opsconsole.wire.gate import AdmitRequest, ReportBatch, ReportResult, UsageReport

PATHS = {"/v1/gate/admit", "/v1/gate/report"}
JSON_HEADERS = [(b"content-type", b"application/json")]


class _Route:
    """What the metrics middleware reads from scope["route"]: the template."""

    def __init__(self, path: str) -> None:
        self.path = path


class GateFastPath:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state  # the FastAPI app's state: gate runtime and app key cache
        self.routes = {path: _Route(path) for path in PATHS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or path not in PATHS or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        principal = self._cached_app_key(scope)
        if principal is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            answer = await self._answer(path, body)
        except ValidationError:
            answer = None
        if answer is None:
            await self.app(scope, _replay(body), send)
            return
        scope["route"] = self.routes[path]
        headers = [*JSON_HEADERS, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, path: str, body: bytes) -> bytes | None:
        runtime = self.state.gate
        if path == "/v1/gate/admit":
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

    def _cached_app_key(self, scope: Scope) -> AppPrincipal | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.startswith(credentials.APP_KEY_PREFIX):
                    return None
                hit = self.state.app_key_cache.get(credentials.digest(token.strip()))
                if hit is None or time.monotonic() - hit[1] >= APP_KEY_CACHE_S:
                    return None
                principal: AppPrincipal = hit[0]
                return principal
        return None


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
