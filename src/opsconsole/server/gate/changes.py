"""What operators change in the gate: tiers, providers, breakers and switches.

Plain functions over a session, each audited; the change reaches the running gate through the
notices in `events.py`, applied once the transaction has committed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import AUTOMATION, Actor, record
from opsconsole.server.db import emit
from opsconsole.server.errors import Problem, bad_request, not_found
from opsconsole.server.gate.breaker import Breaker
from opsconsole.server.gate.engine import Gate
from opsconsole.server.gate.events import (
    BreakerReset,
    ProvidersChanged,
    SwitchChanged,
    TiersChanged,
)
from opsconsole.server.gate.models import Provider, Switch
from opsconsole.server.gate.state import ProviderRuntime, SwitchState, TierPolicy
from opsconsole.server.users.models import Tier
from opsconsole.wire.gate import (
    BreakerSettings,
    ProviderPublic,
    ProviderUpdate,
    SwitchName,
    SwitchPublic,
    SwitchUpdate,
    TierPublic,
    TierUpdate,
)


def tier_policy(row: Tier) -> TierPolicy:
    return TierPolicy(
        name=row.name,
        daily_requests=row.daily_requests,
        weekly_budget=row.weekly_budget,
        monthly_budget=row.monthly_budget,
        rate_per_minute=row.rate_per_minute,
        providers=tuple(json.loads(row.providers)),
        price_monthly=row.price_monthly,
    )


def tier_public(row: Tier) -> TierPublic:
    policy = tier_policy(row)
    return TierPublic.model_validate({**asdict(policy), "providers": list(policy.providers)})


def put_tier(*, session: Session, name: str, body: TierUpdate, actor: Actor, now: datetime) -> Tier:
    """Create or replace a tier's limits; every provider it names must exist."""
    known = set(session.scalars(select(Provider.name)))
    unknown = [p for p in body.providers if p not in known]
    if unknown:
        raise bad_request(
            f"Unknown providers {unknown}; known providers are {sorted(known)}.",
        )
    tier = session.get(Tier, name)
    before = tier_public(tier).model_dump() if tier else None
    if tier is None:
        tier = Tier(name=name)
        session.add(tier)
    tier.daily_requests = body.daily_requests
    tier.weekly_budget = body.weekly_budget
    tier.monthly_budget = body.monthly_budget
    tier.rate_per_minute = body.rate_per_minute
    tier.providers = json.dumps(body.providers)
    tier.price_monthly = body.price_monthly
    session.flush()
    record(
        session=session,
        actor=actor,
        action="tiers.put",
        target=f"tier:{name}",
        at=now,
        before=before,
        after=tier_public(tier).model_dump(),
    )
    emit(session, TiersChanged())
    return tier


def provider_public(row: Provider, live: ProviderRuntime | None, now: datetime) -> ProviderPublic:
    settings = BreakerSettings.model_validate_json(row.breaker_settings or "{}")
    breaker = live.breaker if live else Breaker(settings=settings)
    if live is None and row.breaker_tripped_at is not None:
        breaker.trip(row.breaker_tripped_at)
    return ProviderPublic(
        name=row.name,
        model=row.model,
        price_in_per_1k=row.price_in_per_1k,
        price_out_per_1k=row.price_out_per_1k,
        enabled=row.enabled,
        breaker_settings=settings,
        breaker=breaker.public(now),
    )


def update_provider(
    *, session: Session, name: str, body: ProviderUpdate, actor: Actor, now: datetime
) -> Provider:
    provider = session.get(Provider, name)
    if provider is None:
        raise not_found("provider", name)
    before = _provider_summary(provider)
    for field_name in ("model", "price_in_per_1k", "price_out_per_1k", "enabled"):
        value = getattr(body, field_name)
        if value is not None:
            setattr(provider, field_name, value)
    if body.breaker_settings is not None:
        provider.breaker_settings = body.breaker_settings.model_dump_json()
    record(
        session=session,
        actor=actor,
        action="providers.update",
        target=f"provider:{name}",
        at=now,
        before=before,
        after=_provider_summary(provider),
    )
    emit(session, ProvidersChanged())
    return provider


def breaker_action(
    *,
    session: Session,
    live: ProviderRuntime | None,
    name: str,
    action: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Provider:
    provider = session.get(Provider, name)
    if provider is None:
        raise not_found("provider", name)
    before = live.breaker.public(now).state.value if live else None
    provider.breaker_tripped_at = now if action == "trip" else None
    record(
        session=session,
        actor=actor,
        action=f"providers.breaker_{action}",
        target=f"provider:{name}",
        at=now,
        before={"state": before},
        after={"state": "open" if action == "trip" else "closed", "reason": reason},
    )
    if action == "reset" and live is not None and not live.breaker.manual:
        # An automatically opened breaker has no trace in the table: reset it after commit.
        emit(session, BreakerReset(name))
    emit(session, ProvidersChanged())
    return provider


def _provider_summary(row: Provider) -> dict[str, Any]:
    return {
        "model": row.model,
        "price_in_per_1k": row.price_in_per_1k,
        "price_out_per_1k": row.price_out_per_1k,
        "enabled": row.enabled,
        "breaker_settings": json.loads(row.breaker_settings or "{}"),
    }


def switch_public(state: SwitchState, now: datetime) -> SwitchPublic:
    return SwitchPublic(
        name=state.name,
        active=state.active(now),
        value=state.value,
        set_by=state.set_by,
        reason=state.reason,
        set_at=state.set_at,
        expires_at=state.expires_at,
    )


def _check_switch_value(name: SwitchName, value: Any, known_tiers: set[str]) -> Any:
    if value is None:
        return None
    if name in (SwitchName.PAUSE_ALL, SwitchName.FALLBACK_ONLY, SwitchName.CHEAPEST_ONLY):
        if value is not True:
            raise bad_request(f"{name} takes true to turn it on or null to turn it off.")
        return True
    if name is SwitchName.PAUSE_TIERS:
        if not isinstance(value, list) or not value:
            raise bad_request("pause_tiers takes a non-empty list of tier names, or null.")
        unknown = [tier for tier in value if tier not in known_tiers]
        if unknown:
            raise bad_request(f"Unknown tiers {unknown}; known tiers are {sorted(known_tiers)}.")
        return sorted(set(value))
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        unit = "dollars per day" if name is SwitchName.GLOBAL_BUDGET_CAP else "requests per minute"
        raise bad_request(f"{name} takes a positive number ({unit}), or null to turn it off.")
    return float(value) if name is SwitchName.GLOBAL_BUDGET_CAP else int(value)


def set_switch(
    *,
    session: Session,
    gate: Gate,
    name: SwitchName,
    body: SwitchUpdate,
    actor: Actor,
    now: datetime,
) -> SwitchState:
    """Turn a switch on or off; the gate in this process sees it at once."""
    if body.expires_at is not None and body.expires_at <= now:
        raise bad_request("expires_at is in the past; give a future time or none.")
    value = _check_switch_value(name, body.value, set(gate.tiers))
    row = session.get(Switch, name.value)
    if row is None:
        row = Switch(name=name.value)
        session.add(row)
    previous = gate.switches[name]
    row.value = json.dumps(value) if value is not None else None
    row.set_by = actor.label
    row.reason = body.reason
    row.set_at = now
    row.expires_at = body.expires_at if value is not None else None
    record(
        session=session,
        actor=actor,
        action="controls.set",
        target=f"switch:{name.value}",
        at=now,
        before={"value": previous.value if previous.active(now) else None},
        after={
            "value": value,
            "reason": body.reason,
            "expires_at": body.expires_at.isoformat() if body.expires_at else None,
        },
    )
    state = SwitchState(
        name=name,
        value=value,
        set_by=row.set_by,
        reason=row.reason,
        set_at=now,
        expires_at=row.expires_at,
    )
    emit(session, SwitchChanged(state))
    return state


def expire_switch(*, session: Session, name: SwitchName, now: datetime) -> bool:
    """Turn off a switch whose expiry passed; False when another replica did it already."""
    row = session.get(Switch, name.value)
    if row is None or row.value is None or row.expires_at is None or row.expires_at > now:
        return False
    before = {"value": json.loads(row.value), "set_by": row.set_by, "reason": row.reason}
    row.value = None
    row.set_by = AUTOMATION.label
    row.reason = "expired"
    row.set_at = now
    row.expires_at = None
    record(
        session=session,
        actor=AUTOMATION,
        action="controls.expired",
        target=f"switch:{name.value}",
        at=now,
        before=before,
        after={"value": None},
    )
    emit(session, SwitchChanged(SwitchState(name, None, row.set_by, row.reason, now, None)))
    return True


def require_switch(name: str) -> SwitchName:
    try:
        return SwitchName(name)
    except ValueError:
        raise Problem(
            404,
            "not-found",
            "No such switch",
            f"There is no switch {name!r}; switches are {[s.value for s in SwitchName]}.",
        ) from None
