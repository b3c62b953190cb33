"""The answer to "Why refused?" in plain words: what the gate decided for a user, the limits
involved, and what would change the decision.

Plain functions from the gate's dry run, the user and their use to rich text, with no widgets:
the user details and the users pane's gate view both show it, and it reads (and is checked)
on its own.
"""

from __future__ import annotations

from datetime import timedelta

from opsconsole.console.models.users import local_time
from opsconsole.wire.activity import UsageLimits, UserUsage
from opsconsole.wire.gate import REASON_TEXT, AdmitResponse, DenyReason
from opsconsole.wire.users import UserPublic

# Refusals that are not about this user but about everyone (or a whole tier).
_SWITCHES = {
    DenyReason.GLOBAL_RATE_LIMITED: "the global rate limit",
    DenyReason.PAUSED_ALL: "pause all",
    DenyReason.PAUSED_TIER: "pause tiers",
    DenyReason.GLOBAL_BUDGET_CAP: "the global budget cap",
}


def _in(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


Lines = tuple[list[str], list[str]]  # (facts, what would change it)


def _allowed(decision: AdmitResponse, user: UserPublic) -> str:
    left = decision.remaining
    policy = f" by the {decision.policy} policy." if decision.policy else "."
    parts = [
        f"<b>Allowed.</b> A request now would go to <b>{decision.provider}</b>"
        f" ({decision.model}){policy}"
    ]
    if left is not None:
        today = "no daily cap" if left.requests_today is None else f"{left.requests_today}"
        parts.append(
            f"Left: {today} requests today, ${left.budget_week:.2f} of this week's budget, "
            f"${left.budget_month:.2f} of this month's."
        )
    if user.status != "active":
        parts.append(f"(Status: {user.status}.)")
    return "<p>" + "</p><p>".join(parts) + "</p>"


def _suspended(user: UserPublic) -> Lines:
    if user.status == "erased":
        return ["The user was erased (GDPR); nothing can bring the account back."], []
    why = f" (“{user.status_reason}”)" if user.status_reason else ""
    return [f"The user is suspended{why}."], ["activating the user (Activate…)"]


def _daily(usage: UserUsage, limits: UsageLimits) -> Lines:
    source = (
        "the user's own override" if "daily_requests" in limits.overridden else f"tier {usage.tier}"
    )
    facts = [
        f"Requests today: <b>{usage.requests_today}</b> of <b>{limits.daily_requests}</b> "
        f"({source})."
    ]
    fixes = [
        f"waiting: the day resets at {local_time(usage.day_resets_at, '%H:%M')} "
        f"(in {_in(usage.day_resets_at - usage.at)})",
        f"a quota override above {limits.daily_requests} (Quota override…)",
        "a tier with more requests a day (Change tier…)",
    ]
    return facts, fixes


def _budget(usage: UserUsage, limits: UsageLimits, *, weekly: bool) -> Lines:
    spent = usage.spent_week if weekly else usage.spent_month
    budget = limits.weekly_budget if weekly else limits.monthly_budget
    resets = usage.week_resets_at if weekly else usage.month_resets_at
    key = "weekly_budget" if weekly else "monthly_budget"
    source = "the user's own override" if key in limits.overridden else f"tier {usage.tier}"
    bonus = (
        f", with a bonus of ${limits.budget_bonus:.2f} until "
        f"{local_time(limits.budget_bonus_until)}"
        if limits.budget_bonus
        else ""
    )
    span = "week" if weekly else "month"
    facts = [
        f"Spent this {span}: <b>{money(spent)}</b> of <b>{money(budget)}</b> ({source}{bonus})."
    ]
    fixes = [
        f"waiting: the {span} resets {local_time(resets, '%a %d %b %H:%M')} "
        f"(in {_in(resets - usage.at)})",
        "a temporary budget increase (Budget increase…)",
        "a tier with a larger budget (Change tier…)",
    ]
    return facts, fixes


def _reasons(decision: AdmitResponse, user: UserPublic, usage: UserUsage | None) -> Lines:
    reason = decision.reason
    limits = usage.limits if usage else None
    if reason is DenyReason.USER_SUSPENDED:
        return _suspended(user)
    if reason is DenyReason.UNKNOWN_USER:
        return (
            ["The app has not registered this user id with the control plane."],
            ["the app registering the user (PUT /v1/users/{id}) before its first request"],
        )
    if reason is DenyReason.DAILY_QUOTA and usage is not None and limits is not None:
        return _daily(usage, limits)
    if reason in (DenyReason.WEEKLY_BUDGET, DenyReason.MONTHLY_BUDGET) and usage and limits:
        return _budget(usage, limits, weekly=reason is DenyReason.WEEKLY_BUDGET)
    if reason is DenyReason.USER_RATE_LIMITED:
        rate = f"{limits.rate_per_minute} requests a minute" if limits else "their rate"
        retry = f" (about {decision.retry_after_s:.0f} s)" if decision.retry_after_s else ""
        return [f"The user sends faster than {rate}."], [
            f"waiting a moment{retry}; this clears by itself"
        ]
    if reason in _SWITCHES:
        return (
            [
                f"This is not about this user: the emergency switch "
                f"<b>{_SWITCHES[reason]}</b> refuses them (and others)."
            ],
            ["an on-call operator turning the switch off (Emergency controls)"],
        )
    if reason is DenyReason.NO_PROVIDER:
        return (
            [f"No provider that tier {user.tier} may use is enabled with a closed breaker."],
            ["resetting a provider's breaker or enabling one (Provider health)"],
        )
    return [], []


def explain(decision: AdmitResponse, user: UserPublic, usage: UserUsage | None) -> str:
    """The gate's answer in plain words: the verdict, the limits involved, what would change it.

    Returns rich text (a few short paragraphs).
    """
    if decision.allow:
        return _allowed(decision, user)
    facts, fixes = _reasons(decision, user, usage)
    text = f"<p><b>Refused: {REASON_TEXT[decision.reason]}.</b></p>"
    if facts:
        text += "<p>" + " ".join(facts) + "</p>"
    if fixes:
        text += "<p>What would change it:</p><ul>" + "".join(f"<li>{f}</li>" for f in fixes)
        text += "</ul>"
    return text


def money(amount: float) -> str:
    """Dollars; cents hide what a user of small requests spends, so small sums get 4 places."""
    return f"${amount:,.2f}" if amount == 0 or abs(amount) >= 1 else f"${amount:.4f}"
