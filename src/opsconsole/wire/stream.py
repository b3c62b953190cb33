"""Messages of `WS /v1/stream`.

Every message is one JSON object `{"seq", "type", "at", "data"}`. `seq` grows by one per
message a server process publishes (heartbeats and control messages carry the last one
unchanged). A console that reconnects asks for `/v1/stream?since=<last seq>&epoch=<hello's
epoch>` and gets what it missed from the last five minutes, or a `reload` message when that is
no longer possible. Messages a role may not read are skipped, so `seq` may jump for it.
The operator's token goes in the handshake's Authorization header, never in the URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from opsconsole.wire.alerts import Alert
from opsconsole.wire.audit import AuditEntry
from opsconsole.wire.gate import SwitchPublic
from opsconsole.wire.metrics import Health, MetricsSnapshot
from opsconsole.wire.tickets import TicketPublic

REPLAY_WINDOW_S = 300


class _Message(BaseModel):
    seq: int
    at: datetime


class Hello(_Message):
    """First message after the handshake: who the server thinks you are."""

    type: Literal["hello"] = "hello"
    # {"operator", "role", "server_version", "resumed": bool, "epoch": str, "replayed": int}.
    # `epoch` names this server process: send it back as `?epoch=` with `?since=`, so that a
    # sequence number from before a restart is answered with `reload`, not wrong messages.
    data: dict[str, Any]


class SnapshotMessage(_Message):
    type: Literal["snapshot"] = "snapshot"
    data: MetricsSnapshot


class HealthChange(BaseModel):
    provider: str
    before: Health
    after: Health
    reason: str


class HealthMessage(_Message):
    type: Literal["health"] = "health"
    data: HealthChange


class AlertMessage(_Message):
    type: Literal["alert"] = "alert"
    data: Alert


class SwitchChange(BaseModel):
    switch: SwitchPublic
    actor: str  # operator username, or "automation"
    reason: str | None


class SwitchMessage(_Message):
    type: Literal["switch"] = "switch"
    data: SwitchChange


class AuditMessage(_Message):
    type: Literal["audit"] = "audit"
    data: AuditEntry


class TicketMessage(_Message):
    type: Literal["ticket"] = "ticket"
    data: TicketPublic


class UserChange(BaseModel):
    user_id: str
    action: str  # the audit action, e.g. "user.suspend"
    actor: str


class UserMessage(_Message):
    type: Literal["user"] = "user"
    data: UserChange


class Control(BaseModel):
    reason: str  # in words, for the operator
    # For the console to act on: "session-revoked", "session-expired", "session-idle",
    # "operator-disabled", "role-changed", "too-far-behind", "too-old", "server-restarted".
    kind: str | None = None


class ReloadMessage(_Message):
    """What you missed is no longer kept: fetch the state afresh over REST."""

    type: Literal["reload"] = "reload"
    data: Control


class DroppedMessage(_Message):
    """You fell too far behind; the server closes the connection after this."""

    type: Literal["dropped"] = "dropped"
    data: Control


class ByeMessage(_Message):
    """The server closes the stream: session ended, expired or revoked, or a restart."""

    type: Literal["bye"] = "bye"
    data: Control


class HeartbeatMessage(_Message):
    type: Literal["heartbeat"] = "heartbeat"
    data: dict[str, Any] = Field(default_factory=dict)


StreamMessage = Annotated[
    Hello
    | SnapshotMessage
    | HealthMessage
    | AlertMessage
    | SwitchMessage
    | AuditMessage
    | TicketMessage
    | UserMessage
    | ReloadMessage
    | DroppedMessage
    | ByeMessage
    | HeartbeatMessage,
    Field(discriminator="type"),
]

STREAM_MESSAGE: TypeAdapter[StreamMessage] = TypeAdapter(StreamMessage)


def parse_message(raw: str | bytes) -> StreamMessage:
    """One frame from the stream, validated into its typed message."""
    return STREAM_MESSAGE.validate_json(raw)
