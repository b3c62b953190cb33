"""What the gate knows in memory: tiers, providers with their breakers, switches, users.

The database is the source of truth; these are its working copies, refreshed when an operator
changes something (in this process at once, in other replicas through Redis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsconsole.server.gate.breaker import Breaker
from opsconsole.server.gate.routing import ProviderChoice
from opsconsole.wire.gate import BreakerSettings, SwitchName

DEFAULT_TIERS: dict[str, dict[str, Any]] = {
    "free": {
        "daily_requests": 10,
        "weekly_budget": 0.50,
        "monthly_budget": 2.00,
        "rate_per_minute": 10,
        "providers": ["gemini-flash", "fallback"],
        "price_monthly": 0.0,
    },
    "premium": {
        "daily_requests": 100,
        "weekly_budget": 5.00,
        "monthly_budget": 20.00,
        "rate_per_minute": 30,
        "providers": ["gemini-flash", "gpt-4o-mini", "perplexity"],
        "price_monthly": 9.99,
    },
    "unlimited": {
        "daily_requests": -1,
        "weekly_budget": 50.00,
        "monthly_budget": 200.00,
        "rate_per_minute": 60,
        "providers": ["gpt-4o", "gemini-pro", "perplexity-large"],
        "price_monthly": 29.99,
    },
}

# name: (model, $ per 1k input tokens, $ per 1k output tokens); list prices of late 2024.
DEFAULT_PROVIDERS: dict[str, tuple[str, float, float]] = {
    "gemini-flash": ("gemini-1.5-flash", 0.000075, 0.0003),
    "gpt-4o-mini": ("gpt-4o-mini", 0.00015, 0.0006),
    "perplexity": ("llama-3.1-sonar-small", 0.0002, 0.0002),
    "gpt-4o": ("gpt-4o", 0.0025, 0.01),
    "gemini-pro": ("gemini-1.5-pro", 0.00125, 0.005),
    "perplexity-large": ("llama-3.1-sonar-large", 0.001, 0.001),
    "fallback": ("fallback-small", 0.00005, 0.0001),
}


@dataclass
class TierPolicy:
    name: str
    daily_requests: int  # -1: no cap
    weekly_budget: float
    monthly_budget: float
    rate_per_minute: int
    providers: tuple[str, ...]
    price_monthly: float


@dataclass
class ProviderRuntime:
    name: str
    model: str
    price_in_per_1k: float
    price_out_per_1k: float
    enabled: bool
    breaker: Breaker = field(default_factory=Breaker)
    # What routing compares; built once (prices change by replacing the whole runtime).
    choice: ProviderChoice = field(init=False)

    def __post_init__(self) -> None:
        self.choice = ProviderChoice(
            self.name, self.model, self.price_in_per_1k + self.price_out_per_1k
        )

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.price_in_per_1k + output_tokens * self.price_out_per_1k) / 1000

    def breaker_settings(self) -> BreakerSettings:
        return self.breaker.settings


@dataclass
class SwitchState:
    name: SwitchName
    value: Any = None  # None: off
    set_by: str | None = None
    reason: str | None = None
    set_at: datetime | None = None
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        if self.value is None or self.value is False or self.value == []:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass
class UserEntry:
    """The gate's copy of one end user: identity, tier, status and overrides."""

    pk: int
    id: str
    tier: str
    status: str
    quota_daily_requests: int | None = None
    budget_weekly: float | None = None
    budget_monthly: float | None = None
    rate_per_minute: int | None = None
    budget_bonus: float | None = None
    budget_bonus_until: datetime | None = None
    loaded_at: float = 0.0  # monotonic seconds, for the cache's time to live
    time_to_live: float = 30.0  # seconds


@dataclass(slots=True)
class PendingDecision:
    """An admitted decision waiting for its usage report."""

    id: str
    user_pk: int
    user_id: str
    tier: str
    feature: str
    provider: str
    model: str
    at: datetime
