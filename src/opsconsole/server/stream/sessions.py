"""Open streams end when the session that opened them does.

A stream checks its session when it opens (the handshake), at once whenever a commit ends
sessions or changes an operator (logout, a session ended by its owner or an admin, a password
change, an operator disabled or given another role), and every `stream_session_check_s`
seconds for absolute expiry and idle time, which pass without any commit.

An open stream is *not* activity: a console left open and untouched must still reach its idle
timeout, or the timeout would never apply to anyone with the console running. The operator's
REST calls keep the session alive as before; when it idles out, the stream says `bye`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from opsconsole.server.auth.models import Operator, OperatorSession
from opsconsole.server.clock import Clock
from opsconsole.server.db import Database
from opsconsole.server.stream.hub import Ending, StreamHub, Subscriber

log = logging.getLogger("opsconsole.stream")

# Audit actions after which a connected console's session may have ended or changed.
SESSION_ACTIONS = frozenset(
    {"auth.logout", "auth.end_session", "auth.password_changed", "operators.update"}
)


@dataclass(frozen=True)
class SessionState:
    revoked: bool
    disabled: bool
    role: str
    expires_at: datetime
    last_seen_at: datetime


def load_sessions(db: Database, ids: set[str]) -> dict[str, SessionState]:
    with db.reading() as session:
        rows = session.execute(
            select(OperatorSession, Operator)
            .join(Operator, Operator.id == OperatorSession.operator_id)
            .where(OperatorSession.id.in_(ids))
        )
        return {
            row.id: SessionState(
                revoked=row.revoked_at is not None,
                disabled=operator.disabled,
                role=operator.role,
                expires_at=row.expires_at,
                last_seen_at=row.last_seen_at,
            )
            for row, operator in rows
        }


def verdict(
    hub: StreamHub,
    subscriber: Subscriber,
    state: SessionState | None,
    now: datetime,
    idle: timedelta,
) -> Ending | None:
    """The `bye` for a console whose session is over, or None while it holds."""
    # Disabling an operator also revokes their sessions: say the more useful of the two.
    if state is not None and state.disabled:
        return hub.bye("operator-disabled", "Your operator account was disabled; ask an admin.")
    if state is None or state.revoked:
        return hub.bye("session-revoked", "Your session was ended (logout or revoked); log in.")
    if state.role != subscriber.role.value:
        return hub.bye("role-changed", f"Your role is now {state.role}; reconnect to get its view.")
    if now >= state.expires_at:
        return hub.bye("session-expired", "Your session reached its maximum age; log in again.")
    if now - state.last_seen_at >= idle:
        minutes = int(idle.total_seconds() // 60)
        return hub.bye(
            "session-idle", f"Your session was idle for more than {minutes} minutes; log in again."
        )
    return None


class SessionWatch:
    """Ends the streams of sessions that are over; woken by commits, and on a timer."""

    def __init__(
        self,
        *,
        hub: StreamHub,
        db: Database,
        clock: Clock,
        idle_minutes: int,
        every_s: float,
    ) -> None:
        self.hub = hub
        self.db = db
        self.clock = clock
        self.idle = timedelta(minutes=idle_minutes)
        self.every_s = every_s
        self.checks = 0  # completed checks, for tests and diagnostics
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="stream-sessions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def poke(self) -> None:
        """Check now (from any thread): a commit may have ended a session."""
        wake = self._wake
        if wake is not None:
            self.hub.call_soon(wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.every_s)
            self._wake.clear()
            try:
                await self.check()
            except Exception:  # the database may be back next round; keep watching
                log.exception("stream session check failed")
            self.checks += 1

    async def check(self) -> None:
        subscribers = [s for s in self.hub.subscribers() if s.ending is None]
        if not subscribers:
            return
        ids = {s.session_id for s in subscribers}
        states = await asyncio.to_thread(load_sessions, self.db, ids)
        now = self.clock.now()
        for subscriber in subscribers:
            ending = verdict(
                self.hub, subscriber, states.get(subscriber.session_id), now, self.idle
            )
            if ending is not None:
                log.info(
                    "stream: closing %s (session %s): %s",
                    subscriber.operator,
                    subscriber.session_id,
                    ending.reason,
                )
                self.hub.end(subscriber, ending)
