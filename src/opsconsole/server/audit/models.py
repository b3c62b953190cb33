"""The audit log: one row per state change, chained by SHA-256 so tampering shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.server.db import Base, UtcDateTime


class AuditRow(Base):
    __tablename__ = "audit_log"

    # Assigned under the chain lock as last + 1, so the sequence has no gaps unless rows go.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_type: Mapped[str] = mapped_column(String(16))  # operator, app, automation, system
    actor: Mapped[str] = mapped_column(String(64))
    impersonated_user: Mapped[str | None] = mapped_column(String(128), default=None)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[str | None] = mapped_column(Text, default=None)  # JSON
    after: Mapped[str | None] = mapped_column(Text, default=None)  # JSON
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_seq", "actor", "seq"),
        Index("ix_audit_log_action_seq", "action", "seq"),
        Index("ix_audit_log_target_seq", "target", "seq"),
    )
