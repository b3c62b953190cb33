"""The traffic generator against a real control plane, through the real SDK.

Runs end when what the test waits for has happened (or a deadline passes), so the tests do not
depend on how fast the machine is; each takes a few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import func, select

from opsconsole.sdk import GateClient
from opsconsole.server.gate.models import UsageEvent
from opsconsole.server.tickets.models import Ticket
from opsconsole.sim.population import make_population
from opsconsole.sim.providers import SimulatedProviders
from opsconsole.sim.traffic import ScheduledOutage, TrafficConfig, TrafficGenerator, TrafficStats
from opsconsole.wire.common import Role
from opsconsole.wire.gate import DenyReason
from tests.live import LiveServer

EVENING = datetime(2025, 3, 4, 19, 0)  # the peak: the rhythm gives the full rate
DEADLINE_S = 12.0


@pytest.fixture
def client(server: LiveServer) -> Iterator[GateClient]:
    # A generous timeout: a slow CI machine must not turn decisions into fail-open ones.
    gate = GateClient(server.url, server.app_key(), timeout=10, flush_interval=0.1)
    yield gate
    gate.close()


def run_until(generator: TrafficGenerator, done: Callable[[TrafficStats], bool]) -> TrafficStats:
    generator.start()
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline and not done(generator.stats()):
            time.sleep(0.05)
    finally:
        generator.stop()
        assert generator.join(timeout=15)
    return generator.stats()


def count(server: LiveServer, table: type[UsageEvent] | type[Ticket]) -> int:
    with server.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_short_run_admits_denies_reports_and_opens_tickets(
    server: LiveServer, client: GateClient
) -> None:
    population = make_population(300, seed=4)
    config = TrafficConfig(rate=200, workers=6, seed=4, start=EVENING, ticket_probability=0.2)
    generator = TrafficGenerator(client, population, SimulatedProviders(), config)
    registered = generator.register()
    assert (registered.registered, registered.failed) == (300, 0)

    stats = run_until(generator, lambda s: s.admits >= 400 and s.denials >= 20 and s.tickets >= 1)

    assert stats.admits >= 400 and stats.errors == 0 and stats.degraded == 0
    assert stats.allowed + stats.denials == stats.admits
    # The heavy users run into their tier's limits; every reason is one the gate defines.
    assert stats.denials >= 20 and stats.tickets >= 1
    assert set(stats.denied) <= {reason.value for reason in DenyReason}
    assert set(stats.denied) & {"daily_quota", "user_rate_limited"}
    # Every report the run made is a durable usage row (run() flushed the SDK's queue).
    server.gate_flush()
    assert count(server, UsageEvent) == sum(stats.reports.values()) == stats.allowed
    assert count(server, Ticket) == stats.tickets
    with server.db.reading() as session:
        features = set(session.scalars(select(UsageEvent.feature).distinct()))
        costs = session.scalar(select(func.sum(UsageEvent.cost)))
    assert features == {"workoutGeneration", "aiCoach", "progressTracking"}
    assert costs == pytest.approx(stats.spend, rel=1e-6)
    assert "admits" in stats.line() and "denied" in stats.line()


def test_an_outage_opens_the_breaker_and_traffic_moves_on(
    server: LiveServer, client: GateClient
) -> None:
    # Premium users: gemini-flash first, then gpt-4o-mini.
    population = make_population(200, seed=5, tier_mix={"premium": 1.0})
    providers = SimulatedProviders()
    config = TrafficConfig(
        rate=150,
        workers=4,
        seed=5,
        start=EVENING,
        ticket_probability=0.0,
        outages=[ScheduledOutage("gemini-flash", 0, 3600)],
    )
    generator = TrafficGenerator(client, population, providers, config)
    assert generator.register().failed == 0

    stats = run_until(generator, lambda s: s.by_provider.get("gpt-4o-mini", 0) >= 50)

    assert stats.by_provider.get("gpt-4o-mini", 0) >= 50
    # The breaker opened after a window of failures, not after hundreds of them.
    assert stats.by_provider["gemini-flash"] < 100
    admin = server.operator("root", Role.ADMIN)
    breakers = {p["name"]: p["breaker"] for p in admin.get("/v1/providers").json()}
    assert breakers["gemini-flash"]["state"] == "open"
    assert breakers["gpt-4o-mini"]["state"] == "closed"
    assert stats.reports.get("error", 0) + stats.reports.get("timeout", 0) >= 10
