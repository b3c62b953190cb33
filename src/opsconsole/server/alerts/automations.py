"""What a rule may do by itself when its alert fires (off unless an operator turns it on).

Each automation goes through the gate's own change functions as the actor `automation`, so it
is audited like an operator's change, reaches the gate the moment it commits, and shows on the
stream as a switch or breaker change. Nothing is undone when the alert resolves: turning the
switch back off (or resetting the breaker) stays an operator's decision.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from opsconsole.server.audit.service import AUTOMATION
from opsconsole.server.gate import changes
from opsconsole.server.gate.engine import Gate
from opsconsole.wire.alerts import Alert, Automation
from opsconsole.wire.gate import BreakerState, SwitchName, SwitchUpdate


def run(
    *, session: Session, gate: Gate, automation: Automation, alert: Alert, now: datetime
) -> str:
    """Carry out `automation` for a firing alert; returns what was done, in words."""
    reason = f"alert #{alert.id} {alert.rule}: {alert.summary}"[:500]
    if automation is Automation.FALLBACK_ONLY:
        if gate.switches[SwitchName.FALLBACK_ONLY].active(now):
            return "fallback_only was already on"
        changes.set_switch(
            session=session,
            gate=gate,
            name=SwitchName.FALLBACK_ONLY,
            body=SwitchUpdate(value=True, reason=reason),
            actor=AUTOMATION,
            now=now,
        )
        return "turned fallback_only on"
    if automation is Automation.TRIP_BREAKER:
        provider = alert.labels.get("provider")
        if not isinstance(provider, str):
            return "no breaker tripped: the alert is not about one provider"
        live = gate.providers.get(provider)
        if live is not None and live.breaker.public(now).state is BreakerState.OPEN:
            return f"the breaker of {provider} was already open"
        changes.breaker_action(
            session=session,
            live=live,
            name=provider,
            action="trip",
            reason=reason,
            actor=AUTOMATION,
            now=now,
        )
        return f"tripped the breaker of {provider}"
    if automation is Automation.PAUSE_NON_PREMIUM:
        return _pause_non_premium(session=session, gate=gate, reason=reason, now=now)
    return "no automation"


def _pause_non_premium(*, session: Session, gate: Gate, reason: str, now: datetime) -> str:
    # "Non-premium" are the tiers nobody pays for; paying users keep being served.
    free = {name for name, tier in gate.tiers.items() if tier.price_monthly <= 0}
    switch = gate.switches[SwitchName.PAUSE_TIERS]
    paused = set(switch.value) if switch.active(now) else set()
    if not free or free <= paused:
        return "non-paying tiers were already paused"
    tiers = sorted(paused | free)
    changes.set_switch(
        session=session,
        gate=gate,
        name=SwitchName.PAUSE_TIERS,
        body=SwitchUpdate(value=tiers, reason=reason),
        actor=AUTOMATION,
        now=now,
    )
    return f"paused tiers {', '.join(tiers)}"
