"""Builds the gate a process runs from its settings: counters in memory or in Redis."""

from __future__ import annotations

import gc
import logging

from opsconsole.server.clock import Clock
from opsconsole.server.db import Database
from opsconsole.server.gate.broadcast import RedisBroadcast
from opsconsole.server.gate.counters import CounterStore, MemoryCounters
from opsconsole.server.gate.engine import Gate, GateConfig
from opsconsole.server.gate.routing import RoutingPolicy
from opsconsole.server.gate.service import GateRuntime
from opsconsole.server.settings import Settings

log = logging.getLogger("opsconsole.gate")


def build_gate(settings: Settings, db: Database, clock: Clock) -> GateRuntime:
    counters: CounterStore
    bus = None
    if settings.redis:
        try:
            import redis  # noqa: PLC0415 - the optional `redis` extra
        except ImportError as error:  # the `redis` extra is optional
            raise SystemExit(
                "--redis needs the redis client: pip install 'opsconsole[redis]'"
            ) from error
        from opsconsole.server.gate.redis_counters import RedisCounters  # noqa: PLC0415

        client = redis.Redis.from_url(settings.redis)
        counters = RedisCounters(client, prefix=settings.redis_prefix)
        bus = RedisBroadcast(client, settings.redis_prefix)
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
        bus=bus,
    )
    runtime.load()
    return runtime


# Young collections every this many net allocations (CPython's default: 700); the middle and
# full collections then come 50 and 50 * 100 times more rarely.
GC_THRESHOLDS = (5_000, 50, 100)


def settle_heap() -> None:
    """Keep full garbage collections off the gate's hot path; call once a server is built.

    A full collection walks every tracked object: with the modules, the app and a loaded gate
    that took 100-200 ms on this machine's 2 cores (`opsconsole bench gate` counted 9 of them in
    one run), and each stalled every request in flight: the p99 tail. What exists at startup is
    moved out of the collector's sight (`gc.freeze`, it is freed by reference counting as
    usual), and the thresholds make full collections of what remains rare.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
