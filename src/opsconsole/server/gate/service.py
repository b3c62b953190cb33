"""The gate at work: state loaded from the database, decisions and reports persisted in
batches, operator changes to tiers, providers, breakers and switches audited.

One `GateRuntime` per process, on `app.state.gate`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsconsole.server.audit.models import AuditRow
from opsconsole.server.audit.service import AUTOMATION, Actor, record
from opsconsole.server.db import Database
from opsconsole.server.gate import windows
from opsconsole.server.gate.breaker import Breaker
from opsconsole.server.gate.broadcast import (
    RedisBroadcast,
    adopt_breaker,
    breaker_snapshot,
    switch_from,
    switch_message,
)
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
from opsconsole.server.gate.writer import GroupCommitWriter, TableSpec
from opsconsole.server.users.models import Tier, User
from opsconsole.server.users.service import upsert_user
from opsconsole.wire.gate import (
    BreakerSettings,
    SwitchName,
    UsageReport,
)

log = logging.getLogger("opsconsole.gate")

USER_CACHE_TTL_S = 30.0
# Re-reads of old copies in flight at once: the users loaded together after a start grow old
# together, and thousands of re-reads at once starved the event loop of the GIL (an admit
# p99 of 0.8 s). A copy not re-read this time is on the next admit.
MAX_REFRESHING = 4
# How often each replica re-reads switches from the database (and expires them): a switch
# flipped on one replica reaches the others within this time.
SYNC_INTERVAL_S = 0.5
# Tiers and providers change rarely; they are re-read every this many sync rounds.
SLOW_SYNC_ROUNDS = 10

# The rows the hot path writes, as tuples in these column orders (see `writer.py`).
DECISIONS = TableSpec(
    DecisionRow.__table__,  # type: ignore[arg-type]
    (
        "decision_id", "at", "user_pk", "tier", "feature", "allow", "reason", "provider",
        "model", "policy", "gate_us",
    ),
)  # fmt: skip
USAGE_EVENTS = TableSpec(
    UsageEvent.__table__,  # type: ignore[arg-type]
    (
        "decision_id", "at", "decided_at", "user_pk", "tier", "feature", "provider", "model",
        "input_tokens", "output_tokens", "latency_ms", "status", "cost",
    ),
)  # fmt: skip


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
        bus: RedisBroadcast | None = None,
    ) -> None:
        self.db = db
        self.gate = gate
        self.clock = clock
        self.auto_register = auto_register
        self.bus = bus  # with --redis: changes to and from the other replicas
        self.writer = GroupCommitWriter(db)
        self.users: dict[str, UserEntry] = {}
        self._refreshing: set[str] = set()  # users being re-read in the background
        self.observers: list[GateObserver] = []
        # Told of switch changes made on another replica (the stream shows them to consoles).
        self.remote_switch_listeners: list[Callable[[SwitchState], None]] = []
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
        if self.bus is not None:
            for snapshot in self.bus.stored_breakers(list(self.gate.providers)):
                self._adopt_breaker(snapshot)
            self.bus.start(self.apply_broadcast)
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
            counters.keep(
                PendingDecision(
                    id=decision.decision_id,
                    user_pk=decision.user_pk or 0,
                    user_id=user_id,
                    tier=decision.tier,
                    feature=decision.feature,
                    provider=decision.provider,
                    model=decision.model or "",
                    at=decision.at,
                )
            )

    # --- the hot path ---------------------------------------------------------------------

    async def user(self, user_id: str) -> UserEntry | None:
        """The gate's copy of a user: from memory, or read in a worker thread on a miss so a
        cold user never stalls the event loop (and every other decision with it).

        Changes made through the API replace or drop the copy at once (on every replica, with
        Redis); the time to live only guards against edits behind the API's back. So a copy
        past it still answers, and is re-read in the background: waiting for the re-read
        made one admit in twenty wait for a worker thread under steady load.
        """
        entry = self.users.get(user_id)
        if entry is None:
            return await asyncio.to_thread(self._load_user, user_id)
        if (
            time.monotonic() - entry.loaded_at >= entry.time_to_live
            and len(self._refreshing) < MAX_REFRESHING
            and user_id not in self._refreshing
        ):
            self._refreshing.add(user_id)
            asyncio.get_running_loop().run_in_executor(None, self._refresh_user, user_id, entry)
        return entry

    def _refresh_user(self, user_id: str, stale: UserEntry) -> None:
        try:
            fresh = self._read_user(user_id)
            # Only over the copy it was asked to refresh: one dropped or replaced meanwhile
            # by a change is newer than what this read may have seen.
            if self.users.get(user_id) is stale:
                if fresh is None:
                    self.users.pop(user_id, None)
                else:
                    self.users[user_id] = fresh
        except Exception:
            log.exception("re-reading user %s for the gate failed; the copy is kept", user_id)
        finally:
            self._refreshing.discard(user_id)

    def _read_user(self, user_id: str) -> UserEntry | None:
        with self.db.reading() as session:
            row = session.scalar(select(User).where(User.id == user_id))
            return user_entry(row) if row is not None else None

    def _load_user(self, user_id: str) -> UserEntry | None:
        entry = self._read_user(user_id)
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
            self.writer.submit_nowait(
                DECISIONS,
                [
                    (
                        response.decision_id,
                        now,
                        decision.user_pk,
                        decision.tier,
                        feature,
                        response.allow,
                        response.reason.value,
                        response.provider,
                        response.model,
                        response.policy,
                        decision.gate_us,
                    )
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
            (
                decision.id,
                now,
                decision.at,
                decision.user_pk,
                decision.tier,
                decision.feature,
                decision.provider,
                report.model,
                report.input_tokens,
                report.output_tokens,
                report.latency_ms,
                report.status.value,
                cost,
            )
            for decision, report, cost, _ in result.rows
        ]
        await asyncio.wrap_future(self.writer.submit(USAGE_EVENTS, rows))
        if result.breaker_changes and self.bus is not None:
            await asyncio.to_thread(self._share_breakers, result.breaker_changes)
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
        if self.bus is not None:
            self.bus.close()
        self.writer.close()

    # --- replicas (with --redis) ------------------------------------------------------------

    def _share_breakers(self, names: Sequence[str]) -> None:
        assert self.bus is not None
        for name in names:
            provider = self.gate.providers.get(name)
            if provider is not None:
                self.bus.store_breaker(breaker_snapshot(name, provider.breaker))

    def _adopt_breaker(self, snapshot: dict[str, Any]) -> None:
        provider = self.gate.providers.get(snapshot["provider"])
        if provider is not None:
            adopt_breaker(provider.breaker, snapshot)

    def apply_broadcast(self, message: dict[str, Any]) -> None:
        """Apply a change another replica made (runs on the broadcast listener's thread)."""
        kind = message.get("kind")
        if kind == "switch":
            state = switch_from(message)
            self.gate.switches[state.name] = state
            for listener in self.remote_switch_listeners:
                listener(state)
        elif kind == "breaker":
            self._adopt_breaker(message)
        elif kind == "users":
            for user_id in message["ids"]:
                self.users.pop(user_id, None)
        elif kind in ("tiers", "providers"):
            with self.db.reading() as session:
                if kind == "tiers":
                    self.reload_tiers(session)
                else:
                    self.reload_providers(session)

    def _on_commit(self, items: list[object]) -> None:
        """Apply committed changes to the gate before the operator's request returns, and
        tell the other replicas (with --redis)."""
        reload_tiers = reload_providers = False
        users: list[str] = []
        messages: list[dict[str, Any]] = []
        reset: list[str] = []
        for item in items:
            if isinstance(item, AuditRow) and item.target.startswith("user:"):
                # A user changed (tier, status, overrides, erasure): load afresh next time.
                users.append(item.target.removeprefix("user:"))
                self.users.pop(users[-1], None)
            elif isinstance(item, SwitchChanged):
                self.gate.switches[item.state.name] = item.state
                messages.append(switch_message(item.state))
            elif isinstance(item, TiersChanged):
                reload_tiers = True
            elif isinstance(item, ProvidersChanged):
                reload_providers = True
            elif isinstance(item, BreakerReset) and item.provider in self.gate.providers:
                self.gate.providers[item.provider].breaker.reset()
                reset.append(item.provider)
        if reload_tiers or reload_providers:
            with self.db.reading() as session:
                if reload_tiers:
                    self.reload_tiers(session)
                if reload_providers:
                    self.reload_providers(session)
        if self.bus is not None:
            self._tell_replicas(messages, users, reload_tiers, reload_providers, reset)

    def _tell_replicas(
        self,
        messages: list[dict[str, Any]],
        users: list[str],
        reload_tiers: bool,
        reload_providers: bool,
        reset: list[str],
    ) -> None:
        assert self.bus is not None
        if users:
            messages.append({"kind": "users", "ids": users})
        if reload_tiers:
            messages.append({"kind": "tiers"})
        if reload_providers:
            messages.append({"kind": "providers"})
        for message in messages:
            self.bus.publish(message)
        if reset:
            self._share_breakers(reset)


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
        # 30 to 60 s, by chance: copies loaded together do not all grow old together.
        time_to_live=USER_CACHE_TTL_S * (1 + random.random()),  # noqa: S311 - not security
    )


def rebuild_counters(session: Session, counters: MemoryCounters, now: datetime) -> None:
    """Today's requests and this week's and month's spend, from decisions and usage."""
    day = windows.day_start(now)
    requests_today = {
        user_id: int(count)
        for user_id, count in session.execute(
            select(User.id, func.count())
            .join(DecisionRow, DecisionRow.user_pk == User.pk)
            .where(DecisionRow.at >= day, DecisionRow.allow)
            .group_by(User.id)
        )
    }
    since = min(windows.week_start(now), windows.month_start(now))
    spend = session.execute(
        select(User.id, UsageEvent.at, UsageEvent.cost)
        .join(User, User.pk == UsageEvent.user_pk)
        .where(UsageEvent.at >= since)
    )
    today, week, month = windows.numbers(now)
    spent_week: dict[str, float] = defaultdict(float)
    spent_month: dict[str, float] = defaultdict(float)
    everyone_day = everyone_week = 0.0
    for user_id, at, cost in spend:
        at_day, at_week, at_month = windows.numbers(at)
        if at_week == week:
            spent_week[user_id] += cost
            everyone_week += cost
        if at_month == month:
            spent_month[user_id] += cost
        if at_day == today:
            everyone_day += cost
    counters.restore(
        now,
        requests_today=requests_today,
        spent_week=spent_week,
        spent_month=spent_month,
        everyone_day=everyone_day,
        everyone_week=everyone_week,
    )
