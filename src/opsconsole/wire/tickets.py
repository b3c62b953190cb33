"""Support tickets: what the app and the console send and what they get back.

SLA fields are computed by the server. A ticket's deadlines move by the time its clock was
stopped (waiting on the customer, or resolved until reopened); while the clock is stopped,
``paused`` is true and the deadlines shown are those that held when it stopped.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from opsconsole.wire.common import WireModel

SUBJECT_MAX = 200
BODY_MAX = 10_000
USER_ID_MAX = 128


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class MessageKind(StrEnum):
    CUSTOMER = "customer"  # written by the end user (or logged by an operator on their behalf)
    REPLY = "reply"  # a staff reply the customer sees
    NOTE = "note"  # internal, staff only


class TicketCreate(WireModel):
    """Open a ticket for one of the app's users; ``body`` becomes the first message."""

    user_id: str = Field(min_length=1, max_length=USER_ID_MAX, description="The app's user id.")
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    priority: TicketPriority = TicketPriority.NORMAL


class TicketUpdate(WireModel):
    """Change any of status, priority and assignee; ``assignee: null`` unassigns."""

    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assignee: str | None = Field(
        default=None, min_length=1, max_length=64, description="An operator's username."
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> TicketUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one of status, priority, assignee")
        if "status" in self.model_fields_set and self.status is None:
            raise ValueError("status cannot be null")
        if "priority" in self.model_fields_set and self.priority is None:
            raise ValueError("priority cannot be null")
        return self


class MessageCreate(WireModel):
    """A message on a ticket.

    Operators send ``reply`` (the customer sees it) or ``note`` (internal). The app's key sends
    the customer's messages: leave ``kind`` out or send ``customer``.
    """

    body: str = Field(min_length=1, max_length=BODY_MAX)
    kind: Literal["reply", "note", "customer"] | None = None


class MessagePublic(BaseModel):
    id: int
    kind: MessageKind
    author: str | None = Field(description="The operator who wrote it; null for the customer.")
    body: str
    created_at: datetime


class TicketPublic(BaseModel):
    id: int
    user_id: str
    subject: str
    status: TicketStatus
    priority: TicketPriority
    assignee: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    first_response_due: datetime
    resolution_due: datetime
    next_due_at: datetime = Field(description="The deadline that matters next; the queue order.")
    breached: bool
    paused: bool = Field(description="The SLA clock is stopped (waiting on customer, resolved).")
    paused_since: datetime | None


class TicketDetail(TicketPublic):
    messages: list[MessagePublic]
