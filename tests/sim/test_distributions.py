"""The simulator's distributions: population mix, provider latency and failures, daily rhythm."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import datetime, timedelta

import pytest

from opsconsole.server.gate.state import DEFAULT_PROVIDERS
from opsconsole.sim.population import DEFAULT_USERS, make_population
from opsconsole.sim.providers import TIMEOUT_MS, ProviderProfile, SimulatedProviders
from opsconsole.sim.rhythm import DailyRhythm, SimClock
from opsconsole.sim.traffic import ScheduledOutage
from opsconsole.wire.users import COUNTRY_CODES, UserUpsert


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- population ---------------------------------------------------------------------------


def test_default_population_has_the_seed_tier_mix() -> None:
    population = make_population(seed=1)
    assert len(population) == DEFAULT_USERS == 12_450
    counts = population.tier_counts()
    for tier, share in {"free": 0.66, "premium": 0.31, "unlimited": 0.03}.items():
        assert counts[tier] / DEFAULT_USERS == pytest.approx(share, abs=0.005)
    assert len({user.id for user in population}) == DEFAULT_USERS


def test_population_is_deterministic_from_its_seed() -> None:
    assert make_population(500, seed=7).users == make_population(500, seed=7).users
    assert make_population(500, seed=7).users != make_population(500, seed=8).users


def test_users_are_valid_registrations_with_a_realistic_country_mix() -> None:
    population = make_population(3000, seed=2)
    for user in population:
        # The wire model is what the server validates; every simulated user must pass it.
        UserUpsert(email=user.email, name=user.name, tier=user.tier, country=user.country)
        assert user.country in COUNTRY_CODES
    countries = Counter(user.country for user in population)
    assert countries.most_common(1)[0][0] == "US"
    assert 0.25 < countries["US"] / len(population) < 0.40
    assert len(countries) >= 15


def test_heavy_users_make_many_more_requests() -> None:
    population = make_population(2000, seed=3)
    rng = random.Random(0)
    picks = Counter(population.pick(rng).id for _ in range(50_000))
    heavy = [user for user in population if user.heavy]
    assert heavy
    heavy_mean = statistics.mean(picks[user.id] for user in heavy)
    others_mean = statistics.mean(picks[user.id] for user in population if not user.heavy)
    assert heavy_mean > 10 * others_mean


# --- providers ----------------------------------------------------------------------------


def quiet(profile: ProviderProfile) -> ProviderProfile:
    """The profile without failures, to look at latency alone."""
    return ProviderProfile(**{**profile.__dict__, "error_rate": 0.0, "timeout_rate": 0.0})


@pytest.mark.parametrize("name", ["gemini-flash", "gpt-4o"])
def test_latency_percentiles_match_the_profile(name: str) -> None:
    providers = SimulatedProviders()
    profile = providers.profile(name)
    providers = SimulatedProviders({name: quiet(profile)})
    rng = random.Random(11)
    latencies = sorted(providers.call(name, "aiCoach", rng).latency_ms for _ in range(20_000))
    median, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
    assert median == pytest.approx(profile.median_ms, rel=0.05)
    assert p95 == pytest.approx(profile.p95_ms, rel=0.07)


def test_gpt_4o_is_slower_than_flash_and_prices_are_the_control_planes() -> None:
    providers = SimulatedProviders()
    assert providers.profile("gpt-4o").median_ms > 2 * providers.profile("gemini-flash").median_ms
    for name, (model, price_in, price_out) in DEFAULT_PROVIDERS.items():
        profile = providers.profile(name)
        assert (profile.model, profile.price_in_per_1k, profile.price_out_per_1k) == (
            model,
            price_in,
            price_out,
        )


def test_error_and_timeout_rates_match_the_profile() -> None:
    profile = ProviderProfile(
        "p",
        "m",
        500,
        1500,
        error_rate=0.05,
        timeout_rate=0.02,
        price_in_per_1k=0.001,
        price_out_per_1k=0.002,
    )
    providers = SimulatedProviders({"p": profile})
    rng = random.Random(5)
    outcomes = [providers.call("p", "workoutGeneration", rng) for _ in range(20_000)]
    statuses = Counter(outcome.status for outcome in outcomes)
    assert statuses["error"] / len(outcomes) == pytest.approx(0.05, abs=0.008)
    assert statuses["timeout"] / len(outcomes) == pytest.approx(0.02, abs=0.006)
    for outcome in outcomes:
        if outcome.status == "timeout":
            assert outcome.latency_ms == TIMEOUT_MS and outcome.cost == 0
        elif outcome.status == "ok":
            assert outcome.latency_ms < TIMEOUT_MS and outcome.output_tokens > 0
            assert outcome.cost == pytest.approx(
                profile.cost(outcome.input_tokens, outcome.output_tokens)
            )


def test_features_have_their_own_output_sizes() -> None:
    providers = SimulatedProviders({"p": quiet(SimulatedProviders().profile("gemini-flash"))})
    rng = random.Random(9)

    def median_output(feature: str) -> float:
        return statistics.median(
            providers.call("p", feature, rng).output_tokens for _ in range(2000)
        )

    assert median_output("workoutGeneration") > 2 * median_output("progressTracking")


def test_outage_fails_requests_until_it_ends_or_recovery() -> None:
    clock = FakeMonotonic()
    providers = SimulatedProviders(monotonic=clock)
    rng = random.Random(3)

    def failure_rate() -> float:
        outcomes = [providers.call("gemini-flash", "aiCoach", rng) for _ in range(500)]
        return sum(outcome.status != "ok" for outcome in outcomes) / len(outcomes)

    assert failure_rate() < 0.03
    providers.outage("gemini-flash", 60, after_s=10)
    assert not providers.in_outage("gemini-flash")
    clock.now += 10
    assert providers.in_outage("gemini-flash")
    assert failure_rate() == 1.0
    assert providers.in_outage("gemini-flash") and not providers.in_outage("gpt-4o")
    clock.now += 60
    assert failure_rate() < 0.03
    providers.outage("gemini-flash", 3600)
    assert failure_rate() == 1.0
    providers.recover("gemini-flash")
    assert failure_rate() < 0.03


def test_outage_flag_parsing() -> None:
    assert ScheduledOutage.parse("gemini-flash:30:60") == ScheduledOutage("gemini-flash", 30, 60)
    for bad in ("gemini-flash", "x:a:1", ":1:2", "x:1:0", "x:-1:5"):
        with pytest.raises(ValueError, match="START_S"):
            ScheduledOutage.parse(bad)


# --- rhythm -------------------------------------------------------------------------------


def test_daily_rhythm_peaks_in_the_evening_and_troughs_at_night() -> None:
    rhythm = DailyRhythm()
    day = datetime(2025, 3, 4)
    factors = {m: rhythm.factor(day + timedelta(minutes=m)) for m in range(0, 24 * 60, 10)}
    assert statistics.mean(factors.values()) == pytest.approx(1.0, abs=0.02)
    busiest = max(factors, key=lambda m: factors[m])
    quietest = min(factors, key=lambda m: factors[m])
    assert 18 * 60 <= busiest < 22 * 60
    assert 2 * 60 <= quietest < 6 * 60
    evening = min(f for m, f in factors.items() if 18 * 60 <= m < 22 * 60)
    night = max(f for m, f in factors.items() if 2 * 60 <= m < 6 * 60)
    assert evening > 5 * night
    assert all(18 <= hour < 22 for hour in rhythm.peak_hours())


def test_sim_clock_runs_at_its_speedup() -> None:
    real = FakeMonotonic()
    start = datetime(2025, 3, 4, 6, 0)
    clock = SimClock(start, speedup=288, monotonic=real)
    real.now += 150  # half of five minutes: half a day
    assert clock.now() == start + timedelta(hours=12)
    assert clock.elapsed() == 150
    with pytest.raises(ValueError, match="speedup"):
        SimClock(start, speedup=0)
