"""`opsconsole bench gate`: the gate's decision time, admits and reports over HTTP, and how
fast a switch reaches the next decision, in one process and across two Redis replicas.

The server runs in its own process (as `opsconsole serve`), so the load generator and the
server do not share an interpreter; both share this machine's cores, which the figures state.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, text

from opsconsole.bench import loadgen, server
from opsconsole.bench.stats import percentile
from opsconsole.bench.users import fill
from opsconsole.server import migrate
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth.service import create_app_key, create_operator
from opsconsole.server.db import Database
from opsconsole.server.gate.counters import MemoryCounters
from opsconsole.server.gate.engine import Gate, GateConfig
from opsconsole.server.gate.factory import settle_heap
from opsconsole.server.gate.state import (
    DEFAULT_PROVIDERS,
    DEFAULT_TIERS,
    ProviderRuntime,
    TierPolicy,
    UserEntry,
)
from opsconsole.server.users.models import User
from opsconsole.wire.common import Role

Out = Callable[[str], None]
PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway bench operator
# Limits lifted for the HTTP benches, so every admit walks the whole ladder to an allow.
LIFTED = {
    "OPSCONSOLE_GATE_GLOBAL_RPM": "1000000000",
    "OPSCONSOLE_GATE_DAY_CAP": "1000000000",
    "OPSCONSOLE_GATE_WEEK_CAP": "1000000000",
    "OPSCONSOLE_GATE_PEAK_HOURS": "[]",
}


# The bench's own keys, cleared before each run, so a real deployment's are never touched.
BENCH_REDIS_PREFIX = "opsconsole-bench:"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def latency_line(label: str, results: loadgen.Results) -> str:
    lat = results.latencies
    return (
        f"{label:<40} {results.rate:9,.0f}/s   p50 {ms(percentile(lat, 0.5)):>9}   "
        f"p99 {ms(percentile(lat, 0.99)):>9}   statuses {dict(sorted(results.statuses.items()))}"
    )


# --- in process ----------------------------------------------------------------------------


def in_process(users: int, decisions: int, out: Out) -> None:
    rng = random.Random(7)
    gate = Gate(counters=MemoryCounters(), config=GateConfig(global_rpm=None))
    for name, tier in DEFAULT_TIERS.items():
        gate.tiers[name] = TierPolicy(name=name, **{**tier, "providers": tuple(tier["providers"])})
    for name, (model, price_in, price_out) in DEFAULT_PROVIDERS.items():
        gate.providers[name] = ProviderRuntime(name, model, price_in, price_out, True)
    tiers = ["free"] * 66 + ["premium"] * 31 + ["unlimited"] * 3
    population = [
        UserEntry(pk=i, id=f"user-{i}", tier=rng.choice(tiers), status="active")
        for i in range(users)
    ]
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    samples: list[float] = []
    allowed = 0
    settle_heap()  # as `opsconsole serve` does once the gate is loaded
    for index in range(decisions):
        user = population[rng.randrange(users)]
        moment = now + timedelta(milliseconds=index)
        started = time.perf_counter()
        decision = gate.decide(user, user_id=user.id, feature="chat", dry_run=False, now=moment)
        samples.append(time.perf_counter() - started)
        allowed += decision.response.allow
    us = sorted(s * 1e6 for s in samples)
    out(
        f"in-process decision, {users:,} users     median {percentile(us, 0.5):6.1f} us   "
        f"p99 {percentile(us, 0.99):6.1f} us   ({allowed / decisions:.0%} allowed, "
        f"{decisions:,} decisions)"
    )


# --- a server in its own process -----------------------------------------------------------


@contextmanager
def server_process(db_url: str, data_dir: Path, *, redis: str | None = None) -> Iterator[str]:
    """`opsconsole serve` with the limits lifted (and sharing Redis when given); yields its URL."""
    env = dict(LIFTED)
    if redis:
        env["OPSCONSOLE_REDIS"] = redis
        env["OPSCONSOLE_REDIS_PREFIX"] = BENCH_REDIS_PREFIX
    with server.server_process(db_url, data_dir, env=env) as running:
        yield running.url


def prepare(db: Database, users: int, out: Out) -> tuple[list[str], str]:
    """Users (limits lifted), an app key and an operator; returns (user ids, app key)."""
    migrate.upgrade(db.engine)
    fill(db, users, random.Random(11), out)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE users SET status = 'active'"))
        connection.execute(
            text(
                "UPDATE tiers SET daily_requests = -1, weekly_budget = 1e9, "
                "monthly_budget = 1e9, rate_per_minute = 1000000"
            )
        )
    now = datetime.now(UTC)
    with db.writing() as session:
        _, key = create_app_key(session=session, name="bench", actor=SYSTEM, now=now)
        create_operator(
            session=session,
            username="bench-oncall",
            role=Role.ONCALL,
            password=PASSWORD,
            actor=SYSTEM,
            now=now,
        )
    with db.reading() as session:
        ids = list(session.scalars(select(User.id)))
    return ids, key


def admit_maker(url: str, key: str, ids: list[str], seed: int = 3) -> Callable[[int], bytes]:
    rng = random.Random(seed)
    bodies = [
        loadgen.post_request(url, "/v1/gate/admit", key, {"user_id": rng.choice(ids)})
        for _ in range(4096)
    ]
    return lambda index: bodies[index % len(bodies)]


def operator_client(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    login = client.post("/v1/auth/login", json={"username": "bench-oncall", "password": PASSWORD})
    login.raise_for_status()
    client.headers["Authorization"] = f"Bearer {login.json()['token']}"
    client.post("/v1/auth/step-up", json={"password": PASSWORD}).raise_for_status()
    return client


async def _propagation(
    operator: httpx.Client, admit_url: str, request: bytes, rounds: int
) -> list[float]:
    """Seconds from `PUT pause_all` returning to the first admit denied with paused_all."""
    conn = await loadgen.Connection.open(admit_url)
    samples = []
    for round_ in range(rounds):
        body = {"value": True, "reason": f"bench round {round_}"}
        await asyncio.to_thread(operator.put, "/v1/controls/pause_all", json=body)
        returned = time.perf_counter()
        while True:
            _, answer = await conn.post(request)
            if json.loads(answer)["reason"] == "paused_all":
                samples.append(time.perf_counter() - returned)
                break
            if time.perf_counter() - returned > 10:
                raise RuntimeError("the switch did not reach the gate within 10 s")
        off = {"value": None, "reason": f"bench round {round_} over"}
        await asyncio.to_thread(operator.put, "/v1/controls/pause_all", json=off)
        await asyncio.sleep(0.7)  # let every replica see it off before the next round
    conn.close()
    return samples


def http(users: int, admits: int, out: Out, redis: str | None, pg: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'gate.db'}"
        db = Database(db_url)
        ids, key = prepare(db, users, out)
        db.dispose()
        with server_process(db_url, Path(tmp)) as url:
            make = admit_maker(url, key, ids)
            loadgen.run(loadgen.closed_loop(url, make, connections=64, total=3000))  # warm up
            result = loadgen.run(loadgen.closed_loop(url, make, connections=64, total=admits))
            out(latency_line("admits over HTTP, 64 clients flat out", result))
            # 64 clients with no pause between requests keep 64 in flight: by Little's law
            # their latency is 64 / throughput (21 ms at 3,000/s) whatever the server does,
            # so the latency target is measured at a set rate over 64 connections.
            for rate in (3000, 2000, 1000):
                paced = loadgen.run(
                    loadgen.open_loop(url, make, rate=rate, seconds=10, connections=64)
                )
                out(latency_line(f"admits over HTTP, 64 clients at {rate:,}/s", paced))
            _reports(url, key, make, out)
            operator = operator_client(url)
            try:
                samples = loadgen.run(_propagation(operator, url, make(0), rounds=10))
            finally:
                operator.close()
            out(
                f"switch propagation, same process         median {ms(percentile(samples, 0.5))}"
                f"   max {ms(max(samples))}   (PUT returned -> first paused_all)"
            )
        if redis and pg:
            with _scratch_postgres(pg) as pg_url:
                pg_db = Database(pg_url)
                pg_ids, pg_key = prepare(pg_db, min(users, 10_000), lambda _: None)
                pg_db.dispose()
                _two_replicas(
                    tmp=Path(tmp), db_url=pg_url, key=pg_key, ids=pg_ids, redis=redis, out=out
                )
        elif redis:
            out("switch propagation, 2 replicas: skipped (give --postgres: replicas share one)")


def _reports(url: str, key: str, make: Callable[[int], bytes], out: Out) -> None:
    admitted = loadgen.run(
        loadgen.closed_loop(url, make, connections=16, total=50_000, keep_bodies=True)
    )
    decisions = [json.loads(body) for body in admitted.bodies]
    reports = [
        {
            "decision_id": d["decision_id"],
            "provider": d["provider"],
            "model": d["model"],
            "input_tokens": 800,
            "output_tokens": 300,
            "latency_ms": 900.0,
            "status": "ok",
        }
        for d in decisions
        if d.get("decision_id")
    ]
    batches = [
        loadgen.post_request(url, "/v1/gate/report", key, {"reports": reports[i : i + 100]})
        for i in range(0, len(reports), 100)
    ]
    result = loadgen.run(
        loadgen.closed_loop(url, lambda i: batches[i], connections=8, total=len(batches))
    )
    out(
        f"reports ingested, batches of 100, durable {len(reports) / result.elapsed:9,.0f} events/s"
        f"   batch p50 {ms(percentile(result.latencies, 0.5))}   "
        f"p99 {ms(percentile(result.latencies, 0.99))}   statuses {result.statuses}"
    )


@contextmanager
def _scratch_postgres(server_url: str) -> Iterator[str]:
    """A new database on the PostgreSQL server at ``server_url``, dropped afterwards."""
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    name = f"opsconsole_bench_{os.getpid()}_{random.randrange(1 << 30):x}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _two_replicas(
    *, tmp: Path, db_url: str, key: str, ids: list[str], redis: str, out: Out
) -> None:
    import redis as redis_client  # noqa: PLC0415 - the optional `redis` extra

    client = redis_client.Redis.from_url(redis)
    for stale in client.scan_iter(match=f"{BENCH_REDIS_PREFIX}*"):
        client.delete(stale)
    with (
        server_process(db_url, tmp / "a", redis=redis) as first,
        server_process(db_url, tmp / "b", redis=redis) as second,
    ):
        operator = operator_client(first)
        request = admit_maker(second, key, ids)(0)
        try:
            samples = loadgen.run(_propagation(operator, second, request, rounds=10))
        finally:
            operator.close()
        for stale in client.scan_iter(match=f"{BENCH_REDIS_PREFIX}*"):
            client.delete(stale)
        out(
            f"switch propagation, 2 replicas, PostgreSQL + Redis   median "
            f"{ms(percentile(samples, 0.5))}   max {ms(max(samples))}   "
            f"(PUT on one -> first paused_all on the other, {len(samples)} rounds)"
        )


def run(
    *,
    users: int,
    decisions: int,
    admits: int,
    redis: str | None,
    postgres: str | None,
    out: Out,
) -> None:
    out(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.1f} at the start (other work on the machine "
        "shifts every figure)"
    )
    in_process(users, decisions, out)
    http(users, admits, out, redis, postgres)
