"""What the stream carries and who may see it.

Commit notices become `audit`, `switch`, `user` and `ticket` messages; the metrics runtime
gives `snapshot` and `health`, the alerts service `alert`. Each message names the permission
a console's role needs to receive it: the same one that reads the thing over REST, so the
stream shows nobody personal data their role could not fetch anyway.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel

from opsconsole.server.alerts.runtime import AlertsRuntime
from opsconsole.server.audit.models import AuditRow
from opsconsole.server.audit.service import to_entry
from opsconsole.server.clock import Clock
from opsconsole.server.db import Database
from opsconsole.server.errors import Problem
from opsconsole.server.gate.changes import switch_public
from opsconsole.server.gate.events import SwitchChanged
from opsconsole.server.metrics.service import MetricsRuntime
from opsconsole.server.permissions import Permission
from opsconsole.server.stream.hub import Audience, StreamHub
from opsconsole.server.stream.sessions import SESSION_ACTIONS
from opsconsole.server.tickets import service as tickets
from opsconsole.wire.alerts import Alert, RuleKind
from opsconsole.wire.stream import SwitchChange, UserChange

log = logging.getLogger("opsconsole.stream")

P = Permission
Item = tuple[str, BaseModel, Audience]


def actor_name(label: str | None) -> str:
    """`operator:alice` -> `alice`; anything done by automation -> `automation`."""
    if not label:
        return "unknown"
    kind, _, name = label.partition(":")
    if kind == "automation":
        return "automation"
    return name or kind


AUDIT = Audience.of(P.AUDIT_READ)
USERS = Audience.of(P.USERS_READ)
TICKETS = Audience.of(P.TICKETS_READ)
SWITCHES = Audience.of(P.GATE_READ)
METRICS = Audience.of(P.METRICS_READ)
ALERTS = Audience.of(P.ALERTS_READ)


def alert_items(alert: Alert) -> list[Item]:
    """A heavy user's id is personal data: roles without users:read get the alert without it,
    as `GET /v1/alerts` shows it to them (alerts/routes.py `_shown`: keep the two in step)."""
    if alert.kind is not RuleKind.HEAVY_USER:
        return [("alert", alert, ALERTS)]
    hidden = "a user"
    redacted = alert.model_copy(
        update={
            "subject": hidden,
            "summary": alert.summary.replace(alert.subject, hidden),
            "labels": {k: v for k, v in alert.labels.items() if k != "user"},
        }
    )
    return [
        ("alert", alert, Audience.of(P.ALERTS_READ, P.USERS_READ)),
        ("alert", redacted, Audience.of(P.ALERTS_READ, unless=P.USERS_READ)),
    ]


class CommitNotices:
    """The database's commit listener: committed changes, told to every console."""

    def __init__(
        self,
        *,
        hub: StreamHub,
        db: Database,
        clock: Clock,
        on_session_change: Callable[[], None],
    ) -> None:
        self.hub = hub
        self.db = db
        self.clock = clock
        self.on_session_change = on_session_change
        # Tickets are loaded off the committing request's thread, one worker so their
        # messages keep the order of the commits.
        self._tickets = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-tickets")

    def close(self) -> None:
        self._tickets.shutdown(wait=True, cancel_futures=True)

    def __call__(self, items: list[object]) -> None:
        out: list[Item] = []
        ticket_ids: list[int] = []
        sessions_changed = False
        for item in items:
            if isinstance(item, AuditRow):
                out.append(("audit", to_entry(item), AUDIT))
                kind, _, key = item.target.partition(":")
                if kind == "user":
                    change = UserChange(user_id=key, action=item.action, actor=item.actor)
                    out.append(("user", change, USERS))
                elif kind == "ticket" and key.isdigit() and int(key) not in ticket_ids:
                    ticket_ids.append(int(key))
                sessions_changed |= item.action in SESSION_ACTIONS
            elif isinstance(item, SwitchChanged):
                state = item.state
                switched = SwitchChange(
                    switch=switch_public(state, self.clock.now()),
                    actor=actor_name(state.set_by),
                    reason=state.reason,
                )
                out.append(("switch", switched, SWITCHES))
        self.hub.publish_many(out)
        if ticket_ids:
            with contextlib.suppress(RuntimeError):  # shut down: the server is stopping
                self._tickets.submit(self._publish_tickets, ticket_ids)
        if sessions_changed:
            self.on_session_change()

    def _publish_tickets(self, ticket_ids: list[int]) -> None:
        out: list[Item] = []
        try:
            with self.db.reading() as session:
                now = self.clock.now()
                for ticket_id in ticket_ids:
                    try:
                        ticket = tickets.get_ticket(session=session, ticket_id=ticket_id)
                    except Problem:  # gone (the user was erased) by the time we looked
                        continue
                    user_id = tickets.user_id_of(session=session, ticket=ticket)
                    out.append(("ticket", tickets.ticket_public(ticket, user_id, now), TICKETS))
        except Exception:  # a console misses one ticket update; the request already succeeded
            log.exception("stream: loading tickets %s failed", ticket_ids)
            return
        self.hub.publish_many(out)


def connect_runtime_producers(
    hub: StreamHub, metrics: MetricsRuntime, alerts: AlertsRuntime
) -> None:
    """Subscribe to the metrics runtime (snapshots, health) and the alerts service."""
    metrics.on_snapshot(lambda snapshot: hub.publish("snapshot", snapshot, METRICS))
    metrics.on_health_change(lambda change: hub.publish("health", change, METRICS))
    alerts.on_event(lambda alert: hub.publish_many(alert_items(alert)))
