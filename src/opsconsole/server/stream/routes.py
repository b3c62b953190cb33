"""`WS /v1/stream`: authentication at the handshake, then one console's send loop.

The operator's session token comes in the handshake's `Authorization: Bearer` header. A
handshake without a valid operator token is refused with an HTTP problem response (401 or
403) before any WebSocket is opened; so is one that carries a credential in the URL, where
proxies and logs would keep it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from opsconsole.server.auth import credentials
from opsconsole.server.auth import service as auth
from opsconsole.server.clock import Clock
from opsconsole.server.db import Database
from opsconsole.server.errors import PROBLEM_MEDIA_TYPE, Problem, bad_request
from opsconsole.server.impersonation.tokens import (
    IMPERSONATION_TOKEN_PREFIX,
    is_impersonation_token,
)
from opsconsole.server.permissions import STREAM_ACCESS
from opsconsole.server.settings import Settings
from opsconsole.server.stream.hub import StreamHub, Subscriber
from opsconsole.wire.common import Role

log = logging.getLogger("opsconsole.stream")

PATH = "/v1/stream"
# How long the last message (`bye`, `dropped`) and the close may take before we stop waiting
# for a console that does not read.
GOODBYE_S = 5.0
_CREDENTIAL_PARAMS = {"token", "access_token", "authorization", "auth", "key", "api_key", "bearer"}


@dataclass(frozen=True)
class StreamCaller:
    session_id: str
    username: str
    role: Role


async def stream(websocket: WebSocket) -> None:
    state = websocket.app.state
    hub: StreamHub = state.stream
    try:
        caller = await _authenticate(websocket, state.db, state.settings, state.clock)
        since, epoch = _resume_point(websocket)
    except Problem as problem:
        await _deny(websocket, problem)
        return
    await websocket.accept()
    subscriber = hub.subscribe(
        session_id=caller.session_id,
        operator=caller.username,
        role=caller.role,
        since=since,
        epoch=epoch,
    )
    try:
        await _serve(websocket, subscriber)
    finally:
        hub.unsubscribe(subscriber)


async def _authenticate(
    websocket: WebSocket, db: Database, settings: Settings, clock: Clock
) -> StreamCaller:
    for name, value in websocket.query_params.multi_items():
        looks_like_secret = value.startswith(
            (
                credentials.OPERATOR_TOKEN_PREFIX,
                credentials.APP_KEY_PREFIX,
                IMPERSONATION_TOKEN_PREFIX,
            )
        )
        if name.lower() in _CREDENTIAL_PARAMS or looks_like_secret:
            raise bad_request(
                "Never put a token in the URL (proxies and logs keep URLs); send it in the "
                "handshake's `Authorization: Bearer <token>` header, and log in again: treat "
                "that token as leaked."
            )
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise auth.unauthenticated(
            "Send your session token in the handshake: `Authorization: Bearer <token>` "
            "(log in at /v1/auth/login)."
        )
    if is_impersonation_token(token):
        raise Problem(
            403,
            "impersonation-token-refused",
            "Impersonation tokens are refused here",
            "An impersonation token is for the AI app's backend (after introspection); the "
            "stream is for operators' consoles: use your own session token.",
        )
    if token.startswith(credentials.APP_KEY_PREFIX):
        raise Problem(
            403,
            "forbidden",
            "Forbidden",
            "App keys may not open the stream; it is for operators' consoles.",
        )

    def check() -> StreamCaller:
        with db.reading() as session:
            row, operator = auth.authenticate(
                session=session, token=token, settings=settings, now=clock.now()
            )
            return StreamCaller(row.id, operator.username, Role(operator.role))

    # Opening the stream does not refresh the session's idle timer (see sessions.py).
    caller = await run_in_threadpool(check)
    if not STREAM_ACCESS.allows(caller.role):
        raise Problem(
            403, "forbidden", "Forbidden", f"Your role ({caller.role}) may not open the stream."
        )
    return caller


def _resume_point(websocket: WebSocket) -> tuple[int | None, str | None]:
    raw = websocket.query_params.get("since")
    epoch = websocket.query_params.get("epoch") or None
    if raw is None:
        return None, epoch
    try:
        since = int(raw)
    except ValueError:
        raise bad_request(
            f"since={raw!r} is not a sequence number; send the `seq` of the last message you got."
        ) from None
    if since < 0:
        raise bad_request("since must be 0 or more: the `seq` of the last message you got.")
    return since, epoch


async def _deny(websocket: WebSocket, problem: Problem) -> None:
    response = JSONResponse(
        problem.body(PATH),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:  # the server cannot answer with a body: a bare 403 at least refuses
        await websocket.close(code=1008, reason=problem.kind)


async def _serve(websocket: WebSocket, subscriber: Subscriber) -> None:
    pump = asyncio.create_task(_pump(websocket, subscriber))
    reader = asyncio.create_task(_read_until_closed(websocket))
    ended = asyncio.create_task(subscriber.ended.wait())
    done, pending = await asyncio.wait({pump, reader, ended}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None and task is not reader:
            log.debug("stream to %s ended: %r", subscriber.operator, task.exception())
    ending = subscriber.ending
    if ending is not None and reader not in done:
        # A console that stopped reading may never take these: do not wait for it forever.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(GOODBYE_S):
                await websocket.send_text(ending.text)
                await websocket.close(code=ending.code, reason=ending.reason)


async def _pump(websocket: WebSocket, subscriber: Subscriber) -> None:
    first, subscriber.first = subscriber.first, []
    for text in first:
        await websocket.send_text(text)
    while True:
        await subscriber.ready.wait()
        for text in subscriber.take():
            await websocket.send_text(text)


async def _read_until_closed(websocket: WebSocket) -> None:
    """Consoles send nothing we act on; reading is how a close from their side is seen."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
