"""Simulated LLM providers: latency, errors, timeouts, outages and token counts per feature.

Nothing here sleeps: a call draws an outcome (status, latency, tokens) that the traffic
generator reports to the control plane as if the request had really taken that long. Prices and
models come from the control plane's defaults, so costs the server computes match ours.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from opsconsole.server.gate.state import DEFAULT_PROVIDERS

log = logging.getLogger("opsconsole.sim")

Status = Literal["ok", "error", "timeout"]

# The SDK's callers give up after this long; the gate's breaker counts slower calls as timeouts.
TIMEOUT_MS = 10_000.0
# z of the 95th percentile of a standard normal: p95 = median * exp(Z95 * sigma).
Z95 = 1.6448536269514722
# Share of failures during an outage that are errors (the rest hang until the timeout).
OUTAGE_ERROR_SHARE = 0.7


@dataclass(frozen=True)
class ProviderProfile:
    """How one provider behaves: latency (lognormal), failure rates and prices."""

    name: str
    model: str
    median_ms: float
    p95_ms: float
    error_rate: float
    timeout_rate: float
    price_in_per_1k: float
    price_out_per_1k: float

    @property
    def sigma(self) -> float:
        """The lognormal's sigma that puts the 95th percentile at ``p95_ms``."""
        return math.log(self.p95_ms / self.median_ms) / Z95

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.price_in_per_1k + output_tokens * self.price_out_per_1k) / 1000


@dataclass(frozen=True)
class FeatureProfile:
    """Token counts of one feature of the app: medians of lognormal draws."""

    input_median: int
    output_median: int
    sigma: float = 0.45


# The fitness app of the seeds: a generated workout is long, a coach reply short, a progress
# summary reads a lot of history and writes little.
FEATURES: dict[str, FeatureProfile] = {
    "workoutGeneration": FeatureProfile(input_median=900, output_median=1100),
    "aiCoach": FeatureProfile(input_median=1400, output_median=350),
    "progressTracking": FeatureProfile(input_median=2200, output_median=250),
}
DEFAULT_FEATURE = FeatureProfile(input_median=1000, output_median=400)

# (median ms, p95 ms, error rate, timeout rate). Failure rates stay well below the breaker's
# default 5% over the last 100 reports, so breakers open for outages, not for background noise.
_BEHAVIOUR: dict[str, tuple[float, float, float, float]] = {
    "gemini-flash": (450, 1_200, 0.004, 0.001),
    "gpt-4o-mini": (700, 1_800, 0.004, 0.001),
    "perplexity": (900, 2_500, 0.006, 0.002),
    "gpt-4o": (1_800, 4_500, 0.005, 0.002),
    "gemini-pro": (1_500, 4_000, 0.005, 0.002),
    "perplexity-large": (2_000, 5_500, 0.008, 0.003),
    "fallback": (250, 600, 0.002, 0.0005),
}
# For a provider an operator added that we know nothing about.
_UNKNOWN_BEHAVIOUR = (1_000, 3_000, 0.005, 0.002)


def default_profiles() -> dict[str, ProviderProfile]:
    """A profile for each of the control plane's default providers, with its prices."""
    profiles = {}
    for name, (model, price_in, price_out) in DEFAULT_PROVIDERS.items():
        median, p95, errors, timeouts = _BEHAVIOUR.get(name, _UNKNOWN_BEHAVIOUR)
        profiles[name] = ProviderProfile(
            name=name,
            model=model,
            median_ms=median,
            p95_ms=p95,
            error_rate=errors,
            timeout_rate=timeouts,
            price_in_per_1k=price_in,
            price_out_per_1k=price_out,
        )
    return profiles


@dataclass(frozen=True)
class Outcome:
    """What one simulated provider call came to; ``cost`` is what the provider bills."""

    provider: str
    model: str
    status: Status
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost: float


class SimulatedProviders:
    """The providers an AI app calls, with outages that can be started and ended at runtime.

    Thread-safe: the traffic generator's workers call :meth:`call` concurrently while the CLI or
    a test starts outages.

    Args:
        profiles: behaviour by provider name (default: :func:`default_profiles`).
        monotonic: the clock outage windows are measured on (a test passes a fake one).
    """

    def __init__(
        self,
        profiles: Mapping[str, ProviderProfile] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profiles = dict(profiles if profiles is not None else default_profiles())
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # name -> list of (start, end) on the monotonic clock.
        self._outages: dict[str, list[tuple[float, float]]] = {}

    def profile(self, name: str, model: str | None = None) -> ProviderProfile:
        """The named provider's profile; an unknown name gets a middling one."""
        known = self.profiles.get(name)
        if known is not None:
            return known
        median, p95, errors, timeouts = _UNKNOWN_BEHAVIOUR
        return ProviderProfile(name, model or name, median, p95, errors, timeouts, 0.001, 0.002)

    def outage(self, name: str, for_s: float, *, after_s: float = 0.0) -> None:
        """Make ``name`` fail (errors and timeouts) for ``for_s`` seconds, ``after_s`` from now."""
        start = self._monotonic() + after_s
        with self._lock:
            self._outages.setdefault(name, []).append((start, start + for_s))
        log.info("outage of %s scheduled: in %.1f s for %.1f s", name, after_s, for_s)

    def recover(self, name: str) -> None:
        """End every outage of ``name``, current and scheduled."""
        with self._lock:
            self._outages.pop(name, None)
        log.info("%s recovered", name)

    def in_outage(self, name: str) -> bool:
        now = self._monotonic()
        with self._lock:
            windows = self._outages.get(name)
            if not windows:
                return False
            # Forget windows that are over so the list does not grow in a long run.
            windows[:] = [(start, end) for start, end in windows if end > now]
            return any(start <= now for start, _ in windows)

    def call(
        self, name: str, feature: str, rng: random.Random, model: str | None = None
    ) -> Outcome:
        """Draw the outcome of one request of ``feature`` to provider ``name``."""
        profile = self.profile(name, model)
        tokens = FEATURES.get(feature, DEFAULT_FEATURE)
        input_tokens = _tokens(rng, tokens.input_median, tokens.sigma)
        roll = rng.random()
        if self.in_outage(name):
            if roll < OUTAGE_ERROR_SHARE:
                return self._failed(profile, "error", rng, input_tokens)
            return self._failed(profile, "timeout", rng, input_tokens)
        if roll < profile.error_rate:
            return self._failed(profile, "error", rng, input_tokens)
        if roll < profile.error_rate + profile.timeout_rate:
            return self._failed(profile, "timeout", rng, input_tokens)
        latency = rng.lognormvariate(math.log(profile.median_ms), profile.sigma)
        if latency >= TIMEOUT_MS:
            # The tail of the distribution: the caller gave up, the provider did not bill.
            return self._failed(profile, "timeout", rng, input_tokens)
        output_tokens = _tokens(rng, tokens.output_median, tokens.sigma)
        return Outcome(
            provider=name,
            model=profile.model,
            status="ok",
            latency_ms=round(latency, 1),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=profile.cost(input_tokens, output_tokens),
        )

    @staticmethod
    def _failed(
        profile: ProviderProfile, status: Status, rng: random.Random, input_tokens: int
    ) -> Outcome:
        # Errors come back quickly (a 5xx, a refused connection); timeouts when the caller quits.
        latency = TIMEOUT_MS if status == "timeout" else profile.median_ms * rng.uniform(0.05, 0.5)
        return Outcome(
            provider=profile.name,
            model=profile.model,
            status=status,
            latency_ms=round(latency, 1),
            input_tokens=input_tokens,
            output_tokens=0,
            cost=0.0,
        )


def _tokens(rng: random.Random, median: int, sigma: float) -> int:
    return max(1, round(rng.lognormvariate(math.log(median), sigma)))
