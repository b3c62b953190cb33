"""HTTP routes of alerting: rules, the alert history with acknowledgements, silences."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from opsconsole.server.alerts import service
from opsconsole.server.deps import ActorDep, CurrentOperator, NowDep, SessionDep, WriteSessionDep
from opsconsole.server.permissions import Permission
from opsconsole.wire.alerts import (
    AckRequest,
    Alert,
    AlertRule,
    AlertRuleUpdate,
    AlertState,
    RuleKind,
    Silence,
    SilenceRequest,
)
from opsconsole.wire.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page

rules_router = APIRouter(prefix="/v1/alert-rules", tags=["alerts"])
alerts_router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
silences_router = APIRouter(prefix="/v1/silences", tags=["alerts"])

RuleName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
# Ids are 32-bit integers in the store; a larger id can only be a 404, not a 500.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@rules_router.get("")
def list_rules(session: SessionDep, now: NowDep) -> list[AlertRule]:
    """Every rule with its thresholds, `for` duration, automation and any rule-wide silence."""
    return service.list_rules(session=session, now=now)


@rules_router.put("/{name}")
def update_rule(
    *, name: RuleName, body: AlertRuleUpdate, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> AlertRule:
    """Change a rule's settings (audited); fields left out keep their value."""
    return service.update_rule(session=session, name=name, body=body, actor=actor, now=now)


@alerts_router.get("")
def list_alerts(
    *,
    session: SessionDep,
    operator: CurrentOperator,
    state: AlertState | None = None,
    rule: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Annotated[
        datetime | None, Query(description="alerts still open at or after this time")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page[Alert]:
    """The alert history, newest first: filter by state, rule, and time."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without a zone is read as UTC
    items, next_cursor = service.list_alerts(
        session=session,
        filters=service.AlertFilter(state=state, rule=rule, since=since),
        cursor=cursor,
        limit=limit,
    )
    return Page[Alert](items=[_shown(alert, operator) for alert in items], next_cursor=next_cursor)


@alerts_router.get("/{alert_id}")
def get_alert(alert_id: Id, session: SessionDep, operator: CurrentOperator) -> Alert:
    return _shown(service.get_alert(session=session, alert_id=alert_id), operator)


@alerts_router.post("/{alert_id}/ack")
def acknowledge(
    *, alert_id: Id, body: AckRequest, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> Alert:
    """Take a firing alert on, with a comment; who and since when stay on the alert."""
    return service.acknowledge(
        session=session, alert_id=alert_id, comment=body.comment, actor=actor, now=now
    )


@silences_router.get("")
def list_silences(session: SessionDep, now: NowDep, include_ended: bool = False) -> list[Silence]:
    """Silences in force (with `include_ended`, the last 500 of any kind)."""
    return service.list_silences(session=session, now=now, include_ended=include_ended)


@silences_router.post("", status_code=status.HTTP_201_CREATED)
def create_silence(
    body: SilenceRequest, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> Silence:
    """Mute a rule, a provider (every rule about it), or one rule for one provider, until a
    time. Muted alerts still live and show; they send no webhook and run no automation."""
    return service.create_silence(session=session, body=body, actor=actor, now=now)


@silences_router.delete("/{silence_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_silence(silence_id: Id, session: WriteSessionDep, actor: ActorDep, now: NowDep) -> Response:
    service.end_silence(session=session, silence_id=silence_id, actor=actor, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _shown(alert: Alert, operator: CurrentOperator) -> Alert:
    """The alert as this operator may see it: a heavy user's id is personal data."""
    if alert.kind is not RuleKind.HEAVY_USER or operator.can(Permission.USERS_READ):
        return alert
    hidden = "a user"
    return alert.model_copy(
        update={
            "subject": hidden,
            "summary": alert.summary.replace(alert.subject, hidden),
            "labels": {k: v for k, v in alert.labels.items() if k != "user"},
        }
    )
