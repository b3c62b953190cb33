"""The live stream (``WS /v1/stream``): one WebSocket session at a time, resumed from the last
sequence number seen (and the server's epoch), its messages parsed and handed on in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from opsconsole.console.connection_errors import SessionExpiredError, StreamUnavailableError
from opsconsole.console.connection_http import USER_AGENT
from opsconsole.wire.stream import Hello, ReloadMessage, StreamMessage, parse_message

log = logging.getLogger("opsconsole.console.connection")

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class LiveStream:
    """Where the stream is (last sequence number, server epoch), and its socket while open."""

    def __init__(self) -> None:
        self.last_seq: int | None = None
        self.epoch: str | None = None
        self.ws: ClientConnection | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def session(
        self,
        base_url: str,
        *,
        token: str | None,
        ssl_context: ssl.SSLContext | None,
        open_timeout_s: float,
        on_message: Callable[[StreamMessage], None],
    ) -> bool:
        """One stream connection, until it ends. True when it got as far as the hello.

        A 401 is SessionExpiredError; a 403 or 404 is StreamUnavailableError (the server has
        no stream for this operator); transport failures propagate as they are.
        """
        url = self.url(base_url)
        greeted = False
        try:
            async with connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                ssl=ssl_context if url.startswith("wss:") else None,
                proxy=None,
                open_timeout=open_timeout_s,
                max_size=MAX_MESSAGE_BYTES,
                user_agent_header=USER_AGENT,
            ) as ws:
                self.ws = ws
                async for raw in ws:
                    try:
                        message = parse_message(raw)
                    except ValidationError as error:
                        log.warning("stream message not understood, skipped: %s", error)
                        continue
                    greeted = greeted or isinstance(message, Hello)
                    on_message(message)
        except InvalidStatus as error:
            status = error.response.status_code
            if status == 401:
                raise SessionExpiredError(
                    401, "Session expired", "The stream refused the token."
                ) from error
            if status in {403, 404}:
                raise StreamUnavailableError(
                    f"the server answered {status} to /v1/stream"
                ) from error
            raise
        finally:
            self.ws = None
        return greeted

    def url(self, base_url: str) -> str:
        """The stream's URL, asking to resume after the last message seen, if any."""
        parts = urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query: dict[str, str] = {}
        if self.last_seq is not None:
            query["since"] = str(self.last_seq)
            if self.epoch:
                query["epoch"] = self.epoch
        return urlunsplit((scheme, parts.netloc, "/v1/stream", urlencode(query), ""))

    def note(self, message: StreamMessage) -> None:
        """Keep the position to resume from after ``message``."""
        if isinstance(message, Hello):
            epoch = message.data.get("epoch")
            self.epoch = str(epoch) if epoch else None
            if not message.data.get("resumed"):
                self.last_seq = message.seq
        elif isinstance(message, ReloadMessage):
            self.last_seq = message.seq  # a fresh start: nothing before it will be replayed
        else:
            self.last_seq = max(self.last_seq or 0, message.seq)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    def close_soon(self) -> None:
        """Close the socket without waiting (from code that cannot await)."""
        if self.ws is not None:
            task = asyncio.get_running_loop().create_task(self.ws.close())
            # The loop keeps only a weak reference to a task: this one must not vanish.
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
