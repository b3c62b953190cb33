"""The decision and ingestion logic of the gate, free of HTTP and of the database.

`Gate.decide` answers one admission in memory (plus one counter-store call); `Gate.ingest`
checks a batch of usage reports and applies them to counters and breakers. The service layer
around it loads state from the database and writes decisions and usage back in batches.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel

from opsconsole.server.gate import routing
from opsconsole.server.gate.counters import Admission, CounterStore, Limits
from opsconsole.server.gate.ids import DecisionIds
from opsconsole.server.gate.state import (
    PendingDecision,
    ProviderRuntime,
    SwitchState,
    TierPolicy,
    UserEntry,
)
from opsconsole.wire.gate import (
    AdmitResponse,
    DenyReason,
    Remaining,
    SwitchName,
    UsageReport,
    UsageStatus,
)

BUDGET_STEPS = (100, 95, 90)


@dataclass(frozen=True)
class GateConfig:
    global_rpm: int | None = 6000
    global_day_cap: float = 200.0
    global_week_cap: float = 1000.0
    # Tiers paused by the automatic 90% step ("pause non-premium").
    step_pause_tiers: tuple[str, ...] = ("free",)
    routing: routing.RoutingPolicy = field(default_factory=routing.RoutingPolicy)


@dataclass(slots=True)
class Decision:
    """One admission: what the app is told, and what is recorded."""

    response: AdmitResponse
    user_pk: int | None
    tier: str | None
    feature: str
    at: datetime
    gate_us: float  # time the decision took inside the gate, in microseconds


class UsageRow(NamedTuple):
    """One accepted report with its decision (a tuple: built for every event reported)."""

    decision: PendingDecision
    report: UsageReport
    cost: float
    at: datetime


@dataclass
class ReportProblem:
    index: int
    decision_id: str
    problem: str


@dataclass
class IngestResult:
    rows: list[UsageRow] = field(default_factory=list)
    problems: list[ReportProblem] = field(default_factory=list)
    breaker_changes: list[str] = field(default_factory=list)  # provider names
    budget_step: tuple[int, int] | None = None  # (before, after) when it changed


class Gate:
    def __init__(
        self, *, counters: CounterStore, config: GateConfig, rng: random.Random | None = None
    ) -> None:
        self.counters = counters
        self.config = config
        self.rng = rng or random.Random()  # noqa: S311 - traffic splitting, not security
        self.decision_ids = DecisionIds()
        self.tiers: dict[str, TierPolicy] = {}
        self.providers: dict[str, ProviderRuntime] = {}
        self.switches: dict[SwitchName, SwitchState] = {
            name: SwitchState(name) for name in SwitchName
        }
        self.budget_step = 0

    # --- decisions ------------------------------------------------------------------------

    def decide(
        self,
        user: UserEntry | None,
        *,
        user_id: str,
        feature: str,
        dry_run: bool,
        now: datetime,
    ) -> Decision:
        started = time.perf_counter()
        response = self._decide(user, feature=feature, dry_run=dry_run, now=now)
        gate_us = (time.perf_counter() - started) * 1e6
        return Decision(
            response=response,
            user_pk=user.pk if user else None,
            tier=user.tier if user else None,
            feature=feature,
            at=now,
            gate_us=gate_us,
        )

    def _decide(
        self, user: UserEntry | None, *, feature: str, dry_run: bool, now: datetime
    ) -> AdmitResponse:
        if user is None:
            return _deny(DenyReason.UNKNOWN_USER)
        if self._switch_on(SwitchName.PAUSE_ALL, now):
            return _deny(DenyReason.PAUSED_ALL)
        if user.status != "active":
            return _deny(DenyReason.USER_SUSPENDED)
        tier = self.tiers.get(user.tier)
        if tier is None:
            return _deny(DenyReason.NO_PROVIDER)
        if tier.name in self.paused_tiers(now):
            return _deny(DenyReason.PAUSED_TIER)
        chosen = routing.route(
            tier=tier.name,
            allowed=tier.providers,
            usable=lambda name: self._usable(name, now),
            fallback_only=self._switch_on(SwitchName.FALLBACK_ONLY, now),
            cheapest_only=self._switch_on(SwitchName.CHEAPEST_ONLY, now) or self.budget_step >= 95,
            policy=self.config.routing,
            hour=now.hour,
            load_rpm=self.counters.global_rpm(now) if self.config.routing.high_load_rpm else 0,
            rng=self.rng,
        )
        limits = self.limits_for(user, tier, now)
        pending = None
        if chosen is not None and not dry_run:
            # Kept by the counter store with the count, in the same step (one Redis call).
            pending = PendingDecision(
                id=self.decision_ids.next(),
                user_pk=user.pk,
                user_id=user.id,
                tier=tier.name,
                feature=feature,
                provider=chosen.provider.name,
                model=chosen.provider.model,
                at=now,
            )
        admission = self.counters.admit(
            user.id, limits, now, count=pending is not None, pending=pending
        )
        remaining = _remaining(limits, admission)
        if admission.reason is not DenyReason.OK:
            return _deny(admission.reason, admission.retry_after_s, remaining)
        if chosen is None:
            return _deny(DenyReason.NO_PROVIDER, remaining=remaining)
        decision_id = None
        if pending is not None:
            decision_id = pending.id
            self.providers[chosen.provider.name].breaker.on_routed(now)
        return _admit_response(
            decision_id=decision_id,
            allow=True,
            provider=chosen.provider.name,
            model=chosen.provider.model,
            reason=DenyReason.OK,
            remaining=remaining,
            experiment=chosen.experiment,
            experiment_share=chosen.experiment_share,
            policy=chosen.policy,
        )

    def limits_for(self, user: UserEntry, tier: TierPolicy, now: datetime) -> Limits:
        """The tier's limits with the user's overrides (and a live budget bonus) on top."""
        daily = (
            user.quota_daily_requests
            if user.quota_daily_requests is not None
            else tier.daily_requests
        )
        weekly = user.budget_weekly if user.budget_weekly is not None else tier.weekly_budget
        monthly = user.budget_monthly if user.budget_monthly is not None else tier.monthly_budget
        if user.budget_bonus and user.budget_bonus_until and now < user.budget_bonus_until:
            weekly += user.budget_bonus
            monthly += user.budget_bonus
        rpm = user.rate_per_minute if user.rate_per_minute is not None else tier.rate_per_minute
        cap_switch = self.switches[SwitchName.GLOBAL_BUDGET_CAP]
        day_cap = float(cap_switch.value) if cap_switch.active(now) else self.config.global_day_cap
        rate_switch = self.switches[SwitchName.GLOBAL_RATE_LIMIT]
        global_rpm = int(rate_switch.value) if rate_switch.active(now) else self.config.global_rpm
        return Limits(
            daily_requests=None if daily < 0 else daily,
            weekly_budget=weekly,
            monthly_budget=monthly,
            user_rpm=rpm,
            global_rpm=global_rpm,
            global_day_cap=day_cap,
            global_week_cap=self.config.global_week_cap,
        )

    def paused_tiers(self, now: datetime) -> set[str]:
        paused: set[str] = set()
        switch = self.switches[SwitchName.PAUSE_TIERS]
        if switch.active(now):
            paused.update(switch.value)
        if self.budget_step >= 90:
            paused.update(self.config.step_pause_tiers)
        return paused

    def _switch_on(self, name: SwitchName, now: datetime) -> bool:
        return self.switches[name].active(now)

    def _usable(self, name: str, now: datetime) -> routing.ProviderChoice | None:
        provider = self.providers.get(name)
        if provider is None or not provider.enabled or not provider.breaker.allows(now):
            return None
        return provider.choice

    # --- reports --------------------------------------------------------------------------

    def ingest(self, reports: Sequence[UsageReport], now: datetime) -> IngestResult:
        """Apply a batch to counters, spend and breakers, or refuse it whole.

        The open decisions are taken from the counter store all at once, or none are: a batch
        with an unknown, expired, already reported or mismatched decision changes nothing.
        """
        result = IngestResult()
        ids = [report.decision_id for report in reports]
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            for index, decision_id in enumerate(ids):
                if decision_id in seen:
                    result.problems.append(
                        ReportProblem(index, decision_id, "reported twice in this batch")
                    )
                seen.add(decision_id)
            return result
        taken = self.counters.take_pending(
            [(report.decision_id, report.provider) for report in reports], now
        )
        for index, (report, found) in enumerate(zip(reports, taken, strict=True)):
            if isinstance(found, str):
                result.problems.append(ReportProblem(index, report.decision_id, found))
        if result.problems:
            return result
        changed: set[str] = set()
        spend: dict[str, float] = {}
        rows = result.rows
        providers = self.providers
        for report, decision in zip(reports, taken, strict=True):
            assert isinstance(decision, PendingDecision)  # no problems above
            provider = providers.get(decision.provider)
            cost = report.cost
            if cost is None:
                cost = provider.cost(report.input_tokens, report.output_tokens) if provider else 0.0
            spend[decision.user_id] = spend.get(decision.user_id, 0.0) + cost
            if provider is not None:
                breaker = provider.breaker
                status = report.status
                timeout = status is UsageStatus.TIMEOUT or (
                    report.latency_ms >= breaker.settings.timeout_ms
                )
                if breaker.on_report(error=status is UsageStatus.ERROR, timeout=timeout, now=now):
                    changed.add(provider.name)
            rows.append(UsageRow(decision, report, cost, now))
        self.counters.add_spend_many(spend, now)
        result.breaker_changes = sorted(changed)
        before = self.budget_step
        self.refresh_budget_step(now)
        if self.budget_step != before:
            result.budget_step = (before, self.budget_step)
        return result

    def refresh_budget_step(self, now: datetime) -> int:
        """The automatic step (0, 90, 95 or 100) from today's and this week's global spend."""
        day, week = self.counters.global_spend(now)
        cap_switch = self.switches[SwitchName.GLOBAL_BUDGET_CAP]
        day_cap = float(cap_switch.value) if cap_switch.active(now) else self.config.global_day_cap
        ratio = max(
            day / day_cap if day_cap > 0 else 1.0,
            week / self.config.global_week_cap if self.config.global_week_cap > 0 else 1.0,
        )
        self.budget_step = next((step for step in BUDGET_STEPS if ratio * 100 >= step), 0)
        return self.budget_step


# The answer models are built from values the engine computed itself, so validation is moot;
# pydantic's `model_construct` still walks every field (8 us of a 33 us decision for the two
# models). `_trusted` sets what model_construct would, given every field; a test compares the
# JSON of both ways.
ADMIT_DEFAULTS: dict[str, Any] = {
    name: field.default for name, field in AdmitResponse.model_fields.items()
}
ADMIT_FIELDS = frozenset(AdmitResponse.model_fields)
REMAINING_FIELDS = frozenset(Remaining.model_fields)
_set_attribute = object.__setattr__
Model = TypeVar("Model", bound=BaseModel)


def _trusted(cls: type[Model], fields: frozenset[str], values: dict[str, Any]) -> Model:
    model = cls.__new__(cls)
    _set_attribute(model, "__dict__", values)
    _set_attribute(model, "__pydantic_fields_set__", fields)
    _set_attribute(model, "__pydantic_extra__", None)
    _set_attribute(model, "__pydantic_private__", None)
    return model


def _admit_response(**values: Any) -> AdmitResponse:
    return _trusted(AdmitResponse, ADMIT_FIELDS, {**ADMIT_DEFAULTS, **values})


def _remaining(limits: Limits, admission: Admission) -> Remaining:
    requests = None
    if limits.daily_requests is not None:
        requests = max(0, limits.daily_requests - admission.requests_today)
    return _trusted(
        Remaining,
        REMAINING_FIELDS,
        {
            "requests_today": requests,
            "budget_week": round(max(0.0, limits.weekly_budget - admission.spent_week), 6),
            "budget_month": round(max(0.0, limits.monthly_budget - admission.spent_month), 6),
        },
    )


def _deny(
    reason: DenyReason, retry_after_s: float | None = None, remaining: Remaining | None = None
) -> AdmitResponse:
    return _admit_response(
        decision_id=None,
        allow=False,
        provider=None,
        model=None,
        reason=reason,
        retry_after_s=retry_after_s,
        remaining=remaining,
    )
