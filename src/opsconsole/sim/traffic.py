"""A traffic generator that drives a real control plane through the SDK.

It registers a population of users, then asks the gate for admission on their behalf at a
target mean rate that follows the daily rhythm of simulated time, "calls" the provider the gate
chose (a simulated one: no waiting, the drawn latency is reported), reports the usage, and now
and then opens a support ticket for a user who was denied.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import httpx

from opsconsole.sdk.client import MAX_USERS_PER_BATCH
from opsconsole.sim.population import Population, SimUser
from opsconsole.sim.providers import SimulatedProviders
from opsconsole.sim.rhythm import DailyRhythm, SimClock

log = logging.getLogger("opsconsole.sim")

# A worker more than this far behind its schedule (a slow server) drops the backlog instead
# of bursting to catch up.
MAX_LAG_S = 1.0
# Longest single wait, so a worker notices a change of rhythm or a stop() promptly.
MAX_WAIT_S = 0.5

_TICKETS: dict[str, tuple[str, str]] = {
    "daily_quota": (
        "Out of AI requests for today?",
        "The coach stopped answering and says I used all my requests. Can I get more today?",
    ),
    "weekly_budget": (
        "AI features stopped working this week",
        "Workout generation has not worked for days. I pay for this, please help.",
    ),
    "monthly_budget": (
        "AI coach disabled for the rest of the month",
        "The app says my monthly AI allowance is gone. Is that right?",
    ),
    "user_rate_limited": (
        "Too many requests error",
        "I keep getting 'slow down' when I ask the coach a few questions in a row.",
    ),
    "no_provider": (
        "AI coach is down",
        "Nothing AI-related works in the app right now. Is there an outage?",
    ),
}
_DEFAULT_TICKET = ("AI features not available", "The AI features do not work for me. Why?")


class DecisionLike(Protocol):
    """What the traffic generator reads of the SDK's ``Decision``."""

    @property
    def allow(self) -> bool: ...
    @property
    def provider(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def reason(self) -> object: ...
    @property
    def decision_id(self) -> str | None: ...
    @property
    def degraded(self) -> bool: ...


class GateClientLike(Protocol):
    """The part of ``opsconsole.sdk.GateClient`` the traffic generator uses."""

    def admit(self, user_id: str, feature: str = ...) -> DecisionLike: ...
    def report(
        self,
        decision: Any,
        *,
        input_tokens: int,
        output_tokens: int,
        latency_ms: float,
        status: Any,
        cost: float | None = ...,
    ) -> None: ...
    def register_user(
        self,
        user_id: str,
        *,
        email: str | None = ...,
        name: str | None = ...,
        tier: str | None = ...,
        country: str | None = ...,
    ) -> Any: ...
    def register_users(self, users: Iterable[Mapping[str, Any]]) -> Any: ...
    def open_ticket(self, user_id: str, subject: str, body: str, priority: Any = ...) -> Any: ...
    def flush(self) -> Any: ...


def server_clock(url: str, *, verify: bool | str = True) -> tuple[datetime, float] | None:
    """The control plane's time and clock speed-up (from `GET /healthz`), or None when it
    does not say (an older server) or cannot be reached."""
    try:
        health = httpx.get(f"{url.rstrip('/')}/healthz", timeout=5, verify=verify).json()
        return datetime.fromisoformat(health["time"]), float(health.get("clock_speedup", 1.0))
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def follow_server_clock(
    config: TrafficConfig, clock: tuple[datetime, float] | None
) -> tuple[TrafficConfig, str]:
    """The config whose simulated time is the server's, when the server runs a demo clock.

    Both clocks are then `start + real elapsed * speedup` from the same moment, so the
    simulated evening peak is the server's evening and the server's days end when the
    simulator's do. Returns the config to run and a line saying what was decided.
    """
    if clock is None:
        return config, "the server does not tell its time: the simulator keeps its own clock"
    now, speedup = clock
    if speedup == 1.0:
        note = "the server's clock runs in real time"
        if config.speedup != 1.0:
            note += (
                f"; simulated time runs {config.speedup:g}x here only (start the server with "
                f"OPSCONSOLE_CLOCK_SPEEDUP={config.speedup:g} for its days to pass as fast)"
            )
        return config, note
    followed = replace(config, start=now, speedup=speedup)
    return followed, f"following the server's clock: {speedup:g}x, now {now:%Y-%m-%d %H:%M} UTC"


# Users per registration request: half the server's limit, so that one batch (each user an
# audited upsert) stays well inside the client's timeout on a busy machine.
REGISTER_BATCH = MAX_USERS_PER_BATCH // 2


@dataclass(frozen=True)
class ScheduledOutage:
    """An outage of ``provider`` from ``start_s`` to ``start_s + length_s`` into a run."""

    provider: str
    start_s: float
    length_s: float

    @classmethod
    def parse(cls, text: str) -> ScheduledOutage:
        """``PROVIDER:START_S:LENGTH_S``, e.g. ``gemini-flash:30:60``."""
        try:
            provider, start, length = text.rsplit(":", 2)
            outage = cls(provider, float(start), float(length))
        except ValueError:
            raise ValueError(f"{text!r} is not PROVIDER:START_S:LENGTH_S") from None
        if not provider or outage.start_s < 0 or outage.length_s <= 0:
            raise ValueError(f"{text!r}: need a provider, START_S >= 0 and LENGTH_S > 0")
        return outage


@dataclass
class TrafficConfig:
    """How a run behaves.

    Attributes:
        rate: mean admits per real second over a simulated day (the rhythm scales it).
        speedup: simulated seconds per real second.
        duration: real seconds to run; None runs until stop().
        workers: threads issuing requests concurrently.
        start: simulated time at the start (default: now).
        ticket_probability: chance that a denial makes the user open a ticket (once per user).
        outages: provider outages to start during the run.
    """

    rate: float = 20.0
    speedup: float = 288.0
    duration: float | None = None
    workers: int = 4
    seed: int = 0
    start: datetime | None = None
    ticket_probability: float = 0.01
    outages: list[ScheduledOutage] = field(default_factory=list)


@dataclass(frozen=True)
class RegistrationResult:
    registered: int
    failed: int
    seconds: float


@dataclass(frozen=True)
class TrafficStats:
    """A consistent snapshot of a run's counters."""

    elapsed_s: float
    sim_time: datetime | None
    admits: int
    allowed: int
    denied: dict[str, int]
    degraded: int
    reports: dict[str, int]
    by_provider: dict[str, int]
    tickets: int
    errors: int
    spend: float

    @property
    def denials(self) -> int:
        return sum(self.denied.values())

    def line(self) -> str:
        """One line for a terminal: rates, denials by reason, outcomes, providers."""
        rate = self.admits / self.elapsed_s if self.elapsed_s > 0 else 0.0
        sim = self.sim_time.strftime("%a %H:%M") if self.sim_time else "-"
        denied = ", ".join(f"{n} {reason}" for reason, n in _top(self.denied)) or "none"
        providers = ", ".join(f"{name} {n}" for name, n in _top(self.by_provider)) or "none"
        reports = "/".join(str(self.reports.get(s, 0)) for s in ("ok", "error", "timeout"))
        return (
            f"[{self.elapsed_s:5.0f}s sim {sim}] admits {self.admits} ({rate:.1f}/s) "
            f"allowed {self.allowed} denied {self.denials} ({denied}) "
            f"reports ok/err/timeout {reports} spend ${self.spend:.4f} "
            f"tickets {self.tickets} errors {self.errors} degraded {self.degraded} "
            f"| {providers}"
        )


class TrafficGenerator:
    """Registers a population and sends its requests through a gate client.

    Args:
        client: an ``opsconsole.sdk.GateClient`` (or anything with its methods).
        population: the users to register and act for.
        providers: the simulated providers the gate's choices are "called" on.
        config: rate, speed-up, duration, workers, outages.
        rhythm: traffic by time of day (default: evening peak, night trough).
        monotonic: the real clock (tests may pass a fake one).
    """

    def __init__(
        self,
        client: GateClientLike,
        population: Population,
        providers: SimulatedProviders | None = None,
        config: TrafficConfig | None = None,
        *,
        rhythm: DailyRhythm | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.population = population
        self.providers = providers if providers is not None else SimulatedProviders()
        self.config = config if config is not None else TrafficConfig()
        if self.config.rate <= 0 or self.config.workers < 1:
            raise ValueError("rate must be positive and workers at least 1")
        self.rhythm = rhythm if rhythm is not None else DailyRhythm()
        self.clock: SimClock | None = None
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ticketed: set[str] = set()
        self._admits = 0
        self._allowed = 0
        self._denied: Counter[str] = Counter()
        self._degraded = 0
        self._reports: Counter[str] = Counter()
        self._by_provider: Counter[str] = Counter()
        self._tickets = 0
        self._errors = 0
        self._spend = 0.0

    # --- registration ---------------------------------------------------------------------

    def register(self, *, threads: int = 2) -> RegistrationResult:
        """Register every user of the population in batches (idempotent: a second run
        updates them, or leaves them as they are).

        Each batch is one transaction on the server, so one durable write stands for hundreds
        of users; two requests in flight keep the server busy while the next batch travels.
        """
        started = time.perf_counter()
        users = list(self.population)
        chunks = [users[i : i + REGISTER_BATCH] for i in range(0, len(users), REGISTER_BATCH)]
        failed = 0
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sim-register") as pool:
            for chunk, ok in zip(chunks, pool.map(self._register_batch, chunks), strict=True):
                failed += 0 if ok else len(chunk)
        seconds = time.perf_counter() - started
        registered = len(users) - failed
        log.info("registered %d users (%d failed) in %.1f s", registered, failed, seconds)
        return RegistrationResult(registered, failed, seconds)

    def _register_batch(self, users: list[SimUser]) -> bool:
        entries = [
            {"id": u.id, "email": u.email, "name": u.name, "tier": u.tier, "country": u.country}
            for u in users
        ]
        try:
            self.client.register_users(entries)
        except Exception as error:
            # One bad batch should not end the run; the summary counts its users, and the
            # first failure is logged so that a wrong URL or app key is obvious at once.
            with self._lock:
                self._errors += 1
                first = self._errors == 1
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "registering %d users from %s failed: %r",
                len(users),
                users[0].id,
                error,
            )
            return False
        return True

    # --- running --------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a background thread; see :meth:`stop`, :meth:`join` and :meth:`stats`."""
        if self._thread is not None:
            raise RuntimeError("the traffic generator runs once")
        self._thread = threading.Thread(target=self.run, name="sim-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> TrafficStats:
        """Send traffic until ``config.duration`` real seconds have passed or stop() is called."""
        config = self.config
        self.clock = SimClock(config.start, config.speedup, monotonic=self._monotonic)
        for outage in config.outages:
            self.providers.outage(outage.provider, outage.length_s, after_s=outage.start_s)
        log.info(
            "traffic: %.1f req/s mean, speed-up %g, %d workers, %s",
            config.rate,
            config.speedup,
            config.workers,
            f"{config.duration:g} s" if config.duration is not None else "until stopped",
        )
        workers = [
            threading.Thread(target=self._worker, args=(i,), name=f"sim-worker-{i}", daemon=True)
            for i in range(config.workers)
        ]
        for worker in workers:
            worker.start()
        try:
            while not self._stop.is_set():
                remaining = self._remaining_s()
                if remaining is not None and remaining <= 0:
                    break
                self._stop.wait(MAX_WAIT_S if remaining is None else min(MAX_WAIT_S, remaining))
        finally:
            self._stop.set()
            for worker in workers:
                worker.join()
            try:
                self.client.flush()
            except Exception as error:
                log.warning("flushing the last usage reports failed: %s", error)
        return self.stats()

    def stats(self) -> TrafficStats:
        with self._lock:
            return TrafficStats(
                elapsed_s=self.clock.elapsed() if self.clock else 0.0,
                sim_time=self.clock.now() if self.clock else None,
                admits=self._admits,
                allowed=self._allowed,
                denied=dict(self._denied),
                degraded=self._degraded,
                reports=dict(self._reports),
                by_provider=dict(self._by_provider),
                tickets=self._tickets,
                errors=self._errors,
                spend=self._spend,
            )

    def _remaining_s(self) -> float | None:
        if self.config.duration is None or self.clock is None:
            return None
        return self.config.duration - self.clock.elapsed()

    def _worker(self, index: int) -> None:
        # One generator per worker: random.Random is not safe to share between threads.
        rng = random.Random(self.config.seed * 7919 + index + 1)
        clock = self.clock
        assert clock is not None
        next_at = self._monotonic()
        while not self._stop.is_set():
            # Each worker carries its share of the rate; arrivals are Poisson at that rate.
            rate = self.config.rate * self.rhythm.factor(clock.now()) / self.config.workers
            gap = rng.expovariate(rate)
            if gap > MAX_WAIT_S:
                # No arrival in the next MAX_WAIT_S: wait that long and draw again, which is
                # the same Poisson process (it is memoryless) but follows the rhythm closely.
                next_at += MAX_WAIT_S
                if not self._sleep_until(next_at):
                    break
                continue
            next_at = max(next_at + gap, self._monotonic() - MAX_LAG_S)
            if not self._sleep_until(next_at):
                break
            remaining = self._remaining_s()
            if remaining is not None and remaining <= 0:
                break
            self._one_request(rng)

    def _sleep_until(self, at: float) -> bool:
        """Wait until monotonic time ``at``; False when stop() was called meanwhile."""
        delay = at - self._monotonic()
        if delay > 0:
            return not self._stop.wait(delay)
        return not self._stop.is_set()

    def _one_request(self, rng: random.Random) -> None:
        user = self.population.pick(rng)
        feature = user.pick_feature(rng)
        try:
            decision = self.client.admit(user.id, feature)
        except Exception as error:
            self._count_error("admit", error)
            return
        with self._lock:
            self._admits += 1
            if decision.degraded:
                self._degraded += 1
            if decision.allow:
                self._allowed += 1
            else:
                self._denied[_reason(decision.reason)] += 1
        if decision.allow:
            self._call_and_report(decision, feature, rng)
        elif rng.random() < self.config.ticket_probability:
            self._open_ticket(user, _reason(decision.reason))

    def _call_and_report(self, decision: DecisionLike, feature: str, rng: random.Random) -> None:
        if decision.decision_id is None or decision.provider is None:
            # A fail-open decision made without the server: there is nothing to report against.
            return
        outcome = self.providers.call(decision.provider, feature, rng, model=decision.model)
        try:
            self.client.report(
                decision,
                input_tokens=outcome.input_tokens,
                output_tokens=outcome.output_tokens,
                latency_ms=outcome.latency_ms,
                status=outcome.status,
                # Successful calls: the server prices them from its own table. Failed ones
                # were not billed by the provider, whatever tokens were sent.
                cost=None if outcome.status == "ok" else 0.0,
            )
        except Exception as error:
            self._count_error("report", error)
            return
        with self._lock:
            self._reports[outcome.status] += 1
            self._by_provider[decision.provider] += 1
            self._spend += outcome.cost

    def _open_ticket(self, user: SimUser, reason: str) -> None:
        with self._lock:
            if user.id in self._ticketed:
                return
            self._ticketed.add(user.id)
        subject, body = _TICKETS.get(reason, _DEFAULT_TICKET)
        priority = "normal" if user.tier == "free" else "high"
        try:
            self.client.open_ticket(user.id, subject, body, priority=priority)
        except Exception as error:
            self._count_error("ticket", error)
            return
        with self._lock:
            self._tickets += 1

    def _count_error(self, what: str, error: Exception) -> None:
        log.debug("%s failed: %r", what, error)
        with self._lock:
            self._errors += 1


def _reason(reason: object) -> str:
    # The SDK's reason is a DenyReason (a str enum) or, from older servers, a plain string.
    return str(getattr(reason, "value", reason))


def _top(counts: dict[str, int], n: int = 4) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
