"""A deterministic population of the app's end users: tiers, countries, names, activity.

The mix follows the seeds' fitness app: 12,450 users, 66% free, 31% premium, 3% unlimited.
Activity is heavy-tailed: 1% of users are heavy (40 times their peers) and a handful of power
users send a tenth of all requests, so rate limits and daily quotas are reached during a run.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

DEFAULT_USERS = 12_450
TIER_MIX: dict[str, float] = {"free": 0.66, "premium": 0.31, "unlimited": 0.03}

# Where the users of an English-language fitness app live, roughly.
COUNTRY_MIX: dict[str, float] = {
    "US": 0.32,
    "GB": 0.09,
    "DE": 0.07,
    "CA": 0.06,
    "IN": 0.06,
    "BR": 0.05,
    "AU": 0.04,
    "FR": 0.04,
    "MX": 0.03,
    "ES": 0.03,
    "NL": 0.025,
    "IT": 0.025,
    "SE": 0.02,
    "PL": 0.02,
    "JP": 0.02,
    "IE": 0.015,
    "NG": 0.015,
    "ZA": 0.015,
    "PH": 0.015,
    "SG": 0.01,
    "NZ": 0.01,
    "CH": 0.01,
    "AT": 0.01,
    "DK": 0.01,
}

# Share of all requests by feature; each user leans towards one favourite.
FEATURE_MIX: dict[str, float] = {
    "workoutGeneration": 0.45,
    "aiCoach": 0.35,
    "progressTracking": 0.20,
}
FAVOURITE_SHARE = 0.6

HEAVY_SHARE = 0.01  # of users
HEAVY_FACTOR = 40.0  # times the activity of their peers
# A handful of power users (one per this many users) who together send this share of all
# requests: enough that some reach their rate limit and daily quota within a minute of a run.
POWER_USERS_PER = 2000
POWER_SHARE = 0.10

_FIRST = [
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Mia",
    "Lucas",
    "Elena",
    "Mateo",
    "Sofia",
    "Leon",
    "Hannah",
    "Arjun",
    "Priya",
    "Chen",
    "Yuki",
    "Amara",
    "Kofi",
    "Lars",
    "Ingrid",
    "Diego",
    "Lucia",
    "Tom",
    "Grace",
    "Omar",
    "Layla",
    "Finn",
    "Chloe",
    "Raj",
    "Ana",
    "Jonas",
    "Marta",
    "Felix",
    "Nora",
    "Ethan",
    "Zoe",
    "Hugo",
    "Alice",
    "Ravi",
    "Mei",
]
_LAST = [
    "Smith",
    "Johnson",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Mueller",
    "Schmidt",
    "Rossi",
    "Silva",
    "Santos",
    "Kowalski",
    "Jansen",
    "Dubois",
    "Tanaka",
    "Sato",
    "Okafor",
    "Patel",
    "Sharma",
    "Nguyen",
]


@dataclass(frozen=True)
class SimUser:
    """One end user: what the app registers and how much they use the AI features."""

    id: str
    email: str
    name: str
    tier: str
    country: str
    activity: float  # relative request rate; the population's mean is about 1
    favourite: str  # the feature they use most
    heavy: bool

    def pick_feature(self, rng: random.Random) -> str:
        if rng.random() < FAVOURITE_SHARE:
            return self.favourite
        return _weighted(rng, FEATURE_MIX)


class Population:
    """The users, and a way to pick who makes the next request (weighted by activity)."""

    def __init__(self, users: Sequence[SimUser]) -> None:
        if not users:
            raise ValueError("a population needs at least one user")
        self.users = tuple(users)
        self._cumulative = list(itertools.accumulate(user.activity for user in self.users))
        self.by_id = {user.id: user for user in self.users}

    def __len__(self) -> int:
        return len(self.users)

    def __iter__(self) -> Iterator[SimUser]:
        return iter(self.users)

    def pick(self, rng: random.Random) -> SimUser:
        """A user drawn with probability proportional to their activity."""
        point = rng.random() * self._cumulative[-1]
        index = bisect.bisect_right(self._cumulative, point)
        return self.users[min(index, len(self.users) - 1)]

    def tier_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(TIER_MIX, 0)
        for user in self.users:
            counts[user.tier] = counts.get(user.tier, 0) + 1
        return counts


def make_population(
    count: int = DEFAULT_USERS,
    *,
    seed: int = 0,
    id_prefix: str = "u",
    tier_mix: Mapping[str, float] = TIER_MIX,
) -> Population:
    """``count`` users, the same for the same arguments.

    Tier counts are exact shares of ``count`` (largest remainder), shuffled over the users, so
    a demo shows 66/31/3 and not whatever a sample happened to give.
    """
    rng = random.Random(seed)
    tiers = _exact_shares(count, tier_mix)
    rng.shuffle(tiers)
    width = max(5, len(str(count)))
    heavy = set(rng.sample(range(count), max(1, round(count * HEAVY_SHARE)))) if count else set()
    users = []
    for index, tier in enumerate(tiers):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        # Paying users use the product more; within a tier activity is heavy-tailed.
        activity = rng.lognormvariate(0.0, 0.8) * {"premium": 1.5, "unlimited": 2.5}.get(tier, 1.0)
        if index in heavy:
            activity *= HEAVY_FACTOR
        user_id = f"{id_prefix}{index:0{width}d}"
        users.append(
            SimUser(
                id=user_id,
                email=f"{first}.{last}.{index}@example.com".lower(),
                name=f"{first} {last}",
                tier=tier,
                country=_weighted(rng, COUNTRY_MIX),
                activity=activity,
                favourite=_weighted(rng, FEATURE_MIX),
                heavy=index in heavy,
            )
        )
    if users:
        power = set(rng.sample(range(count), max(1, count // POWER_USERS_PER)))
        others = sum(user.activity for index, user in enumerate(users) if index not in power)
        each = others * POWER_SHARE / (1 - POWER_SHARE) / len(power)
        for index in power:
            users[index] = replace(users[index], activity=each, heavy=True)
    return Population(users)


def _exact_shares(count: int, mix: Mapping[str, float]) -> list[str]:
    total = sum(mix.values())
    quotas = {name: count * share / total for name, share in mix.items()}
    counts = {name: int(quota) for name, quota in quotas.items()}
    short = count - sum(counts.values())
    for name in sorted(quotas, key=lambda n: quotas[n] - counts[n], reverse=True)[:short]:
        counts[name] += 1
    return [name for name, n in counts.items() for _ in range(n)]


def _weighted(rng: random.Random, mix: Mapping[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]
