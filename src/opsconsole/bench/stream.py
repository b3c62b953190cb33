"""`opsconsole bench stream`: with usage reports flowing through the HTTP API, how long until
a report shows in the live stream's snapshot, on every one of many connected consoles, and
what the stream costs the server in CPU (the same load with and without consoles).

The server runs in its own process (as `opsconsole serve`); its CPU time is read from
/proc/<pid>/stat. The load generator and the consoles share one asyncio loop in this process,
and both processes share this machine's cores, which the figures state.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from opsconsole.bench import loadgen
from opsconsole.bench.gate import LIFTED, PASSWORD, Out, admit_maker, prepare
from opsconsole.bench.server import server_process
from opsconsole.bench.stats import percentile
from opsconsole.server.db import Database

BATCH = 10  # reports per request, as the SDK batches them


@dataclass
class Snapshot:
    received: float  # wall-clock seconds at the console
    start: float  # the interval it covers, server clock (the same wall clock here)
    end: float
    published: float  # when the hub numbered it (the message's `at`)


@dataclass
class Phase:
    consoles: int
    seconds: float
    cpu_s: float  # server CPU time spent during the load
    acks: list[tuple[float, float]] = field(default_factory=list)  # (sent, acknowledged)
    statuses: dict[int, int] = field(default_factory=dict)
    snapshots: list[list[Snapshot]] = field(default_factory=list)  # per console

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report_batches(url: str, key: str, decisions: list[bytes]) -> list[bytes]:
    reports = []
    for body in decisions:
        decision = json.loads(body)
        if decision.get("decision_id"):
            reports.append(
                {
                    "decision_id": decision["decision_id"],
                    "provider": decision["provider"],
                    "model": decision["model"],
                    "input_tokens": 800,
                    "output_tokens": 300,
                    "latency_ms": 900.0,
                    "status": "ok",
                }
            )
    return [
        loadgen.post_request(url, "/v1/gate/report", key, {"reports": reports[i : i + BATCH]})
        for i in range(0, len(reports) - BATCH + 1, BATCH)
    ]


async def _paced(url: str, requests: list[bytes], rate: float, phase: Phase) -> None:
    """Requests started at ``rate`` per second; each one's wall-clock send and ack times."""
    pool: asyncio.Queue[loadgen.Connection] = asyncio.Queue()
    for _ in range(16):
        pool.put_nowait(await loadgen.Connection.open(url))

    async def one(request: bytes) -> None:
        conn = await pool.get()
        sent = time.time()
        status, _ = await conn.post(request)
        phase.acks.append((sent, time.time()))
        phase.statuses[status] = phase.statuses.get(status, 0) + 1
        pool.put_nowait(conn)

    started = time.perf_counter()
    tasks = []
    for index, request in enumerate(requests):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()


async def _watch(ws: ClientConnection, into: list[Snapshot]) -> None:
    async for raw in ws:
        received = time.time()
        if '"type":"snapshot"' not in raw[:80]:
            continue
        message = json.loads(raw)
        data = message["data"]
        start = datetime.fromisoformat(data["at"]).timestamp()
        published = datetime.fromisoformat(message["at"]).timestamp()
        into.append(Snapshot(received, start, start + data["interval_s"], published))


async def measure(
    url: str, pid: int, token: str, *, consoles: int, batches: list[bytes], rate: float
) -> Phase:
    stream = url.replace("http://", "ws://", 1) + "/v1/stream"
    headers = {"Authorization": f"Bearer {token}"}
    sockets = [await connect(stream, additional_headers=headers) for _ in range(consoles)]
    phase = Phase(consoles=consoles, seconds=len(batches) / rate, cpu_s=0.0)
    phase.snapshots = [[] for _ in sockets]
    watchers = [
        asyncio.create_task(_watch(ws, s)) for ws, s in zip(sockets, phase.snapshots, strict=True)
    ]
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    await _paced(url, batches, rate, phase)
    phase.seconds = time.perf_counter() - started
    phase.cpu_s = cpu_seconds(pid) - cpu_before
    if consoles:
        # Until every console has the snapshot of the last report's second.
        last = math.floor(max(ack for _, ack in phase.acks))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            not s or s[-1].end <= last for s in phase.snapshots
        ):
            await asyncio.sleep(0.05)
    for task in watchers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    return phase


def lags(phase: Phase) -> tuple[list[float], list[float], list[float], int]:
    """Per (report batch, console): seconds from its ack to the console receiving the
    snapshot that covers the second the server got it in; per snapshot and console: from its
    interval's end, and from the hub publishing it, to receipt; and how many batches
    straddled a second (counted in the later one, so the lag is never understated)."""
    from_ack: list[float] = []
    straddled = sum(1 for sent, ack in phase.acks if math.floor(sent) != math.floor(ack))
    for snapshots in phase.snapshots:
        for _, ack in phase.acks:
            second = math.floor(ack)
            for snap in snapshots:
                if snap.start <= second < snap.end:
                    from_ack.append(snap.received - ack)
                    break
    every = [snap for snapshots in phase.snapshots for snap in snapshots]
    closed = [snap.received - snap.end for snap in every]
    delivery = [snap.received - snap.published for snap in every]
    return from_ack, closed, delivery, straddled


def ms(samples: list[float], fraction: float) -> str:
    return f"{percentile(samples, fraction) * 1000:7.1f} ms" if samples else "    n/a"


def report(phase: Phase, baseline: Phase, out: Out) -> None:
    from_ack, closed, delivery, straddled = lags(phase)
    expected = len(phase.acks) * phase.consoles
    out(
        f"  {phase.consoles} consoles: report ack -> snapshot at the console   "
        f"p50 {ms(from_ack, 0.5)}   p99 {ms(from_ack, 0.99)}   "
        f"({len(from_ack):,} of {expected:,} found; {straddled} batches straddled a second)"
    )
    out(
        f"  {phase.consoles} consoles: snapshot interval end -> console        "
        f"p50 {ms(closed, 0.5)}   p99 {ms(closed, 0.99)}   max {ms(closed, 1.0)}"
    )
    out(
        f"  {phase.consoles} consoles: published by the hub -> console         "
        f"p50 {ms(delivery, 0.5)}   p99 {ms(delivery, 0.99)}   max {ms(delivery, 1.0)}"
    )
    extra = phase.cpu_share - baseline.cpu_share
    out(
        f"  server CPU: {baseline.cpu_share:6.1%} of a core with 0 consoles, "
        f"{phase.cpu_share:6.1%} with {phase.consoles}: the stream's share "
        f"{extra / phase.cpu_share if phase.cpu_share else 0:6.1%} ({extra:+.1%} of a core)"
    )


def login(url: str) -> str:
    response = httpx.post(
        f"{url}/v1/auth/login", json={"username": "bench-oncall", "password": PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["token"])


def run(*, consoles: int, rate: int, seconds: float, users: int, repeat: int, out: Out) -> None:
    out(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    batches_per_s = rate / BATCH
    per_phase = int(batches_per_s * seconds)
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'stream.db'}"
        db = Database(db_url)
        ids, key = prepare(db, users, out)
        db.dispose()
        with server_process(db_url, Path(tmp), env=LIFTED) as running:
            url, pid = running.url, running.pid
            needed = per_phase * BATCH * 2 * repeat + BATCH
            admitted = loadgen.run(
                loadgen.closed_loop(
                    url, admit_maker(url, key, ids), connections=16, total=needed, keep_bodies=True
                )
            )
            out(f"admitted {len(admitted.bodies):,} decisions at {admitted.rate:,.0f}/s to report")
            batches = report_batches(url, key, admitted.bodies)
            token = login(url)
            out(
                f"{rate:,} reports/s in batches of {BATCH} over HTTP for {seconds:.0f} s, "
                f"without and with {consoles} consoles on the stream:"
            )
            for round_ in range(repeat):
                chunk = batches[round_ * 2 * per_phase : (round_ + 1) * 2 * per_phase]
                baseline = loadgen.run(
                    measure(
                        url, pid, token, consoles=0, batches=chunk[:per_phase], rate=batches_per_s
                    )
                )
                loaded = loadgen.run(
                    measure(
                        url,
                        pid,
                        token,
                        consoles=consoles,
                        batches=chunk[per_phase:],
                        rate=batches_per_s,
                    )
                )
                statuses = {**baseline.statuses}
                for status, count in loaded.statuses.items():
                    statuses[status] = statuses.get(status, 0) + count
                out(f" round {round_ + 1}: report statuses {dict(sorted(statuses.items()))}")
                report(loaded, baseline, out)
