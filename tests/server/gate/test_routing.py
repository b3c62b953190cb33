import random

import pytest

from opsconsole.server.gate.routing import Experiment, ProviderChoice, RoutingPolicy, route

PRICES = {"gpt-4o": 12.5, "gemini-pro": 6.25, "perplexity-large": 2.0, "fallback": 0.15}
NO_PEAK = RoutingPolicy(peak_hours=frozenset())


def usable_except(*down: str):  # type: ignore[no-untyped-def]
    def usable(name: str) -> ProviderChoice | None:
        if name in down or name not in PRICES:
            return None
        return ProviderChoice(name, f"model-{name}", PRICES[name])

    return usable


def pick(**overrides: object) -> str | None:
    args: dict[str, object] = {
        "tier": "unlimited",
        "allowed": ["gpt-4o", "gemini-pro", "perplexity-large"],
        "usable": usable_except(),
        "fallback_only": False,
        "cheapest_only": False,
        "policy": NO_PEAK,
        "hour": 9,
        "load_rpm": 0.0,
        "rng": random.Random(1),
    }
    args.update(overrides)
    chosen = route(**args)  # type: ignore[arg-type]
    return chosen.provider.name if chosen else None


def test_priority_order_skips_unusable() -> None:
    assert pick() == "gpt-4o"
    assert pick(usable=usable_except("gpt-4o")) == "gemini-pro"
    assert pick(usable=usable_except("gpt-4o", "gemini-pro", "perplexity-large")) is None


def test_fallback_only_ignores_tier_list() -> None:
    assert pick(fallback_only=True) == "fallback"
    assert pick(fallback_only=True, usable=usable_except("fallback")) is None


def test_cheapest_only() -> None:
    assert pick(cheapest_only=True) == "perplexity-large"


@pytest.mark.parametrize(
    ("hour", "expected"),
    [(17, "gpt-4o"), (18, "perplexity-large"), (21, "perplexity-large"), (22, "gpt-4o")],
)
def test_peak_hours_prefer_cheapest(hour: int, expected: str) -> None:
    assert pick(policy=RoutingPolicy(peak_hours=frozenset(range(18, 22))), hour=hour) == expected


def test_high_load_prefers_cheapest() -> None:
    policy = RoutingPolicy(peak_hours=frozenset(), high_load_rpm=100)
    assert pick(policy=policy, load_rpm=100) == "gpt-4o"
    assert pick(policy=policy, load_rpm=101) == "perplexity-large"


def test_experiment_splits_by_weight_and_reports_share() -> None:
    experiment = Experiment("4o-vs-pro", "unlimited", "gpt-4o", "gemini-pro", 0.3)
    policy = RoutingPolicy(peak_hours=frozenset(), experiments=(experiment,))
    rng = random.Random(7)
    counts = {"gpt-4o": 0, "gemini-pro": 0}
    for _ in range(10_000):
        chosen = route(
            tier="unlimited",
            allowed=["gpt-4o", "gemini-pro"],
            usable=usable_except(),
            fallback_only=False,
            cheapest_only=False,
            policy=policy,
            hour=9,
            load_rpm=0,
            rng=rng,
        )
        assert chosen is not None and chosen.experiment == "4o-vs-pro"
        assert chosen.experiment_share == (0.3 if chosen.provider.name == "gemini-pro" else 0.7)
        counts[chosen.provider.name] += 1
    assert 2_800 < counts["gemini-pro"] < 3_200
    # Other tiers are not part of the experiment.
    assert pick(tier="premium", policy=policy) == "gpt-4o"
