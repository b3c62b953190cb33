"""What replicas tell each other through Redis: switch changes at once, and breaker state.

Each replica publishes what it changed on one pub/sub channel and applies what the others
publish, so a switch flipped on one replica reaches the next decision on every replica in a
Redis round trip instead of the next database poll (which stays, every half second, as the
fallback for a message lost while a replica was disconnected).

Breakers: the state machine (closed, open, half-open with opened_at and retry_at, and whether
an operator tripped it) is kept in one Redis hash per provider and broadcast when it changes,
so a breaker opened by the reports one replica received is open on all of them, and closed on
all of them once probes succeed. What stays per replica: the window of recent outcomes that
decides when to open (each replica counts the reports it receives), and the half-open probe
accounting (each replica lets its own `probes` requests through).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from opsconsole.server.gate.breaker import Breaker
from opsconsole.server.gate.state import SwitchState
from opsconsole.wire.gate import BreakerState, SwitchName

log = logging.getLogger("opsconsole.gate.broadcast")

Handler = Callable[[dict[str, Any]], None]


def switch_message(state: SwitchState) -> dict[str, Any]:
    return {
        "kind": "switch",
        "name": state.name.value,
        "value": state.value,
        "set_by": state.set_by,
        "reason": state.reason,
        "set_at": _iso(state.set_at),
        "expires_at": _iso(state.expires_at),
    }


def switch_from(message: dict[str, Any]) -> SwitchState:
    return SwitchState(
        name=SwitchName(message["name"]),
        value=message["value"],
        set_by=message["set_by"],
        reason=message["reason"],
        set_at=_time(message["set_at"]),
        expires_at=_time(message["expires_at"]),
    )


def breaker_snapshot(provider: str, breaker: Breaker) -> dict[str, Any]:
    return {
        "kind": "breaker",
        "provider": provider,
        "state": breaker.state.value,
        "opened_at": _iso(breaker.opened_at),
        "retry_at": _iso(breaker.retry_at),
        "manual": breaker.manual,
    }


def adopt_breaker(breaker: Breaker, snapshot: dict[str, Any]) -> None:
    """Take another replica's breaker state (the outcome window stays this replica's)."""
    breaker.adopt(
        BreakerState(snapshot["state"]),
        opened_at=_time(snapshot["opened_at"]),
        retry_at=_time(snapshot["retry_at"]),
        manual=bool(snapshot["manual"]),
    )


class RedisBroadcast:
    """Publishes this replica's changes and hands the other replicas' to ``handler``.

    The handler runs on a background thread (redis-py's pub/sub worker).
    """

    def __init__(self, client: Any, prefix: str) -> None:
        self.redis = client
        self.channel = f"{prefix}gate:events"
        self.breaker_key = f"{prefix}gate:breaker:"
        self.origin = uuid.uuid4().hex  # our own messages come back too: skip them
        self.received = 0  # messages from other replicas applied (for tests and figures)
        self._pubsub: Any = None
        self._thread: Any = None

    def start(self, handler: Handler) -> None:
        def on_message(message: dict[str, Any]) -> None:
            try:
                data = json.loads(message["data"])
                if data.pop("origin", None) == self.origin:
                    return
                handler(data)
                self.received += 1
            except Exception:  # a bad message must not stop the listener
                log.exception("could not apply a gate broadcast")

        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(**{self.channel: on_message})
        self._thread = self._pubsub.run_in_thread(
            sleep_time=1.0, daemon=True, exception_handler=_keep_listening
        )

    def publish(self, message: dict[str, Any]) -> None:
        """Tell the other replicas; a Redis error is logged (the database poll catches up)."""
        try:
            self.redis.publish(self.channel, json.dumps({**message, "origin": self.origin}))
        except Exception:
            log.exception("could not publish a gate change to Redis")

    def store_breaker(self, snapshot: dict[str, Any]) -> None:
        """Keep a breaker's state where replicas that start later find it, and announce it."""
        try:
            self.redis.set(self.breaker_key + snapshot["provider"], json.dumps(snapshot))
        except Exception:
            log.exception("could not store a breaker's state in Redis")
        self.publish(snapshot)

    def stored_breakers(self, providers: list[str]) -> list[dict[str, Any]]:
        if not providers:
            return []
        values = self.redis.mget([self.breaker_key + name for name in providers])
        return [json.loads(value) for value in values if value]

    def close(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread.join(timeout=5)
        if self._pubsub is not None:
            self._pubsub.close()


def _keep_listening(error: BaseException, pubsub: Any, thread: Any) -> None:
    # redis-py reconnects and resubscribes on the next read; say why messages may be missing,
    # and do not spin while Redis is away.
    log.warning("gate broadcast listener: %s; retrying", error)
    time.sleep(0.5)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
