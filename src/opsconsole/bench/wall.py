"""`opsconsole bench wall`: the wall display fed a simulated day of snapshots, offscreen.

A real connection (opened offline on an empty cache, so nothing else runs) carries one
`MetricsSnapshot` per simulated second on its ``snapshot_received`` signal, as the stream does;
a firing alert arrives every ten simulated minutes and resolves twenty minutes later, and the
pages rotate every fifteen minutes. Reported: resident memory (RSS, current, not peak) after
the first simulated hour and at the end of the day, and the time the wall takes per update
(the signal's handlers, synchronous) and per page paint.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from opsconsole.bench.stats import percentile
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection
from opsconsole.console.profiles import Profile
from opsconsole.console.qt import QApplication, QEventLoop
from opsconsole.console.wall import WallWindow
from opsconsole.wire.alerts import Alert, AlertState, RuleKind, Severity
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Counts, Health, Latency, MetricsSnapshot, ProviderHealth

PROVIDERS = ("fallback", "gemini-flash", "gemini-pro", "gpt-4o", "gpt-4o-mini", "perplexity")
PAGE_EVERY = 900  # simulated seconds per page
ALERT_EVERY = 600
ALERT_LASTS = 1200
EVENTS_EVERY = 50  # let Qt run its timers this often (the real loop runs them between updates)


def rss_mb() -> float:
    """Resident memory now (Linux: /proc/self/statm; elsewhere the peak, as a bound)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def snapshot(at: datetime, i: int, rng: np.random.Generator) -> MetricsSnapshot:
    day = 1.0 + 0.5 * np.sin(2 * np.pi * (i % 86_400) / 86_400)
    requests = int(rng.poisson(40 * day))
    admits = max(0, requests - int(rng.poisson(2)))
    per = {
        name: Counts(requests=requests // 6, admits=admits // 6, reports=admits // 6)
        for name in PROVIDERS
    }
    health = (
        [
            ProviderHealth(
                name=name,
                status=Health.DEGRADED if (i // 3600 + k) % 7 == 0 else Health.HEALTHY,
                breaker=BreakerState.CLOSED,
                success_rate=0.99,
                p95_ms=2000.0 + 100 * k,
                share=1 / len(PROVIDERS),
            )
            for k, name in enumerate(PROVIDERS)
        ]
        if i % 10 == 0
        else []
    )
    return MetricsSnapshot(
        at=at,
        interval_s=1.0,
        total=Counts(
            requests=requests,
            admits=admits,
            denials={"daily_quota": requests - admits},
            reports=admits,
            errors=int(rng.poisson(0.3)),
            cost=0.002 * admits * day,
            latency_ms=Latency(p50=800, p95=float(2400 * day), p99=5000),
        ),
        providers=per,
        active_users_5m=int(300 * day),
        active_users_today=1000 + i // 60,
        health=health,
    )


def alert(alert_id: int, at: datetime, state: AlertState) -> Alert:
    return Alert(
        id=alert_id,
        rule="heavy_user" if alert_id % 2 else "error_rate",
        kind=RuleKind.HEAVY_USER if alert_id % 2 else RuleKind.ERROR_RATE,
        severity=Severity.WARNING,
        subject=f"user-{alert_id}" if alert_id % 2 else "gpt-4o",
        state=state,
        summary="bench alert",
        pending_since=at,
        firing_since=at,
        resolved_at=at if state is AlertState.RESOLVED else None,
    )


@dataclass
class Figures:
    # ms per snapshot; preallocated so that the measurement does not grow the RSS it measures
    updates: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    paints: list[float] = field(default_factory=list)  # ms per page paint
    marks: list[tuple[str, float]] = field(default_factory=list)  # (when, RSS MB)
    elapsed_s: float = 0.0


def run(*, snapshots: int, screenshot: Path | None, out: Callable[[str], None]) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-wall-") as tmp:
        cache = Cache(Path(tmp) / "bench.sqlite")
        connection = Connection(
            Profile(name="bench", url="https://127.0.0.1:9"), cache=cache, offline=True
        )
        wall = WallWindow(connection, page_s=3600.0)  # the bench turns the pages itself
        wall.resize(1920, 1080)
        wall.show()
        QApplication.processEvents()
        figures = feed(wall, connection, snapshots)
        if screenshot is not None:
            wall.show_page(0)
            QApplication.processEvents()
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            wall.grab().save(str(screenshot))
        wall.close()
        loop.run_until_complete(connection.close())
    loop.close()
    asyncio.set_event_loop(None)
    report(figures, snapshots, screenshot, out)


def feed(wall: WallWindow, connection: Connection, snapshots: int) -> Figures:
    """Put ``snapshots`` seconds of traffic (and alerts) through the connection's signals."""
    rng = np.random.default_rng(11)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    figures = Figures(updates=np.zeros(snapshots), marks=[("start (window shown)", rss_mb())])
    marks = {min(3600, snapshots): "1 simulated hour", snapshots // 2: "half the run"}
    began = time.perf_counter()
    for i in range(snapshots):
        at = start + timedelta(seconds=i)
        item = snapshot(at, i, rng)
        t0 = time.perf_counter()
        connection.snapshot_received.emit(item)
        figures.updates[i] = (time.perf_counter() - t0) * 1000
        if i % ALERT_EVERY == 0:
            connection.alert_received.emit(alert(i // ALERT_EVERY + 1, at, AlertState.FIRING))
        if i >= ALERT_LASTS and (i - ALERT_LASTS) % ALERT_EVERY == 0:
            resolved = (i - ALERT_LASTS) // ALERT_EVERY + 1
            connection.alert_received.emit(alert(resolved, at, AlertState.RESOLVED))
        if i % PAGE_EVERY == PAGE_EVERY - 1:
            wall.next_page()
            t0 = time.perf_counter()
            wall.repaint()
            figures.paints.append((time.perf_counter() - t0) * 1000)
        if i % EVENTS_EVERY == 0:
            QApplication.processEvents()
        if i + 1 in marks:
            gc.collect()
            figures.marks.append((f"after {i + 1:,} snapshots ({marks[i + 1]})", rss_mb()))
    figures.elapsed_s = time.perf_counter() - began
    QApplication.processEvents()
    gc.collect()
    figures.marks.append((f"after {snapshots:,} snapshots", rss_mb()))
    return figures


def report(
    figures: Figures, snapshots: int, screenshot: Path | None, out: Callable[[str], None]
) -> None:
    updates, paints, marks = [float(u) for u in figures.updates], figures.paints, figures.marks
    out(
        f"wall display, {snapshots:,} snapshots (a simulated day at 1/s) "
        f"in {figures.elapsed_s:.0f} s:"
    )
    for label, mb in marks:
        out(f"  RSS {label}: {mb:.1f} MB")
    if len(marks) >= 3:
        growth = marks[-1][1] - marks[1][1]
        out(f"  growth from hour 1 to the end: {growth:+.1f} MB")
    out(
        f"  per update (signal -> every figure updated): median {statistics.median(updates):.2f} "
        f"ms   p99 {percentile(updates, 0.99):.2f} ms   max {max(updates):.1f} ms"
    )
    if paints:
        out(
            f"  per page paint at 1920x1080: median {statistics.median(paints):.1f} ms   "
            f"max {max(paints):.1f} ms (n={len(paints)})"
        )
    if screenshot is not None:
        out(f"  screenshot: {screenshot}")
