"""Operators' side of alerting: rules, the alert history, acknowledgements and silences.

Plain functions over a session; every change is audited in the same transaction and emits an
`AlertChanged` that the alerts runtime passes to the stream once the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsconsole.server.alerts.lifecycle import to_public
from opsconsole.server.alerts.models import AlertRow, AlertRuleRow, SilenceRow
from opsconsole.server.alerts.rules import DEFAULT_RULES
from opsconsole.server.audit.service import Actor, record
from opsconsole.server.db import Database, emit
from opsconsole.server.errors import Problem, bad_request, conflict, not_found
from opsconsole.server.gate.models import Provider
from opsconsole.server.pagination import bad_cursor, decode_cursor, encode_cursor
from opsconsole.wire.alerts import (
    Alert,
    AlertRule,
    AlertRuleUpdate,
    AlertState,
    Automation,
    RuleKind,
    Severity,
    Silence,
    SilenceRequest,
)

Event = Literal["pending", "firing", "resolved", "updated", "acknowledged"]

# Which automations make sense for which kind of rule.
AUTOMATIONS: dict[RuleKind, frozenset[Automation]] = {
    RuleKind.COST_SPIKE: frozenset({Automation.FALLBACK_ONLY}),
    RuleKind.ERROR_RATE: frozenset({Automation.TRIP_BREAKER, Automation.FALLBACK_ONLY}),
    RuleKind.LATENCY_P95: frozenset({Automation.TRIP_BREAKER}),
    RuleKind.GLOBAL_BUDGET: frozenset({Automation.PAUSE_NON_PREMIUM, Automation.FALLBACK_ONLY}),
    RuleKind.HEAVY_USER: frozenset(),
}


@dataclass(frozen=True)
class AlertChanged:
    """Emitted when an alert changed; the runtime tells its listeners after the commit."""

    alert: Alert
    event: Event


# --- rules ---------------------------------------------------------------------------------


def ensure_default_rules(db: Database) -> None:
    """Insert the default rules missing from the table (all of them on first start)."""
    with db.reading() as session:
        known = set(session.scalars(select(AlertRuleRow.name)))
    missing = [rule for rule in DEFAULT_RULES if rule.name not in known]
    if not missing:
        return
    try:
        with db.writing() as session:
            for rule in missing:
                session.add(_row(rule))
    except IntegrityError:
        pass  # another replica inserted them first: the same defaults


def _row(rule: AlertRule) -> AlertRuleRow:
    return AlertRuleRow(
        name=rule.name,
        kind=rule.kind.value,
        enabled=rule.enabled,
        severity=rule.severity.value,
        threshold=rule.threshold,
        for_s=rule.for_s,
        window_s=rule.window_s,
        floor=rule.floor,
        automation=rule.automation.value,
        description=rule.description,
    )


def rule_public(row: AlertRuleRow, silenced_until: datetime | None = None) -> AlertRule:
    return AlertRule(
        name=row.name,
        kind=RuleKind(row.kind),
        enabled=row.enabled,
        severity=Severity(row.severity),
        threshold=row.threshold,
        for_s=row.for_s,
        window_s=row.window_s,
        floor=row.floor,
        automation=Automation(row.automation),
        silenced_until=silenced_until,
        description=row.description,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def list_rules(*, session: Session, now: datetime) -> list[AlertRule]:
    silences = active_silences(session=session, now=now)
    rules = []
    for row in session.scalars(select(AlertRuleRow).order_by(AlertRuleRow.name)):
        until = [s.until for s in silences if s.rule == row.name and s.provider is None]
        rules.append(rule_public(row, max(until) if until else None))
    return rules


def update_rule(
    *, session: Session, name: str, body: AlertRuleUpdate, actor: Actor, now: datetime
) -> AlertRule:
    row = session.get(AlertRuleRow, name)
    if row is None:
        known = sorted(session.scalars(select(AlertRuleRow.name)))
        raise Problem(
            404, "not-found", "No such rule", f"There is no rule {name!r}; rules are {known}."
        )
    changes = body.model_dump(exclude_unset=True, exclude_none=True, mode="json")
    if not changes:
        raise bad_request(
            "Nothing to change: give at least one of enabled, severity, threshold, for_s, "
            "window_s, floor, automation."
        )
    automation = changes.get("automation")
    if automation not in (None, Automation.NONE.value):
        allowed = AUTOMATIONS.get(RuleKind(row.kind), frozenset())
        if Automation(automation) not in allowed:
            raise bad_request(
                f"Rule {name} ({row.kind}) cannot run {automation}; it can run "
                f"{sorted(a.value for a in allowed) or 'no automation'}."
            )
    before = rule_public(row).model_dump(mode="json", exclude={"updated_by", "updated_at"})
    for field_name, value in changes.items():
        setattr(row, field_name, value)
    row.updated_by = actor.name
    row.updated_at = now
    after = rule_public(row).model_dump(mode="json", exclude={"updated_by", "updated_at"})
    record(
        session=session,
        actor=actor,
        action="alerts.rule_update",
        target=f"alert_rule:{name}",
        at=now,
        before={k: before[k] for k in changes},
        after={k: after[k] for k in changes},
    )
    return rule_public(row)


def load_rules(*, session: Session) -> list[AlertRule]:
    return [rule_public(row) for row in session.scalars(select(AlertRuleRow))]


# --- alerts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    state: AlertState | None = None
    rule: str | None = None
    since: datetime | None = None  # alerts open at any moment at or after this time


def list_alerts(
    *, session: Session, filters: AlertFilter, cursor: str | None, limit: int
) -> tuple[list[Alert], str | None]:
    """Newest first, one page."""
    query = select(AlertRow)
    if filters.state is not None:
        query = query.where(AlertRow.state == filters.state.value)
    if filters.rule is not None:
        query = query.where(AlertRow.rule == filters.rule)
    if filters.since is not None:
        query = query.where(
            or_(AlertRow.resolved_at.is_(None), AlertRow.resolved_at >= filters.since)
        )
    key = decode_cursor(cursor, "id")
    if key is not None:
        if not isinstance(key["id"], int) or isinstance(key["id"], bool):
            raise bad_cursor()
        query = query.where(AlertRow.id < key["id"])
    rows = list(session.scalars(query.order_by(AlertRow.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(id=rows[limit - 1].id) if len(rows) > limit else None
    return [to_public(row) for row in rows[:limit]], next_cursor


def get_alert(*, session: Session, alert_id: int) -> Alert:
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise not_found("alert", alert_id)
    return to_public(row)


def acknowledge(
    *, session: Session, alert_id: int, comment: str, actor: Actor, now: datetime
) -> Alert:
    """An operator takes a firing alert on; who and since when stays on the alert."""
    row = session.get(AlertRow, alert_id, with_for_update=True)
    if row is None:
        raise not_found("alert", alert_id)
    if row.state != AlertState.FIRING.value:
        raise conflict(f"Alert {alert_id} is {row.state}; only a firing alert can be acknowledged.")
    if row.acknowledged_by is not None:
        raise conflict(
            f"Alert {alert_id} was acknowledged by {row.acknowledged_by} at "
            f"{row.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC already."
        )
    row.acknowledged_by = actor.name
    row.acknowledged_at = now
    row.ack_comment = comment
    record(
        session=session,
        actor=actor,
        action="alerts.ack",
        target=f"alert:{alert_id}",
        at=now,
        before=None,
        after={"rule": row.rule, "subject": row.subject, "comment": comment},
    )
    alert = to_public(row)
    emit(session, AlertChanged(alert, "acknowledged"))
    return alert


# --- silences ------------------------------------------------------------------------------


def silence_public(row: SilenceRow, now: datetime) -> Silence:
    return Silence(
        id=row.id,
        rule=row.rule,
        provider=row.provider,
        until=row.until,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        ended_by=row.ended_by,
        active=row.ended_by is None and row.until > now,
    )


def active_silences(*, session: Session, now: datetime) -> list[SilenceRow]:
    return list(
        session.scalars(
            select(SilenceRow)
            .where(SilenceRow.until > now, SilenceRow.ended_by.is_(None))
            .order_by(SilenceRow.id)
        )
    )


def list_silences(*, session: Session, now: datetime, include_ended: bool) -> list[Silence]:
    if include_ended:
        rows = list(session.scalars(select(SilenceRow).order_by(SilenceRow.id.desc()).limit(500)))
    else:
        rows = active_silences(session=session, now=now)
    return [silence_public(row, now) for row in rows]


def create_silence(
    *, session: Session, body: SilenceRequest, actor: Actor, now: datetime
) -> Silence:
    if body.until <= now:
        raise bad_request("until is not in the future; give the time the silence should end.")
    if body.rule is not None and session.get(AlertRuleRow, body.rule) is None:
        known = sorted(session.scalars(select(AlertRuleRow.name)))
        raise bad_request(f"There is no rule {body.rule!r}; rules are {known}.")
    if body.provider is not None and session.get(Provider, body.provider) is None:
        known = sorted(session.scalars(select(Provider.name)))
        raise bad_request(f"There is no provider {body.provider!r}; providers are {known}.")
    row = SilenceRow(
        rule=body.rule,
        provider=body.provider,
        until=body.until,
        reason=body.reason,
        created_by=actor.name,
        created_at=now,
    )
    session.add(row)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="alerts.silence",
        target=f"silence:{row.id}",
        at=now,
        after={
            "rule": body.rule,
            "provider": body.provider,
            "until": body.until.isoformat(),
            "reason": body.reason,
        },
    )
    return silence_public(row, now)


def end_silence(*, session: Session, silence_id: int, actor: Actor, now: datetime) -> Silence:
    row = session.get(SilenceRow, silence_id, with_for_update=True)
    if row is None:
        raise not_found("silence", silence_id)
    if row.ended_by is not None or row.until <= now:
        raise conflict(f"Silence {silence_id} has ended already.")
    before_until = row.until
    row.ended_by = actor.name
    row.until = now
    record(
        session=session,
        actor=actor,
        action="alerts.unsilence",
        target=f"silence:{silence_id}",
        at=now,
        before={"until": before_until.isoformat()},
        after={"until": now.isoformat()},
    )
    return silence_public(row, now)
