"""The life of an alert: pending -> firing (after the rule's `for`) -> resolved.

One alert per (rule, subject) is open at a time. Each evaluation takes the rules' findings and
moves the open alerts along; a finding with no open alert starts one. Silences and inhibition
are marks on the alert (labels `silenced_by`, `inhibited_by`): it still lives its life and is
visible on the stream and in the history, but sends no webhook while marked, and runs no
automation while silenced. Rows are written only when something changed, so a steady state
costs no writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.server.alerts.models import AlertRow, SilenceRow
from opsconsole.server.alerts.rules import INHIBITED_BY_DOWN, Finding
from opsconsole.wire.alerts import Alert, AlertRule, AlertState, RuleKind, Severity

OPEN_STATES = (AlertState.PENDING.value, AlertState.FIRING.value)
# Labels the lifecycle owns; a finding's own labels never overwrite them.
MARKS = ("silenced_by", "inhibited_by")


@dataclass
class Transition:
    """What one evaluation did to one alert."""

    alert: AlertRow
    changed: bool  # state, marks or ack changed: tell the stream
    opened: bool = False  # a new alert
    fired: bool = False  # became firing now
    resolved: bool = False  # resolved now


def to_public(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        rule=row.rule,
        kind=RuleKind(row.kind),
        severity=Severity(row.severity),
        subject=row.subject,
        state=AlertState(row.state),
        summary=row.summary,
        value=row.value,
        threshold=row.threshold,
        pending_since=row.pending_since,
        firing_since=row.firing_since,
        resolved_at=row.resolved_at,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        ack_comment=row.ack_comment,
        labels=labels_of(row),
    )


def labels_of(row: AlertRow) -> dict[str, Any]:
    labels: dict[str, Any] = json.loads(row.labels or "{}")
    return labels


def suppressed(row: AlertRow) -> bool:
    """Silenced or inhibited: no webhook."""
    labels = labels_of(row)
    return bool(labels.get("silenced_by") or labels.get("inhibited_by"))


def silenced(row: AlertRow) -> bool:
    """Silenced: no webhook and no automation. (Inhibition only mutes: an error spike that
    made its provider count as down should still trip that provider's breaker.)"""
    return bool(labels_of(row).get("silenced_by"))


def silence_for(
    silences: Iterable[SilenceRow], rule: str, provider: str | None, now: datetime
) -> SilenceRow | None:
    """The silence covering this rule (and provider), if one is in force."""
    for silence in silences:
        if silence.ended_by is not None or silence.until <= now:
            continue
        if silence.rule is not None and silence.rule != rule:
            continue
        if silence.provider is not None and silence.provider != provider:
            continue
        return silence
    return None


def marks(
    rule: AlertRule,
    finding: Finding,
    *,
    down: dict[str, str],
    silences: Iterable[SilenceRow],
    now: datetime,
) -> dict[str, Any]:
    """The silence and inhibition marks a finding gets now (empty values when none)."""
    provider = finding.provider
    silence = silence_for(silences, rule.name, provider, now)
    result: dict[str, Any] = {"silenced_by": None, "inhibited_by": None}
    if silence is not None:
        result["silenced_by"] = {"silence": silence.id, "until": silence.until.isoformat()}
    if rule.kind in INHIBITED_BY_DOWN and provider is not None and provider in down:
        result["inhibited_by"] = f"provider {provider} is down: {down[provider]}"
    return result


def advance(
    *,
    session: Session,
    rules: Iterable[AlertRule],
    found: dict[str, list[Finding]],
    down: dict[str, str],
    silences: list[SilenceRow],
    now: datetime,
) -> list[Transition]:
    """Move every open alert along and open new ones; returns what happened to each."""
    by_rule = {rule.name: rule for rule in rules}
    open_rows = session.scalars(select(AlertRow).where(AlertRow.state.in_(OPEN_STATES))).all()
    open_alerts = {(row.rule, row.subject): row for row in open_rows}
    transitions: list[Transition] = []
    seen: set[tuple[str, str]] = set()
    for name, rule_findings in found.items():
        rule = by_rule[name]
        for finding in rule_findings:
            key = (name, finding.subject)
            seen.add(key)
            labels = {
                **finding.labels,
                **marks(rule, finding, down=down, silences=silences, now=now),
            }
            row = open_alerts.get(key)
            if row is None:
                row = _open(session, rule, finding, labels, now)
                transitions.append(
                    Transition(row, changed=True, opened=True, fired=row.firing_since == now)
                )
            else:
                transitions.append(_carry_on(row, rule, finding, labels, now))
    for key, row in open_alerts.items():
        if key not in seen:
            _close(row, now)
            transitions.append(Transition(row, changed=True, resolved=True))
    session.flush()
    return [t for t in transitions if t.changed]


def _open(
    session: Session, rule: AlertRule, finding: Finding, labels: dict[str, Any], now: datetime
) -> AlertRow:
    row = AlertRow(
        rule=rule.name,
        kind=rule.kind.value,
        severity=rule.severity.value,
        subject=finding.subject,
        state=AlertState.PENDING.value,
        summary=finding.summary,
        value=finding.value,
        threshold=finding.threshold,
        pending_since=now,
        labels=_dump(labels),
    )
    if rule.for_s == 0:
        row.state = AlertState.FIRING.value
        row.firing_since = now
    session.add(row)
    return row


def _carry_on(
    row: AlertRow, rule: AlertRule, finding: Finding, labels: dict[str, Any], now: datetime
) -> Transition:
    transition = Transition(row, changed=False)
    before = labels_of(row)
    if any(before.get(mark) != labels.get(mark) for mark in MARKS):
        transition.changed = True
    if row.state == AlertState.PENDING.value and now >= row.pending_since + timedelta(
        seconds=rule.for_s
    ):
        row.state = AlertState.FIRING.value
        row.firing_since = now
        transition.changed = transition.fired = True
    if transition.changed:
        # The figures are brought up to date with each change, not on every evaluation:
        # a steady firing alert costs no writes.
        row.summary = finding.summary
        row.value = finding.value
        row.threshold = finding.threshold
        row.labels = _dump(labels)
    return transition


def _close(row: AlertRow, now: datetime) -> None:
    row.state = AlertState.RESOLVED.value
    row.resolved_at = now


def _dump(labels: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in labels.items() if v is not None}, sort_keys=True, default=str
    )
