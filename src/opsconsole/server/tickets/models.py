"""Tables of support tickets and their threaded messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.server.db import Base, UtcDateTime


class Ticket(Base):
    """One support case of one end user, with its SLA deadlines stored for the queue.

    The deadlines are stored (not computed per read) so that the queue can be sorted and
    filtered by an index: ``next_due_at`` is the first-response deadline until the first staff
    reply, then the resolution deadline.
    """

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Every ticket is some user's, also when an operator opens it for them.
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk"))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    priority: Mapped[str] = mapped_column(String(8))
    # An operator's username, checked by the service; operators are disabled, never deleted,
    # so the name keeps its meaning.
    assignee: Mapped[str | None] = mapped_column(String(64), default=None)
    created_by: Mapped[str] = mapped_column(String(100))  # actor label: "app:backend"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Set while the SLA clock is stopped; the deadlines move by the stopped time on resume.
    paused_since: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Stopped time accumulated so far, in microseconds: a priority change recomputes the
    # deadlines from created_at plus this, so it must be exact.
    paused_us: Mapped[int] = mapped_column(BigInteger, default=0)
    first_response_due: Mapped[datetime] = mapped_column(UtcDateTime)
    resolution_due: Mapped[datetime] = mapped_column(UtcDateTime)
    next_due_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # The queue: sorted by (next_due_at, id), optionally narrowed by one filter.
        Index("ix_tickets_next_due_at_id", "next_due_at", "id"),
        Index("ix_tickets_status_next_due_at_id", "status", "next_due_at", "id"),
        Index("ix_tickets_priority_next_due_at_id", "priority", "next_due_at", "id"),
        Index("ix_tickets_assignee_next_due_at_id", "assignee", "next_due_at", "id"),
        Index("ix_tickets_user_pk_next_due_at_id", "user_pk", "next_due_at", "id"),
    )


class TicketMessage(Base):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(16))  # customer, reply, note
    author: Mapped[str | None] = mapped_column(String(64), default=None)  # operator; None: user
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_ticket_messages_ticket_id_id", "ticket_id", "id"),)
