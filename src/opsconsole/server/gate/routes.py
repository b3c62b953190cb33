"""HTTP routes of the gate: admit and report (the app's hot path), tiers, providers, switches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from sqlalchemy import select

from opsconsole.server.deps import ActorDep, NowDep, SessionDep, WriteSessionDep
from opsconsole.server.errors import Problem
from opsconsole.server.gate import changes, service
from opsconsole.server.gate.models import Provider
from opsconsole.server.users.models import Tier
from opsconsole.wire.gate import (
    AdmitRequest,
    AdmitResponse,
    BreakerAction,
    ProviderPublic,
    ProviderUpdate,
    ReportBatch,
    ReportResult,
    SwitchPublic,
    SwitchUpdate,
    TierPublic,
    TierUpdate,
    UsageReport,
)

router = APIRouter(prefix="/v1/gate", tags=["gate"])
tiers_router = APIRouter(prefix="/v1/tiers", tags=["tiers"])
providers_router = APIRouter(prefix="/v1/providers", tags=["providers"])
controls_router = APIRouter(prefix="/v1/controls", tags=["controls"])

NamePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


def runtime(request: Request) -> service.GateRuntime:
    gate: service.GateRuntime = request.app.state.gate
    return gate


@router.post("/admit")
async def admit(body: AdmitRequest, request: Request) -> AdmitResponse:
    """May this user make this AI request, and through which provider?

    A denial is a 200 with `allow: false` and a `reason` from a closed set. `dry_run` decides
    without counting anything (support uses it to see why a user is refused).
    """
    decision = await runtime(request).admit(
        user_id=body.user_id, feature=body.feature, dry_run=body.dry_run
    )
    return decision.response


@router.post("/dry-run")
async def dry_run(body: AdmitRequest, request: Request) -> AdmitResponse:
    """The decision the gate would make for this user now, counting nothing (operators)."""
    decision = await runtime(request).admit(
        user_id=body.user_id, feature=body.feature, dry_run=True
    )
    return decision.response


@router.post("/report")
async def report(body: UsageReport | ReportBatch, request: Request) -> ReportResult:
    """One usage report or a batch of up to 1,000; a 200 means they are on disk.

    A batch with any bad report (unknown or expired decision, a duplicate, another provider
    than the decision's) is refused whole with a 422 naming each bad one; nothing changes.
    """
    reports = body.reports if isinstance(body, ReportBatch) else [body]
    result = await runtime(request).report(reports)
    if result.problems:
        raise Problem(
            422,
            "bad-report",
            "Reports refused",
            f"{len(result.problems)} of {len(reports)} reports cannot be accepted, so none "
            "were: "
            + "; ".join(f"#{p.index} {p.decision_id}: {p.problem}" for p in result.problems[:5])
            + ". Drop those and send the rest again.",
            problems=[
                {"index": p.index, "decision_id": p.decision_id, "problem": p.problem}
                for p in result.problems
            ],
        )
    return ReportResult(accepted=len(result.rows))


@tiers_router.get("")
def list_tiers(session: SessionDep) -> list[TierPublic]:
    return [changes.tier_public(row) for row in session.scalars(select(Tier).order_by(Tier.name))]


@tiers_router.put("/{name}")
def put_tier(
    *, name: NamePath, body: TierUpdate, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> TierPublic:
    tier = changes.put_tier(session=session, name=name, body=body, actor=actor, now=now)
    return changes.tier_public(tier)


@providers_router.get("")
def list_providers(request: Request, session: SessionDep, now: NowDep) -> list[ProviderPublic]:
    live = runtime(request).gate.providers
    rows = session.scalars(select(Provider).order_by(Provider.name))
    return [changes.provider_public(row, live.get(row.name), now) for row in rows]


@providers_router.patch("/{name}")
def update_provider(
    *,
    name: NamePath,
    body: ProviderUpdate,
    request: Request,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> ProviderPublic:
    row = changes.update_provider(session=session, name=name, body=body, actor=actor, now=now)
    return changes.provider_public(row, runtime(request).gate.providers.get(name), now)


@providers_router.post("/{name}/breaker")
def breaker(
    *,
    name: NamePath,
    body: BreakerAction,
    request: Request,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> ProviderPublic:
    """Trip (open until reset by hand) or reset (close) a provider's circuit breaker."""
    row = changes.breaker_action(
        session=session,
        live=runtime(request).gate.providers.get(name),
        name=name,
        action=body.action,
        reason=body.reason,
        actor=actor,
        now=now,
    )
    return changes.provider_public(row, None, now)


@controls_router.get("")
def list_controls(request: Request, now: NowDep) -> list[SwitchPublic]:
    gate = runtime(request).gate
    return [changes.switch_public(state, now) for state in gate.switches.values()]


@controls_router.put("/{switch}")
def set_control(
    *,
    switch: str,
    body: SwitchUpdate,
    request: Request,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> SwitchPublic:
    """Turn an emergency switch on (with a reason and an optional expiry) or off (value null)."""
    state = changes.set_switch(
        session=session,
        gate=runtime(request).gate,
        name=changes.require_switch(switch),
        body=body,
        actor=actor,
        now=now,
    )
    return changes.switch_public(state, now)
