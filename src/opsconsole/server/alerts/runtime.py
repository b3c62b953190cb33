"""The alerts runtime: evaluates the rules every few seconds, one per process on
`app.state.alerts`.

`evaluate(now)` is one round: gather the inputs, find what each rule finds, move the alerts
along (one transaction), then for each alert that started firing run its rule's automation
(its own transaction, audited) and queue the webhooks. Listeners (`on_event`) hear of every
alert that changed once the change is committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from opsconsole.server.alerts import automations, lifecycle, service
from opsconsole.server.alerts.inputs import Gatherer, LiveFigures
from opsconsole.server.alerts.leader import RedisLease
from opsconsole.server.alerts.models import AlertRow, AlertRuleRow
from opsconsole.server.alerts.notify import WebhookNotifier, message
from opsconsole.server.alerts.rules import findings
from opsconsole.server.clock import Clock
from opsconsole.server.db import Database, emit
from opsconsole.server.gate.engine import Gate
from opsconsole.server.settings import Settings
from opsconsole.wire.alerts import Alert, AlertState, Automation

log = logging.getLogger("opsconsole.alerts")

Listener = Callable[[Alert], None]


class AlertsRuntime:
    def __init__(
        self,
        *,
        db: Database,
        gate: Gate,
        clock: Clock,
        settings: Settings,
        live: Callable[[], LiveFigures | None] = lambda: None,
    ) -> None:
        self.db = db
        self.gate = gate
        self.clock = clock
        self.interval_s = settings.alerts_interval_s
        self.gatherer = Gatherer(
            db=db, gate=gate, live=live, history_ttl_s=settings.alerts_history_refresh_s
        )
        self.notifier = WebhookNotifier(
            settings.alerts_webhooks,
            attempts=settings.alerts_webhook_attempts,
            backoff_s=settings.alerts_webhook_backoff_s,
            timeout_s=settings.alerts_webhook_timeout_s,
        )
        self._listeners: list[Listener] = []
        # With several replicas (Redis), only the holder of this lease evaluates.
        self.lease: RedisLease | None = None
        # One round at a time: the background loop and a test's explicit call may overlap.
        self._lock = threading.Lock()
        service.ensure_default_rules(db)
        db.on_commit(self._on_commit)

    def on_event(self, callback: Listener) -> None:
        """Call `callback` with the alert on every state change, mark change and ack.

        It is called on the thread that committed the change (the evaluation thread or a
        request's worker thread), never on the event loop: hand over with
        `loop.call_soon_threadsafe` and do no I/O in it.
        """
        self._listeners.append(callback)

    def evaluate(self, now: datetime | None = None) -> list[Alert]:
        """One round of evaluation at `now` (the clock's time by default); returns the alerts
        that changed."""
        moment = now or self.clock.now()
        with self._lock:
            return self._evaluate(moment)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                if self.lease is not None and not await asyncio.to_thread(self.lease.hold):
                    continue  # another replica evaluates
                await asyncio.to_thread(self.evaluate)
            except Exception:  # keep evaluating; the database may answer next round
                log.exception("alert evaluation failed")

    def close(self) -> None:
        self.notifier.close()
        if self.lease is not None:
            try:
                self.lease.release()
            except Exception:  # Redis gone: the lease expires by itself
                log.warning("could not release the alert evaluation lease", exc_info=True)

    # --- one round ------------------------------------------------------------------------

    def _evaluate(self, now: datetime) -> list[Alert]:
        with self.db.reading() as session:
            rules = service.load_rules(session=session)
            silences = service.active_silences(session=session, now=now)
        inputs = self.gatherer.gather(rules, now)
        found = {rule.name: findings(rule, inputs) for rule in rules}
        by_name = {rule.name: rule for rule in rules}
        with self.db.writing() as session:
            transitions = lifecycle.advance(
                session=session,
                rules=rules,
                found=found,
                down=inputs.down,
                silences=silences,
                now=now,
            )
            changed = []
            to_automate: list[int] = []
            for transition in transitions:
                row = transition.alert
                alert = lifecycle.to_public(row)
                changed.append(alert)
                emit(session, service.AlertChanged(alert, _event(transition)))
                rule = by_name.get(row.rule)
                if (
                    rule is not None
                    and rule.automation is not Automation.NONE
                    and row.state == AlertState.FIRING.value
                    and row.automated_at is None
                    and not lifecycle.silenced(row)
                ):
                    to_automate.append(row.id)
            # A silenced or inhibited alert is sent once it no longer is; a resolution only
            # when its firing was sent.
            to_notify = self._notifications(session, transitions, now)
        for alert_id in to_automate:
            self._automate(alert_id, now)
        for body in to_notify:
            self.notifier.send(body)
        return changed

    def _notifications(
        self, session: Session, transitions: list[lifecycle.Transition], now: datetime
    ) -> list[dict[str, Any]]:
        bodies = []
        for transition in transitions:
            row = transition.alert
            if row.state == AlertState.FIRING.value:
                if row.notified_at is None and not lifecycle.suppressed(row):
                    row.notified_at = now
                    bodies.append(message(lifecycle.to_public(row), "firing"))
            elif transition.resolved and row.notified_at is not None:
                bodies.append(message(lifecycle.to_public(row), "resolved"))
        session.flush()
        return bodies

    def _automate(self, alert_id: int, now: datetime) -> None:
        """Run the rule's automation for a firing alert, once, in its own transaction."""
        try:
            with self.db.writing() as session:
                row = session.get(AlertRow, alert_id)
                rule_row = session.get(AlertRuleRow, row.rule) if row else None
                if row is None or rule_row is None or row.automated_at is not None:
                    return
                done = automations.run(
                    session=session,
                    gate=self.gate,
                    automation=Automation(rule_row.automation),
                    alert=lifecycle.to_public(row),
                    now=now,
                )
                _note(row, automation=rule_row.automation, automation_result=done, at=now)
                emit(session, service.AlertChanged(lifecycle.to_public(row), "updated"))
        except Exception as error:  # the alert stands; an operator acts by hand
            log.exception("automation for alert %s failed", alert_id)
            with self.db.writing() as session:
                row = session.get(AlertRow, alert_id)
                if row is not None:
                    _note(row, automation_result=f"failed: {error}", at=now)

    def _on_commit(self, items: list[object]) -> None:
        for item in items:
            if isinstance(item, service.AlertChanged):
                if item.event == "acknowledged":
                    self.notifier.send(message(item.alert, "acknowledged"))
                for listener in self._listeners:
                    try:
                        listener(item.alert)
                    except Exception:  # one listener's bug must not stop the others
                        log.exception("alert listener failed")


def _note(row: AlertRow, *, at: datetime, **labels: Any) -> None:
    current = lifecycle.labels_of(row)
    current.update(labels)
    row.labels = json.dumps(current, sort_keys=True, default=str)
    row.automated_at = at


def _event(transition: lifecycle.Transition) -> service.Event:
    if transition.resolved:
        return "resolved"
    if transition.fired:
        return "firing"
    return "pending" if transition.opened else "updated"
