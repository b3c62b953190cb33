"""Which provider serves an admitted request: the tier's priority list, then the policies.

Base rule: the first provider the tier allows that is enabled and whose breaker lets requests
through. Layered on top, in this order:

1. ``fallback_only`` (switch): the fallback provider, whatever the tier says.
2. ``cheapest_only`` (switch, or the automatic 95% budget step): the cheapest usable provider.
3. A traffic-split experiment for the tier: a weighted choice between two providers.
4. Peak hours (configured hours of the day) or high load (above N requests per minute):
   the cheapest usable provider the tier allows.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FALLBACK = "fallback"


@dataclass(slots=True)
class ProviderChoice:
    name: str
    model: str
    cost_per_1k: float  # input + output price, used to rank "cheapest"


@dataclass(frozen=True)
class Experiment:
    """Route a share of a tier's traffic to ``arm_b`` instead of ``arm_a``."""

    name: str
    tier: str
    arm_a: str
    arm_b: str
    share_b: float  # 0..1


@dataclass(frozen=True)
class RoutingPolicy:
    peak_hours: frozenset[int] = frozenset(range(18, 22))  # UTC hours, from the requirements
    high_load_rpm: int = 0  # 0: off
    experiments: tuple[Experiment, ...] = ()


@dataclass(slots=True)
class Route:
    provider: ProviderChoice
    policy: str  # priority, fallback_only, cheapest_only, experiment, peak_hours, high_load
    experiment: str | None = None
    experiment_share: float | None = None


def route(
    *,
    tier: str,
    allowed: Sequence[str],
    usable: Callable[[str], ProviderChoice | None],
    fallback_only: bool,
    cheapest_only: bool,
    policy: RoutingPolicy,
    hour: int,
    load_rpm: float,
    rng: random.Random,
) -> Route | None:
    """The route for one request, or None when no provider is usable.

    Args:
        allowed: the tier's providers in priority order.
        usable: the provider's choice if it is enabled and its breaker allows requests.
    """
    if fallback_only:
        choice = usable(FALLBACK)
        return Route(choice, "fallback_only") if choice else None
    candidates = [choice for name in allowed if (choice := usable(name)) is not None]
    if not candidates:
        return None
    if cheapest_only:
        return Route(_cheapest(candidates), "cheapest_only")
    for experiment in policy.experiments:
        if experiment.tier != tier:
            continue
        use_b = rng.random() < experiment.share_b
        arm = usable(experiment.arm_b if use_b else experiment.arm_a)
        if arm is not None:
            share = experiment.share_b if use_b else 1 - experiment.share_b
            return Route(arm, "experiment", experiment.name, share)
    if hour in policy.peak_hours:
        return Route(_cheapest(candidates), "peak_hours")
    if policy.high_load_rpm and load_rpm > policy.high_load_rpm:
        return Route(_cheapest(candidates), "high_load")
    return Route(candidates[0], "priority")


def _cheapest(candidates: list[ProviderChoice]) -> ProviderChoice:
    # Ties keep the tier's priority order (min is stable).
    return min(candidates, key=lambda choice: choice.cost_per_1k)
