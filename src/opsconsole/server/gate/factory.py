"""Builds the gate a process runs from its settings: counters in memory or in Redis."""

from __future__ import annotations

import logging

from opsconsole.server.clock import Clock
from opsconsole.server.db import Database
from opsconsole.server.gate.counters import CounterStore, MemoryCounters
from opsconsole.server.gate.engine import Gate, GateConfig
from opsconsole.server.gate.routing import RoutingPolicy
from opsconsole.server.gate.service import GateRuntime
from opsconsole.server.settings import Settings

log = logging.getLogger("opsconsole.gate")


def build_gate(settings: Settings, db: Database, clock: Clock) -> GateRuntime:
    counters: CounterStore
    if settings.redis:
        try:
            import redis  # noqa: PLC0415 - the optional `redis` extra
        except ImportError as error:  # the `redis` extra is optional
            raise SystemExit(
                "--redis needs the redis client: pip install 'opsconsole[redis]'"
            ) from error
        from opsconsole.server.gate.redis_counters import RedisCounters  # noqa: PLC0415

        counters = RedisCounters(redis.Redis.from_url(settings.redis), prefix=settings.redis_prefix)
        log.info("gate counters in Redis at %s", settings.redis.split("@")[-1])
    else:
        counters = MemoryCounters()
    config = GateConfig(
        global_rpm=settings.gate_global_rpm,
        global_day_cap=settings.gate_day_cap,
        global_week_cap=settings.gate_week_cap,
        routing=RoutingPolicy(
            peak_hours=frozenset(settings.gate_peak_hours),
            high_load_rpm=settings.gate_high_load_rpm,
        ),
    )
    runtime = GateRuntime(
        db=db,
        gate=Gate(counters=counters, config=config),
        clock=clock.now,
        auto_register=settings.gate_auto_register,
    )
    runtime.load()
    return runtime
