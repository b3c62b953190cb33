"""The gate's decision ladder, in memory: every reason code, overrides, budget steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.server.gate.counters import MemoryCounters
from opsconsole.server.gate.engine import Gate, GateConfig
from opsconsole.server.gate.routing import RoutingPolicy
from opsconsole.server.gate.state import (
    DEFAULT_PROVIDERS,
    DEFAULT_TIERS,
    ProviderRuntime,
    SwitchState,
    TierPolicy,
    UserEntry,
)
from opsconsole.wire.gate import AdmitResponse, DenyReason, SwitchName, UsageReport, UsageStatus

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, outside peak hours


def make_gate(**config: object) -> Gate:
    gate = Gate(
        counters=MemoryCounters(),
        config=GateConfig(routing=RoutingPolicy(peak_hours=frozenset()), **config),  # type: ignore[arg-type]
    )
    for name, tier in DEFAULT_TIERS.items():
        gate.tiers[name] = TierPolicy(name=name, **{**tier, "providers": tuple(tier["providers"])})
    for name, (model, price_in, price_out) in DEFAULT_PROVIDERS.items():
        gate.providers[name] = ProviderRuntime(name, model, price_in, price_out, True)
    return gate


def user(tier: str = "free", **fields: object) -> UserEntry:
    values: dict[str, object] = {"status": "active", **fields}
    return UserEntry(pk=1, id="u1", tier=tier, **values)  # type: ignore[arg-type]


def decide(
    gate: Gate, who: UserEntry | None, now: datetime = T0, dry_run: bool = False
) -> DenyReason:
    return gate.decide(who, user_id="u1", feature="chat", dry_run=dry_run, now=now).response.reason


def report(gate: Gate, decision_id: str, provider: str, cost: float, status: str = "ok") -> None:
    result = gate.ingest(
        [
            UsageReport(
                decision_id=decision_id,
                provider=provider,
                model="m",
                input_tokens=100,
                output_tokens=100,
                latency_ms=200,
                status=UsageStatus(status),
                cost=cost,
            )
        ],
        T0,
    )
    assert not result.problems, result.problems


def test_allows_and_routes_by_tier_priority() -> None:
    gate = make_gate()
    decision = gate.decide(user("premium"), user_id="u1", feature="chat", dry_run=False, now=T0)
    assert decision.response.allow
    assert decision.response.provider == "gemini-flash"
    assert decision.response.remaining is not None
    assert decision.response.remaining.requests_today == 99


def test_unknown_user() -> None:
    assert decide(make_gate(), None) is DenyReason.UNKNOWN_USER


@pytest.mark.parametrize("status", ["suspended", "erased"])
def test_suspended_or_erased_user(status: str) -> None:
    assert decide(make_gate(), user(status=status)) is DenyReason.USER_SUSPENDED


def test_daily_quota_counts_only_admits_and_not_dry_runs() -> None:
    gate = make_gate()
    who = user("free")
    for minute in range(10):
        assert decide(gate, who, T0 + timedelta(minutes=minute)) is DenyReason.OK
    later = T0 + timedelta(minutes=30)
    assert decide(gate, who, later, dry_run=True) is DenyReason.DAILY_QUOTA
    assert decide(gate, who, later) is DenyReason.DAILY_QUOTA
    # The next UTC day starts afresh.
    assert decide(gate, who, T0 + timedelta(days=1)) is DenyReason.OK


def test_dry_run_counts_nothing() -> None:
    gate = make_gate()
    for _ in range(50):
        assert decide(gate, user("free"), dry_run=True) is DenyReason.OK
    assert gate.counters.user_usage("u1", T0)[0] == 0
    assert isinstance(gate.counters, MemoryCounters) and not gate.counters.pending


def test_quota_override_and_no_cap() -> None:
    gate = make_gate()
    who = user("free", quota_daily_requests=2)
    assert [decide(gate, who, T0 + timedelta(minutes=m)) for m in range(3)] == [
        DenyReason.OK,
        DenyReason.OK,
        DenyReason.DAILY_QUOTA,
    ]
    unlimited = user("unlimited")
    limits = gate.limits_for(unlimited, gate.tiers["unlimited"], T0)
    assert limits.daily_requests is None


def test_weekly_and_monthly_budgets() -> None:
    gate = make_gate()
    who = user("free")
    decision = gate.decide(who, user_id="u1", feature="chat", dry_run=False, now=T0).response
    assert decision.decision_id and decision.provider
    report(gate, decision.decision_id, decision.provider, cost=0.50)
    assert decide(gate, who, T0 + timedelta(minutes=1)) is DenyReason.WEEKLY_BUDGET
    monthly = user("free", budget_weekly=10.0)
    gate.counters.add_spend("u1", 1.50, T0)
    assert decide(gate, monthly, T0 + timedelta(minutes=2)) is DenyReason.MONTHLY_BUDGET


def test_temporary_budget_bonus_expires() -> None:
    gate = make_gate()
    gate.counters.add_spend("u1", 0.60, T0)
    who = user("free", budget_bonus=1.0, budget_bonus_until=T0 + timedelta(hours=1))
    assert decide(gate, who, T0) is DenyReason.OK
    assert decide(gate, who, T0 + timedelta(hours=2)) is DenyReason.WEEKLY_BUDGET


def test_user_rate_limit_with_retry_after() -> None:
    gate = make_gate()
    who = user("free", quota_daily_requests=1000)
    reasons = [
        gate.decide(who, user_id="u1", feature="c", dry_run=False, now=T0).response
        for _ in range(11)
    ]
    assert [r.reason for r in reasons[:10]] == [DenyReason.OK] * 10
    assert reasons[10].reason is DenyReason.USER_RATE_LIMITED
    assert reasons[10].retry_after_s is not None and 0 < reasons[10].retry_after_s <= 60


def test_global_rate_limit_switch() -> None:
    gate = make_gate()
    gate.switches[SwitchName.GLOBAL_RATE_LIMIT] = SwitchState(SwitchName.GLOBAL_RATE_LIMIT, 3)
    results = []
    for index in range(4):
        who = UserEntry(pk=index, id=f"u{index}", tier="premium", status="active")
        results.append(
            gate.decide(who, user_id=who.id, feature="c", dry_run=False, now=T0).response.reason
        )
    assert results == [DenyReason.OK] * 3 + [DenyReason.GLOBAL_RATE_LIMITED]


def test_pause_all_and_pause_tiers_with_expiry() -> None:
    gate = make_gate()
    gate.switches[SwitchName.PAUSE_ALL] = SwitchState(
        SwitchName.PAUSE_ALL, True, expires_at=T0 + timedelta(minutes=15)
    )
    assert decide(gate, user("unlimited"), T0) is DenyReason.PAUSED_ALL
    assert decide(gate, user("unlimited"), T0 + timedelta(minutes=15)) is DenyReason.OK
    gate.switches[SwitchName.PAUSE_TIERS] = SwitchState(SwitchName.PAUSE_TIERS, ["free"])
    assert decide(gate, user("free"), T0 + timedelta(minutes=16)) is DenyReason.PAUSED_TIER
    assert decide(gate, user("premium"), T0 + timedelta(minutes=16)) is DenyReason.OK


def test_no_provider_when_all_breakers_open_or_disabled() -> None:
    gate = make_gate()
    gate.providers["gemini-flash"].enabled = False
    gate.providers["fallback"].breaker.trip(T0)
    assert decide(gate, user("free")) is DenyReason.NO_PROVIDER
    assert gate.counters.user_usage("u1", T0)[0] == 0, "a request with no provider is not counted"


def test_fallback_only_and_cheapest_only_switches() -> None:
    gate = make_gate()
    gate.switches[SwitchName.FALLBACK_ONLY] = SwitchState(SwitchName.FALLBACK_ONLY, True)
    response = gate.decide(
        user("unlimited"), user_id="u1", feature="c", dry_run=False, now=T0
    ).response
    assert response.provider == "fallback" and response.policy == "fallback_only"
    gate.switches[SwitchName.FALLBACK_ONLY] = SwitchState(SwitchName.FALLBACK_ONLY)
    gate.switches[SwitchName.CHEAPEST_ONLY] = SwitchState(SwitchName.CHEAPEST_ONLY, True)
    response = gate.decide(
        user("unlimited"), user_id="u1", feature="c", dry_run=False, now=T0
    ).response
    assert response.provider == "perplexity-large"


def test_global_budget_steps() -> None:
    gate = make_gate(global_day_cap=10.0)
    premium, free = user("premium"), UserEntry(pk=2, id="u2", tier="free", status="active")
    gate.counters.add_spend("u9", 8.9, T0)
    assert gate.refresh_budget_step(T0) == 0
    gate.counters.add_spend("u9", 0.1, T0)
    assert gate.refresh_budget_step(T0) == 90
    assert (
        gate.decide(free, user_id="u2", feature="c", dry_run=False, now=T0).response.reason
        is DenyReason.PAUSED_TIER
    )
    assert decide(gate, premium) is DenyReason.OK
    gate.counters.add_spend("u9", 0.5, T0)
    assert gate.refresh_budget_step(T0) == 95
    response = gate.decide(premium, user_id="u1", feature="c", dry_run=False, now=T0).response
    assert response.policy == "cheapest_only"
    gate.counters.add_spend("u9", 0.5, T0)
    assert gate.refresh_budget_step(T0) == 100
    assert decide(gate, premium) is DenyReason.GLOBAL_BUDGET_CAP


def test_reports_refused_whole_when_one_is_bad() -> None:
    gate = make_gate()
    response = gate.decide(
        user("premium"), user_id="u1", feature="c", dry_run=False, now=T0
    ).response
    assert response.decision_id and response.provider
    good = UsageReport(
        decision_id=response.decision_id,
        provider=response.provider,
        model="m",
        input_tokens=1000,
        output_tokens=1000,
        latency_ms=100,
        status=UsageStatus.OK,
    )
    unknown = good.model_copy(update={"decision_id": "nope"})
    result = gate.ingest([good, unknown], T0)
    assert [p.index for p in result.problems] == [1]
    assert gate.counters.user_usage("u1", T0)[1] == 0, "nothing changed"
    result = gate.ingest([good], T0)
    assert not result.problems
    # Cost computed from the provider's prices when the report has none.
    assert result.rows[0].cost == pytest.approx((1000 * 0.000075 + 1000 * 0.0003) / 1000)
    duplicate = gate.ingest([good], T0)
    assert duplicate.problems and "reported already" in duplicate.problems[0].problem


def test_answers_are_whole_valid_models_allowed_or_denied() -> None:
    """The engine builds its answers without pydantic's validation (for speed): each must
    still be exactly what validating its own JSON gives back."""
    gate = make_gate()
    answers = [gate.decide(user("premium"), user_id="u1", feature="chat", dry_run=False, now=T0)]
    answers.append(
        gate.decide(user(status="suspended"), user_id="u1", feature="chat", dry_run=False, now=T0)
    )
    answers.append(gate.decide(None, user_id="nobody", feature="chat", dry_run=True, now=T0))
    for decision in answers:
        response = decision.response
        again = AdmitResponse.model_validate_json(response.model_dump_json())
        assert again == response
        assert again.model_dump() == response.model_dump()
    assert [a.response.reason for a in answers] == [
        DenyReason.OK,
        DenyReason.USER_SUSPENDED,
        DenyReason.UNKNOWN_USER,
    ]
    assert answers[0].response.remaining is not None
    assert answers[0].response.remaining.requests_today == 99
