"""Tables of alerting: the rules operators edit, every alert with its history, silences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.server.db import Base, UtcDateTime


class AlertRuleRow(Base):
    """One rule; the defaults are inserted on start (rules.DEFAULT_RULES), operators edit them."""

    __tablename__ = "alert_rules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    severity: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float] = mapped_column(Float)
    for_s: Mapped[int] = mapped_column(Integer)
    window_s: Mapped[int] = mapped_column(Integer)
    floor: Mapped[float] = mapped_column(Float, default=0.0)
    automation: Mapped[str] = mapped_column(String(32), default="none")
    description: Mapped[str] = mapped_column(String(500), default="")
    updated_by: Mapped[str | None] = mapped_column(String(80), default=None)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class AlertRow(Base):
    """One alert: a (rule, subject) from pending to resolved. Rows are kept as the history."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(160))
    state: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(500))
    value: Mapped[float | None] = mapped_column(Float, default=None)
    threshold: Mapped[float | None] = mapped_column(Float, default=None)
    pending_since: Mapped[datetime] = mapped_column(UtcDateTime)
    firing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ack_comment: Mapped[str | None] = mapped_column(String(1000), default=None)
    labels: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    # When the firing was sent to the webhooks and when the rule's automation ran: a silenced
    # or inhibited alert is sent (and automated) once it no longer is, never twice.
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    automated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (
        Index("ix_alerts_state_rule_subject", "state", "rule", "subject"),
        Index("ix_alerts_rule_id", "rule", "id"),
        Index("ix_alerts_resolved_at", "resolved_at"),
    )


class SilenceRow(Base):
    """Mutes a rule, a provider (for every rule), or one rule for one provider, until a time."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str | None] = mapped_column(String(64), default=None)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    until: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(80), default=None)

    __table_args__ = (Index("ix_alert_silences_until", "until"),)
