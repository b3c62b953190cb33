"""The stream hub: numbers every published message, keeps the last five minutes of them for
consoles that reconnect, and hands each one, serialized once, to every connected console
whose role may read it.

`publish` may be called from any thread (commit notices arrive on worker threads): the data
is serialized in the caller's thread, then numbered and fanned out on the event loop, which
owns the sequence, the replay buffer and the consoles' queues. Nothing here ever waits for a
console: each has a bounded queue, and a console whose queue is full is told and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

import opsconsole
from opsconsole.server.clock import Clock
from opsconsole.server.permissions import ROLE_PERMISSIONS, Permission
from opsconsole.wire.common import Role
from opsconsole.wire.stream import (
    REPLAY_WINDOW_S,
    ByeMessage,
    Control,
    DroppedMessage,
    HeartbeatMessage,
    Hello,
    ReloadMessage,
)

log = logging.getLogger("opsconsole.stream")

# Besides the five-minute window, a cap on what is kept, so a burst (a bulk change of many
# users) cannot hold an unbounded amount of memory; a console that missed more gets `reload`.
REPLAY_MAX_MESSAGES = 50_000

# WebSocket close codes that go with the last message.
CLOSE_SESSION = 1008  # policy violation: the session that opened the stream is over
CLOSE_BEHIND = 1013  # try again later: reconnect with `since` and catch up
CLOSE_GOING_AWAY = 1001
CLOSE_SERVICE_RESTART = 1012


@dataclass(frozen=True, slots=True)
class Audience:
    """Which roles get a message: those with every permission in ``needs`` and without
    ``unless`` (that one marks the redacted copy of a message the others get in full)."""

    needs: frozenset[Permission]
    unless: Permission | None = None

    @classmethod
    def of(cls, *needs: Permission, unless: Permission | None = None) -> Audience:
        return cls(frozenset(needs), unless)

    def admits(self, permissions: frozenset[Permission]) -> bool:
        return self.needs <= permissions and (self.unless is None or self.unless not in permissions)


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    at: datetime
    audience: Audience
    text: str  # the whole JSON message, the same bytes for every console


@dataclass(frozen=True, slots=True)
class _Outgoing:
    type: str
    data: str  # the message's `data`, as JSON
    audience: Audience


@dataclass(frozen=True, slots=True)
class Ending:
    """The last message a console gets, and how its connection is then closed."""

    text: str
    code: int
    reason: str  # the close frame's reason (at most 123 bytes): the message's `kind`


def frame_text(seq: int, type_: str, at: datetime, data: str) -> str:
    # Assembled by hand so that `data` is serialized once, in the publisher's thread.
    return f'{{"seq":{seq},"type":"{type_}","at":"{at.isoformat()}","data":{data}}}'


class Subscriber:
    """One connected console: who it is and the messages waiting to be sent to it."""

    def __init__(self, *, session_id: str, operator: str, role: Role, limit: int) -> None:
        self.session_id = session_id
        self.operator = operator
        self.role = role
        self.permissions = ROLE_PERMISSIONS[role]
        self.limit = limit
        self.first: list[str] = []  # hello, then what it missed (or reload): sent before the rest
        self.pending: deque[str] = deque()
        self.ready = asyncio.Event()
        self.ending: Ending | None = None
        self.ended = asyncio.Event()

    def may_read(self, audience: Audience) -> bool:
        return audience.admits(self.permissions)

    def offer(self, text: str, on_overflow: Callable[[Subscriber], None]) -> None:
        if self.ending is not None:
            return
        if len(self.pending) >= self.limit:
            on_overflow(self)
            return
        self.pending.append(text)
        self.ready.set()

    def take(self) -> list[str]:
        batch = list(self.pending)
        self.pending.clear()
        self.ready.clear()
        return batch

    def end(self, ending: Ending) -> None:
        if self.ending is None:
            self.ending = ending
            self.pending.clear()
            self.ended.set()


class StreamHub:
    """Sequence numbers, the replay buffer and the connected consoles of one server process.

    Args:
        clock: the server's clock; messages are stamped and the replay window measured by it.
        queue_messages: how many messages a console may fall behind before it is dropped.
        heartbeat_s: how often every console gets a `heartbeat`.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        queue_messages: int,
        heartbeat_s: float,
        window_s: float = REPLAY_WINDOW_S,
        max_kept: int = REPLAY_MAX_MESSAGES,
    ) -> None:
        self.clock = clock
        self.queue_messages = queue_messages
        self.heartbeat_s = heartbeat_s
        self.window = timedelta(seconds=window_s)
        self.max_kept = max_kept
        # Names this process: a sequence number from another epoch means nothing here.
        self.epoch = f"{int(time.time()):x}-{secrets.token_hex(4)}"
        self.published = 0
        self.dropped = 0
        self._seq = 0
        self._kept: deque[Frame] = deque()
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()  # only contended before the loop runs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        # Set once the server is stopping: consoles that still connect are told at once.
        self._goodbye: Ending | None = None

    # --- lifecycle (on the event loop) ------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._heartbeat = asyncio.create_task(self._heartbeats(), name="stream-heartbeat")
        self._goodbye = None

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        for subscriber in list(self._subscribers):
            subscriber.end(self.bye("server-stopping", "The server is stopping.", CLOSE_GOING_AWAY))
        self._loop = None

    async def say_goodbye(self, *, within_s: float = 2.0) -> None:
        """Tell every console the server is restarting and wait (a little) for them to go.

        Called before the HTTP server closes its connections, so consoles get a `bye` with
        the reason instead of only a bare close code, and reconnect knowing why.
        """
        self._goodbye = self.bye(
            "server-restarting",
            "The server is restarting; reconnect in a few seconds.",
            CLOSE_SERVICE_RESTART,
        )
        for subscriber in list(self._subscribers):
            subscriber.end(self._goodbye)
        deadline = asyncio.get_running_loop().time() + within_s
        while self._subscribers and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

    def call_soon(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` on the event loop, from any thread; dropped when it is not running."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            callback()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            loop.call_soon_threadsafe(callback)

    # --- publishing (any thread) -------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def consoles(self) -> int:
        return len(self._subscribers)

    def publish(self, type_: str, data: BaseModel, audience: Audience) -> None:
        self.publish_many([(type_, data, audience)])

    def publish_many(self, items: Iterable[tuple[str, BaseModel, Audience]]) -> None:
        """Publish several messages in order, with one hop onto the loop."""
        outgoing = [_Outgoing(t, data.model_dump_json(), a) for t, data, a in items]
        if not outgoing:
            return
        if self._loop is None:
            self._number(outgoing)  # before start or after stop: kept for later, no consoles
        else:
            self.call_soon(lambda: self._number(outgoing))

    def _number(self, outgoing: list[_Outgoing]) -> None:
        now = self.clock.now()
        with self._lock:
            for item in outgoing:
                self._seq += 1
                frame = Frame(
                    self._seq,
                    now,
                    item.audience,
                    frame_text(self._seq, item.type, now, item.data),
                )
                self._kept.append(frame)
                self.published += 1
                for subscriber in list(self._subscribers):
                    if subscriber.may_read(frame.audience):
                        subscriber.offer(frame.text, self._overflow)
            self._prune(now)

    def _prune(self, now: datetime) -> None:
        cutoff = now - self.window
        kept = self._kept
        while kept and (kept[0].at < cutoff or len(kept) > self.max_kept):
            kept.popleft()

    # --- consoles (on the event loop) -------------------------------------------------------

    def subscribe(
        self,
        *,
        session_id: str,
        operator: str,
        role: Role,
        since: int | None,
        epoch: str | None,
    ) -> Subscriber:
        """Register a console. Its first messages are `hello`, then what it missed since
        ``since`` (or `reload`); everything published afterwards follows without a gap,
        because registering and copying the missed messages happen without a pause between.
        """
        subscriber = Subscriber(
            session_id=session_id,
            operator=operator,
            role=role,
            limit=self.queue_messages,
        )
        now = self.clock.now()
        with self._lock:
            self._prune(now)
            missed, reload = (None, None) if since is None else self._missed(since, epoch)
            replay = [f.text for f in missed or () if subscriber.may_read(f.audience)]
            hello = Hello(
                seq=self._seq,
                at=now,
                data={
                    "operator": operator,
                    "role": role.value,
                    "server_version": opsconsole.__version__,
                    "resumed": missed is not None,
                    "epoch": self.epoch,
                    "replayed": len(replay),
                },
            )
            subscriber.first = [hello.model_dump_json(), *replay]
            if reload is not None:
                message = ReloadMessage(seq=self._seq, at=now, data=reload)
                subscriber.first.append(message.model_dump_json())
            self._subscribers.add(subscriber)
        if self._goodbye is not None:  # the server is stopping: hello, then goodbye at once
            subscriber.end(self._goodbye)
        return subscriber

    def _missed(self, since: int, epoch: str | None) -> tuple[list[Frame] | None, Control | None]:
        if epoch is not None and epoch != self.epoch:
            return None, Control(
                kind="server-restarted",
                reason="The server restarted since you were connected; load the state afresh.",
            )
        first = self._kept[0].seq if self._kept else self._seq + 1
        if since > self._seq or since < 0:
            return None, Control(
                kind="unknown-seq",
                reason=f"Sequence number {since} was never sent by this server; load afresh.",
            )
        if since + 1 < first:
            return None, Control(
                kind="too-old",
                reason="What you missed is older than the five minutes the server keeps; "
                "load the state afresh.",
            )
        return list(itertools.islice(self._kept, since + 1 - first, None)), None

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers)

    def end(self, subscriber: Subscriber, ending: Ending) -> None:
        subscriber.end(ending)

    def bye(self, kind: str, reason: str, code: int = CLOSE_SESSION) -> Ending:
        message = ByeMessage(
            seq=self._seq, at=self.clock.now(), data=Control(kind=kind, reason=reason)
        )
        return Ending(message.model_dump_json(), code, kind)

    def _overflow(self, subscriber: Subscriber) -> None:
        self.dropped += 1
        log.warning(
            "stream: %s (session %s) fell %d messages behind; dropped",
            subscriber.operator,
            subscriber.session_id,
            subscriber.limit,
        )
        message = DroppedMessage(
            seq=self._seq,
            at=self.clock.now(),
            data=Control(
                kind="too-far-behind",
                reason=f"You fell more than {subscriber.limit} messages behind; reconnect with "
                "`since` to catch up.",
            ),
        )
        subscriber.end(Ending(message.model_dump_json(), CLOSE_BEHIND, "too-far-behind"))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            text = HeartbeatMessage(seq=self._seq, at=self.clock.now()).model_dump_json()
            for subscriber in list(self._subscribers):
                subscriber.offer(text, self._overflow)
