"""Savings worked out from the recorded usage of the last days, not from rules of thumb.

* **Routing.** Each tier's recorded tokens, priced at every enabled provider's current
  prices: "routing tier X to provider Y would have cost $A instead of $B". Only successful
  calls are repriced; failed ones cost nothing either way. Quality is not priced: the text
  names only providers the tier already allows, the table shows all of them.
* **Quotas.** For a tier with a daily cap, the requests it admitted beyond a lower cap, per
  user and UTC day, in the order they were admitted, and what they cost: "lowering the free
  tier's daily quota from 10 to 7 would have saved $C". Users with a quota of their own are
  left out (the tier's quota does not apply to them). It assumes the refused requests would
  not have been made some other way.

The period is the last ``days`` full UTC days before today, so that a figure does not move
while the day runs and matches what anyone recomputes from the rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from opsconsole.server.business.daily import day_of
from opsconsole.server.business.service import bad_query
from opsconsole.server.gate.models import DecisionRow, Provider, UsageEvent
from opsconsole.server.users.models import Tier, User
from opsconsole.wire.business import (
    Period,
    ProviderAlternative,
    QuotaChange,
    Recommendation,
    Recommendations,
    TierRouting,
)

QUOTA_FACTOR = 0.7  # the lower quota looked at by default: 10 -> 7, 100 -> 70
MIN_SAVING_PCT = 1.0  # a routing change saving less than this share is noise


def recommendations(
    *,
    session: Session,
    now: datetime,
    days: int,
    quota_tier: str | None = None,
    quota: int | None = None,
) -> Recommendations:
    """Routing and quota savings over the last ``days`` full days before ``now``.

    Args:
        quota_tier, quota: look at this one lower quota instead of the default (70% of each
            capped tier's quota).
    """
    end = datetime.combine(now.date(), datetime.min.time(), UTC)
    start = end - timedelta(days=days)
    tiers = {row.name: row for row in session.scalars(select(Tier).order_by(Tier.name))}
    proposals = _quota_proposals(tiers, quota_tier, quota)
    routing = _routing(session, start, end, tiers)
    quotas = [
        _quota_change(session, start, end, tier=name, current=current, proposed=proposed)
        for name, current, proposed in proposals
    ]
    found: list[Recommendation] = []
    for row in routing:
        best = min(
            (alt for alt in row.alternatives if alt.allowed_for_tier),
            key=lambda alt: alt.cost,
            default=None,
        )
        if best is not None and best.saving > 0 and (best.saving_pct or 0) >= MIN_SAVING_PCT:
            found.append(
                Recommendation(
                    kind="routing",
                    tier=row.tier,
                    saving=best.saving,
                    text=(
                        f"Routing tier {row.tier} to {best.provider} would have cost "
                        f"{_money(best.cost)} instead of {_money(row.recorded_cost)} over the "
                        f"last {_days(days)} (saving {_money(best.saving)}, "
                        f"{best.saving_pct or 0:.0f}%)."
                    ),
                )
            )
    for change in quotas:
        if change.saving > 0:
            found.append(
                Recommendation(
                    kind="quota",
                    tier=change.tier,
                    saving=change.saving,
                    text=(
                        f"Lowering the {change.tier} tier's daily quota from "
                        f"{change.current_quota} to {change.proposed_quota} would have saved "
                        f"{_money(change.saving)} over the last {_days(days)}, refusing "
                        f"{change.requests_refused} requests of {change.users_affected} users "
                        f"on {change.user_days_affected} user-days."
                    ),
                )
            )
    found.sort(key=lambda r: (-r.saving, r.kind, r.tier))
    return Recommendations(
        as_of=now,
        period=Period(start=start, end=end),
        days=days,
        recommendations=found,
        routing=routing,
        quotas=quotas,
    )


def _quota_proposals(
    tiers: dict[str, Tier], quota_tier: str | None, quota: int | None
) -> list[tuple[str, int, int]]:
    """(tier, current quota, proposed quota) to look at."""
    if (quota_tier is None) != (quota is None):
        field = "quota" if quota is None else "quota_tier"
        raise bad_query(field, "give quota_tier and quota together, or neither")
    if quota_tier is None or quota is None:
        return [
            (name, tier.daily_requests, int(tier.daily_requests * QUOTA_FACTOR))
            for name, tier in tiers.items()
            if tier.daily_requests > 1
        ]
    tier = tiers.get(quota_tier)
    if tier is None:
        raise bad_query("quota_tier", f"no tier is named {quota_tier!r}; known: {sorted(tiers)}")
    if tier.daily_requests < 0:
        raise bad_query("quota_tier", f"the {quota_tier} tier has no daily quota to lower")
    if quota >= tier.daily_requests:
        raise bad_query(
            "quota",
            f"{quota} is not below the {quota_tier} tier's quota of {tier.daily_requests}; "
            "give a lower one",
        )
    return [(quota_tier, tier.daily_requests, quota)]


def _routing(
    session: Session, start: datetime, end: datetime, tiers: dict[str, Tier]
) -> list[TierRouting]:
    ok = UsageEvent.status == "ok"
    rows = session.execute(
        select(
            UsageEvent.tier,
            UsageEvent.provider,
            func.count(),
            func.sum(case((ok, UsageEvent.input_tokens), else_=0)),
            func.sum(case((ok, UsageEvent.output_tokens), else_=0)),
            func.sum(UsageEvent.cost),
        )
        .where(UsageEvent.at >= start, UsageEvent.at < end)
        .group_by(UsageEvent.tier, UsageEvent.provider)
    ).all()
    providers = list(
        session.scalars(select(Provider).where(Provider.enabled.is_(True)).order_by(Provider.name))
    )
    by_tier: dict[str, list[tuple[str, int, int, int, float]]] = {}
    for tier, provider, count, tokens_in, tokens_out, cost in rows:
        by_tier.setdefault(tier, []).append(
            (provider, int(count), int(tokens_in or 0), int(tokens_out or 0), float(cost or 0.0))
        )
    result = []
    for tier, used in sorted(by_tier.items()):
        allowed = set(json.loads(tiers[tier].providers)) if tier in tiers else set()
        tokens_in = sum(u[2] for u in used)
        tokens_out = sum(u[3] for u in used)
        recorded = sum(u[4] for u in used)
        alternatives = []
        for provider in providers:
            cost = (
                tokens_in * provider.price_in_per_1k + tokens_out * provider.price_out_per_1k
            ) / 1000
            alternatives.append(
                ProviderAlternative(
                    provider=provider.name,
                    allowed_for_tier=provider.name in allowed,
                    cost=cost,
                    saving=recorded - cost,
                    saving_pct=100 * (recorded - cost) / recorded if recorded > 0 else None,
                )
            )
        alternatives.sort(key=lambda alt: (alt.cost, alt.provider))
        result.append(
            TierRouting(
                tier=tier,
                requests=sum(u[1] for u in used),
                recorded_cost=recorded,
                by_provider={u[0]: u[1] for u in sorted(used)},
                alternatives=alternatives,
            )
        )
    return result


def _quota_change(
    session: Session, start: datetime, end: datetime, *, tier: str, current: int, proposed: int
) -> QuotaChange:
    """What the tier's admitted requests beyond ``proposed`` per user-day cost."""
    dialect = session.get_bind().dialect.name
    day = day_of(DecisionRow.at, dialect)
    admitted = (
        select(
            DecisionRow.decision_id,
            DecisionRow.user_pk,
            day.label("day"),
            func.row_number()
            .over(
                partition_by=(DecisionRow.user_pk, day),
                order_by=(DecisionRow.at, DecisionRow.id),
            )
            .label("n"),
        )
        .join(User, User.pk == DecisionRow.user_pk)
        .where(
            DecisionRow.allow.is_(True),
            DecisionRow.tier == tier,
            DecisionRow.at >= start,
            DecisionRow.at < end,
            User.quota_daily_requests.is_(None),
        )
        .subquery()
    )
    beyond = (
        select(
            admitted.c.user_pk,
            admitted.c.day,
            func.count().label("refused"),
            func.coalesce(func.sum(UsageEvent.cost), 0.0).label("cost"),
        )
        .select_from(admitted)
        .outerjoin(UsageEvent, UsageEvent.decision_id == admitted.c.decision_id)
        .where(admitted.c.n > proposed)
        .group_by(admitted.c.user_pk, admitted.c.day)
        .subquery()
    )
    refused, users, user_days, saving = session.execute(
        select(
            func.coalesce(func.sum(beyond.c.refused), 0),
            func.count(func.distinct(beyond.c.user_pk)),
            func.count(),
            func.coalesce(func.sum(beyond.c.cost), 0.0),
        )
    ).one()
    return QuotaChange(
        tier=tier,
        current_quota=current,
        proposed_quota=proposed,
        saving=float(saving),
        requests_refused=int(refused),
        users_affected=int(users),
        user_days_affected=int(user_days),
    )


def _money(amount: float) -> str:
    # Cents hide the small sums of a quiet tier or a short period.
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def _days(days: int) -> str:
    return "day" if days == 1 else f"{days} days"
