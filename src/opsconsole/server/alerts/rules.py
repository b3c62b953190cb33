"""The alert rules: their defaults, and what each kind finds in the `Inputs` of a moment.

Pure functions: `findings(rule, inputs)` names every subject (the total, a provider, a user,
the ticket queue) whose condition holds now, with the value that broke the threshold and one
line an operator can act on. Time (the `for` duration) is the lifecycle's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsconsole.server.alerts.inputs import TOTAL, Inputs
from opsconsole.wire.alerts import AlertRule, Automation, RuleKind, Severity

# Kinds whose alerts a down provider suppresses (inhibition): its errors and slowness are
# the outage itself, already paged once as provider_down.
INHIBITED_BY_DOWN = frozenset({RuleKind.ERROR_RATE, RuleKind.LATENCY_P95})


@dataclass(frozen=True)
class Finding:
    subject: str
    value: float
    threshold: float
    summary: str
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def provider(self) -> str | None:
        provider = self.labels.get("provider")
        return provider if isinstance(provider, str) else None


def _rule(
    name: str,
    kind: RuleKind,
    threshold: float,
    *,
    for_s: int,
    window_s: int = 300,
    floor: float = 0.0,
    severity: Severity = Severity.WARNING,
    description: str,
) -> AlertRule:
    return AlertRule(
        name=name,
        kind=kind,
        threshold=threshold,
        for_s=for_s,
        window_s=window_s,
        floor=floor,
        severity=severity,
        automation=Automation.NONE,  # automations are off until an operator turns one on
        description=description,
    )


DEFAULT_RULES: tuple[AlertRule, ...] = (
    _rule(
        "cost_spike",
        RuleKind.COST_SPIKE,
        50,
        for_s=600,
        window_s=3600,
        floor=1.0,
        description="Cost per hour over the window is this many percent above the trailing "
        "24 h average (floor: dollars per hour below which it stays quiet).",
    ),
    _rule(
        "error_rate",
        RuleKind.ERROR_RATE,
        5,
        for_s=60,
        floor=20,
        severity=Severity.CRITICAL,
        description="Errors and timeouts above this percentage of reports over the window, "
        "per provider and in total (floor: reports needed to judge).",
    ),
    _rule(
        "latency_p95",
        RuleKind.LATENCY_P95,
        5000,
        for_s=120,
        floor=10,
        description="p95 provider latency above this many milliseconds over the window "
        "(floor: reports needed to judge).",
    ),
    _rule(
        "provider_down",
        RuleKind.PROVIDER_DOWN,
        0,
        for_s=60,
        severity=Severity.CRITICAL,
        description="A provider is down (open circuit breaker, or the health check says so).",
    ),
    _rule(
        "budget_80",
        RuleKind.GLOBAL_BUDGET,
        80,
        for_s=0,
        description="Today's or this week's global spend reached this percentage of its cap.",
    ),
    _rule(
        "budget_90",
        RuleKind.GLOBAL_BUDGET,
        90,
        for_s=0,
        severity=Severity.CRITICAL,
        description="Today's or this week's global spend reached this percentage of its cap.",
    ),
    _rule(
        "budget_100",
        RuleKind.GLOBAL_BUDGET,
        100,
        for_s=0,
        severity=Severity.CRITICAL,
        description="The global spend cap is reached: the gate refuses new requests.",
    ),
    _rule(
        "active_users_drop",
        RuleKind.ACTIVE_USERS_DROP,
        20,
        for_s=900,
        window_s=3600,
        floor=20,
        description="Distinct active users over the window this many percent below the same "
        "window a week earlier (floor: users last week needed to judge).",
    ),
    _rule(
        "sla_breach",
        RuleKind.SLA_BREACH,
        0,
        for_s=0,
        description="More than this many open tickets have missed their SLA deadline.",
    ),
    _rule(
        "heavy_user",
        RuleKind.HEAVY_USER,
        10,
        for_s=300,
        floor=10.0,
        description="One user accounts for more than this percentage of today's spend "
        "(floor: dollars spent today before it judges).",
    ),
)


def findings(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    """Every subject whose condition holds now; none for a disabled rule."""
    if not rule.enabled:
        return []
    return _BY_KIND[rule.kind](rule, inputs)


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def _error_rate(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    found = []
    for subject, figures in inputs.windows.get(rule.window_s, {}).items():
        if figures.reports == 0 or figures.reports < rule.floor:
            continue
        rate = 100 * figures.failures / figures.reports
        if rate > rule.threshold:
            where = "all providers" if subject == TOTAL else subject
            found.append(
                Finding(
                    subject,
                    rate,
                    rule.threshold,
                    f"Error rate of {where} is {_pct(rate)} over {rule.window_s} s "
                    f"({figures.failures} of {figures.reports} reports; threshold "
                    f"{_pct(rule.threshold)})",
                    _provider_label(subject),
                )
            )
    return found


def _latency(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    found = []
    for subject, figures in inputs.windows.get(rule.window_s, {}).items():
        if figures.p95_ms is None or figures.reports < rule.floor:
            continue
        if figures.p95_ms > rule.threshold:
            where = "all providers" if subject == TOTAL else subject
            found.append(
                Finding(
                    subject,
                    figures.p95_ms,
                    rule.threshold,
                    f"p95 latency of {where} is {figures.p95_ms:.0f} ms over {rule.window_s} s "
                    f"(threshold {rule.threshold:.0f} ms)",
                    _provider_label(subject),
                )
            )
    return found


def _provider_label(subject: str) -> dict[str, Any]:
    return {} if subject == TOTAL else {"provider": subject}


def _provider_down(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    return [
        Finding(
            name,
            1.0,
            rule.threshold,
            f"Provider {name} is down: {why or 'no reason given'}",
            {"provider": name},
        )
        for name, why in sorted(inputs.down.items())
    ]


def _cost_spike(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    cost = inputs.cost.get(rule.window_s)
    if cost is None or cost.baseline_per_hour <= 0 or cost.recent_per_hour < rule.floor:
        return []  # no baseline yet (a new install), or too little money to matter
    above = 100 * (cost.recent_per_hour / cost.baseline_per_hour - 1)
    if above <= rule.threshold:
        return []
    return [
        Finding(
            TOTAL,
            above,
            rule.threshold,
            f"Cost is ${cost.recent_per_hour:.2f}/h, {_pct(above)} above the trailing 24 h "
            f"average of ${cost.baseline_per_hour:.2f}/h (threshold {_pct(rule.threshold)})",
            {
                "cost_per_hour": round(cost.recent_per_hour, 6),
                "baseline_per_hour": round(cost.baseline_per_hour, 6),
            },
        )
    ]


def _global_budget(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    budget = inputs.budget
    if budget is None:
        return []
    day = 100 * budget.day / budget.day_cap if budget.day_cap > 0 else 0.0
    week = 100 * budget.week / budget.week_cap if budget.week_cap > 0 else 0.0
    used = max(day, week)
    if used < rule.threshold:
        return []
    which = (
        f"today's spend ${budget.day:.2f} of ${budget.day_cap:.2f}"
        if day >= week
        else f"this week's spend ${budget.week:.2f} of ${budget.week_cap:.2f}"
    )
    return [
        Finding(
            TOTAL,
            used,
            rule.threshold,
            f"Global budget at {_pct(used)}: {which} (threshold {_pct(rule.threshold)})",
            {"day": round(budget.day, 6), "week": round(budget.week, 6)},
        )
    ]


def _active_users(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    users = inputs.users.get(rule.window_s)
    if users is None or users.last_week == 0 or users.last_week < rule.floor:
        return []
    drop = 100 * (1 - users.now / users.last_week)
    if drop <= rule.threshold:
        return []
    return [
        Finding(
            TOTAL,
            drop,
            rule.threshold,
            f"{users.now} active users over the last {rule.window_s // 60} min, {_pct(drop)} "
            f"fewer than the {users.last_week} a week ago (threshold {_pct(rule.threshold)})",
            {"now": users.now, "last_week": users.last_week},
        )
    ]


def _sla_breach(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    count = inputs.breached_tickets
    if count <= rule.threshold:
        return []
    shown = ", ".join(f"#{i}" for i in inputs.breached_ids[:5])
    more = f" and {count - 5} more" if count > 5 else ""
    return [
        Finding(
            "tickets",
            float(count),
            rule.threshold,
            f"{count} open ticket{'s' if count != 1 else ''} past the SLA deadline: {shown}{more}",
            {"tickets": list(inputs.breached_ids)},
        )
    ]


def _heavy_user(rule: AlertRule, inputs: Inputs) -> list[Finding]:
    total = inputs.spend_today
    if total <= 0 or total < rule.floor:
        return []
    found = []
    for user_id, spend in inputs.top_spenders:
        share = 100 * spend / total
        if share > rule.threshold:
            found.append(
                Finding(
                    user_id,
                    share,
                    rule.threshold,
                    f"User {user_id} spent ${spend:.2f} today, {_pct(share)} of all "
                    f"${total:.2f} (threshold {_pct(rule.threshold)})",
                    {"user": user_id, "spend": round(spend, 6)},
                )
            )
    return found


_BY_KIND: dict[RuleKind, Callable[[AlertRule, Inputs], list[Finding]]] = {
    RuleKind.COST_SPIKE: _cost_spike,
    RuleKind.ERROR_RATE: _error_rate,
    RuleKind.LATENCY_P95: _latency,
    RuleKind.PROVIDER_DOWN: _provider_down,
    RuleKind.GLOBAL_BUDGET: _global_budget,
    RuleKind.ACTIVE_USERS_DROP: _active_users,
    RuleKind.SLA_BREACH: _sla_breach,
    RuleKind.HEAVY_USER: _heavy_user,
}
