"""The impersonations table: who impersonated whom, why, until when, and how often it was used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.server.db import Base, UtcDateTime


class Impersonation(Base):
    __tablename__ = "impersonations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The user by surrogate key: an erasure changes the app's id, and then the token dies.
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    mode: Mapped[str] = mapped_column(String(16))  # read_only, full
    reason: Mapped[str] = mapped_column(String(500))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ended_by: Mapped[str | None] = mapped_column(String(64), default=None)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (
        Index("ix_impersonations_expires_at", "expires_at"),
        Index("ix_impersonations_operator_id_started_at", "operator_id", "started_at"),
        Index("ix_impersonations_user_pk_started_at", "user_pk", "started_at"),
        Index("ix_impersonations_started_at_id", "started_at", "id"),
    )
