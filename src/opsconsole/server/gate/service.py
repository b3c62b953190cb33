"""The gate at work: state loaded from the database, decisions and reports persisted in
batches, operator changes to tiers, providers, breakers and switches audited.

One `GateRuntime` per process, on `app.state.gate`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsconsole.server.audit.models import AuditRow
from opsconsole.server.audit.service import AUTOMATION, Actor, record
from opsconsole.server.db import Database
from opsconsole.server.gate import windows
from opsconsole.server.gate.breaker import Breaker
from opsconsole.server.gate.changes import expire_switch, tier_policy
from opsconsole.server.gate.counters import DECISION_TTL, MemoryCounters
from opsconsole.server.gate.engine import Decision, Gate, IngestResult, UsageRow
from opsconsole.server.gate.events import (
    BreakerReset,
    ProvidersChanged,
    SwitchChanged,
    TiersChanged,
)
from opsconsole.server.gate.models import DecisionRow, Provider, Switch, UsageEvent
from opsconsole.server.gate.state import (
    PendingDecision,
    ProviderRuntime,
    SwitchState,
    UserEntry,
)
from opsconsole.server.gate.writer import GroupCommitWriter
from opsconsole.server.users.models import Tier, User
from opsconsole.server.users.service import upsert_user
from opsconsole.wire.gate import (
    BreakerSettings,
    SwitchName,
    UsageReport,
)

log = logging.getLogger("opsconsole.gate")

USER_CACHE_TTL_S = 30.0
# How often each replica re-reads switches from the database (and expires them): a switch
# flipped on one replica reaches the others within this time.
SYNC_INTERVAL_S = 0.5
# Tiers and providers change rarely; they are re-read every this many sync rounds.
SLOW_SYNC_ROUNDS = 10


class GateObserver(Protocol):
    """Sees every counted decision and every durable usage row (live metrics, alerts).

    Called on the event loop in the hot path: it must only note the facts, never do I/O.
    """

    def decided(self, decision: Decision) -> None: ...

    def reported(self, rows: Sequence[UsageRow], now: datetime) -> None: ...


class GateRuntime:
    def __init__(
        self,
        *,
        db: Database,
        gate: Gate,
        clock: Callable[[], datetime],
        auto_register: bool = False,
    ) -> None:
        self.db = db
        self.gate = gate
        self.clock = clock
        self.auto_register = auto_register
        self.writer = GroupCommitWriter(db)
        self.users: dict[str, UserEntry] = {}
        self.observers: list[GateObserver] = []
        db.on_commit(self._on_commit)

    # --- loading --------------------------------------------------------------------------

    def load(self) -> None:
        """Tiers, providers, switches, and (in memory mode) the counters, from the database."""
        now = self.clock()
        with self.db.reading() as session:
            self.reload_tiers(session)
            self.reload_providers(session)
            self.reload_switches(session)
            if isinstance(self.gate.counters, MemoryCounters):
                # Redis keeps its own; process memory starts empty and is rebuilt.
                rebuild_counters(session, self.gate.counters, now)
                self._load_pending(session, self.gate.counters, now)
        self.gate.refresh_budget_step(now)

    def reload_tiers(self, session: Session) -> None:
        self.gate.tiers = {row.name: tier_policy(row) for row in session.scalars(select(Tier))}

    def reload_providers(self, session: Session) -> None:
        providers: dict[str, ProviderRuntime] = {}
        for row in session.scalars(select(Provider)):
            existing = self.gate.providers.get(row.name)
            breaker = existing.breaker if existing else Breaker()
            breaker.settings = BreakerSettings.model_validate_json(row.breaker_settings or "{}")
            if row.breaker_tripped_at is not None and not breaker.manual:
                breaker.trip(row.breaker_tripped_at)
            elif row.breaker_tripped_at is None and breaker.manual:
                breaker.reset()
            providers[row.name] = ProviderRuntime(
                name=row.name,
                model=row.model,
                price_in_per_1k=row.price_in_per_1k,
                price_out_per_1k=row.price_out_per_1k,
                enabled=row.enabled,
                breaker=breaker,
            )
        self.gate.providers = providers

    def reload_switches(self, session: Session) -> None:
        for row in session.scalars(select(Switch)):
            try:
                name = SwitchName(row.name)
            except ValueError:
                continue
            self.gate.switches[name] = SwitchState(
                name=name,
                value=json.loads(row.value) if row.value is not None else None,
                set_by=row.set_by,
                reason=row.reason,
                set_at=row.set_at,
                expires_at=row.expires_at,
            )

    def _load_pending(self, session: Session, counters: MemoryCounters, now: datetime) -> None:
        """Decisions of the last hour with no report yet, so their reports are still accepted."""
        since = now - DECISION_TTL
        rows = session.execute(
            select(DecisionRow, User.id)
            .join(User, User.pk == DecisionRow.user_pk)
            .outerjoin(UsageEvent, UsageEvent.decision_id == DecisionRow.decision_id)
            .where(DecisionRow.at >= since, DecisionRow.allow, UsageEvent.decision_id.is_(None))
            .order_by(DecisionRow.at)
        )
        for decision, user_id in rows:
            assert decision.decision_id and decision.provider and decision.tier
            counters.pending[decision.decision_id] = PendingDecision(
                id=decision.decision_id,
                user_pk=decision.user_pk or 0,
                user_id=user_id,
                tier=decision.tier,
                feature=decision.feature,
                provider=decision.provider,
                model=decision.model or "",
                at=decision.at,
            )

    # --- the hot path ---------------------------------------------------------------------

    async def user(self, user_id: str) -> UserEntry | None:
        """The gate's copy of a user: from memory, or read in a worker thread on a miss so a
        cold user never stalls the event loop (and every other decision with it)."""
        entry = self.users.get(user_id)
        if entry is not None and time.monotonic() - entry.loaded_at < USER_CACHE_TTL_S:
            return entry
        return await asyncio.to_thread(self._load_user, user_id)

    def _load_user(self, user_id: str) -> UserEntry | None:
        with self.db.reading() as session:
            row = session.scalar(select(User).where(User.id == user_id))
            entry = user_entry(row) if row is not None else None
        if entry is None:
            self.users.pop(user_id, None)
        else:
            self.users[user_id] = entry
        return entry

    async def admit(self, *, user_id: str, feature: str, dry_run: bool) -> Decision:
        entry = await self.user(user_id)
        now = self.clock()
        if entry is None and self.auto_register and not dry_run:
            entry = await asyncio.to_thread(self._register, user_id, now)
        decision = self.gate.decide(
            entry, user_id=user_id, feature=feature, dry_run=dry_run, now=now
        )
        if not dry_run:
            response = decision.response
            self.writer.submit(
                DecisionRow,
                [
                    {
                        "decision_id": response.decision_id,
                        "at": now,
                        "user_pk": decision.user_pk,
                        "tier": decision.tier,
                        "feature": feature,
                        "allow": response.allow,
                        "reason": response.reason.value,
                        "provider": response.provider,
                        "model": response.model,
                        "policy": response.policy,
                        "gate_us": decision.gate_us,
                    }
                ],
            )
            for observer in self.observers:
                observer.decided(decision)
        return decision

    async def report(self, reports: list[UsageReport]) -> IngestResult:
        """Apply a batch and return once its usage rows are committed (durable)."""
        now = self.clock()
        result = self.gate.ingest(reports, now)
        if result.problems:
            return result
        rows = [
            {
                "decision_id": row.decision.id,
                "at": row.at,
                "decided_at": row.decision.at,
                "user_pk": row.decision.user_pk,
                "tier": row.decision.tier,
                "feature": row.decision.feature,
                "provider": row.decision.provider,
                "model": row.report.model,
                "input_tokens": row.report.input_tokens,
                "output_tokens": row.report.output_tokens,
                "latency_ms": row.report.latency_ms,
                "status": row.report.status.value,
                "cost": row.cost,
            }
            for row in result.rows
        ]
        await asyncio.wrap_future(self.writer.submit(UsageEvent, rows))
        for observer in self.observers:
            observer.reported(result.rows, now)
        if result.budget_step is not None:
            await asyncio.to_thread(self._record_budget_step, *result.budget_step, now)
        return result

    def _record_budget_step(self, before: int, after: int, now: datetime) -> None:
        day, week = self.gate.counters.global_spend(now)
        with self.db.writing() as session:
            record(
                session=session,
                actor=AUTOMATION,
                action="gate.budget_step",
                target="gate:global_budget",
                at=now,
                before={"step": before},
                after={"step": after, "spent_today": round(day, 4), "spent_week": round(week, 4)},
            )

    def _register(self, user_id: str, now: datetime) -> UserEntry:
        """Auto-registration: an unknown user becomes a free-tier user (audited)."""
        with self.db.writing() as session:
            row, _ = upsert_user(
                session=session,
                user_id=user_id,
                fields={},
                actor=Actor("automation", "auto-register"),
                now=now,
            )
            entry = user_entry(row)
        self.users[user_id] = entry
        return entry

    async def sync_forever(self) -> None:
        """Keep this replica's switches (and tiers and providers) in step with the database,
        and turn expired switches off, recording it as the actor `automation`."""
        rounds = 0
        while True:
            await asyncio.sleep(SYNC_INTERVAL_S)
            rounds += 1
            try:
                await asyncio.to_thread(self.sync_once, slow=rounds % SLOW_SYNC_ROUNDS == 0)
            except Exception:  # keep syncing; the database may be back next round
                log.exception("gate sync failed")

    def sync_once(self, *, slow: bool = False) -> None:
        now = self.clock()
        expired = [
            state.name
            for state in self.gate.switches.values()
            if state.value is not None and state.expires_at is not None and now >= state.expires_at
        ]
        if expired:
            with self.db.writing() as session:
                for name in expired:
                    expire_switch(session=session, name=name, now=now)
        with self.db.reading() as session:
            self.reload_switches(session)
            if slow:
                self.reload_tiers(session)
                self.reload_providers(session)

    def close(self) -> None:
        self.writer.close()

    def _on_commit(self, items: list[object]) -> None:
        """Apply committed changes to the gate before the operator's request returns."""
        reload_tiers = reload_providers = False
        for item in items:
            if isinstance(item, AuditRow) and item.target.startswith("user:"):
                # A user changed (tier, status, overrides, erasure): load afresh next time.
                self.users.pop(item.target.removeprefix("user:"), None)
            elif isinstance(item, SwitchChanged):
                self.gate.switches[item.state.name] = item.state
            elif isinstance(item, TiersChanged):
                reload_tiers = True
            elif isinstance(item, ProvidersChanged):
                reload_providers = True
            elif isinstance(item, BreakerReset) and item.provider in self.gate.providers:
                self.gate.providers[item.provider].breaker.reset()
        if reload_tiers or reload_providers:
            with self.db.reading() as session:
                if reload_tiers:
                    self.reload_tiers(session)
                if reload_providers:
                    self.reload_providers(session)


# --- conversions ---------------------------------------------------------------------------


def user_entry(row: User) -> UserEntry:
    return UserEntry(
        pk=row.pk,
        id=row.id,
        tier=row.tier,
        status=row.status,
        quota_daily_requests=row.quota_daily_requests,
        budget_weekly=row.budget_weekly,
        budget_monthly=row.budget_monthly,
        rate_per_minute=row.rate_per_minute,
        budget_bonus=row.budget_bonus,
        budget_bonus_until=row.budget_bonus_until,
        loaded_at=time.monotonic(),
    )


def rebuild_counters(session: Session, counters: MemoryCounters, now: datetime) -> None:
    """Today's requests and this week's and month's spend, from decisions and usage."""
    day = windows.day_start(now)
    requests = session.execute(
        select(User.id, func.count())
        .join(DecisionRow, DecisionRow.user_pk == User.pk)
        .where(DecisionRow.at >= day, DecisionRow.allow)
        .group_by(User.id)
    )
    for user_id, count in requests:
        counters.requests[(user_id, windows.day_key(now))] = int(count)
    since = min(windows.week_start(now), windows.month_start(now))
    spend = session.execute(
        select(User.id, UsageEvent.at, UsageEvent.cost)
        .join(User, User.pk == UsageEvent.user_pk)
        .where(UsageEvent.at >= since)
    )
    week, month, today = windows.week_key(now), windows.month_key(now), windows.day_key(now)
    for user_id, at, cost in spend:
        if windows.week_key(at) == week:
            counters.spend[(user_id, week)] += cost
            counters.global_spent[week] += cost
        if windows.month_key(at) == month:
            counters.spend[(user_id, month)] += cost
        if windows.day_key(at) == today:
            counters.global_spent[today] += cost
