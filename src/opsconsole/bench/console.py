"""`opsconsole bench console`: the console's frame time and cold start, offscreen.

Frame time: the main window (every pane) with 24 h of per-minute history on four chart
series; each update puts one snapshot on the connection's signal (as the stream does once a
second) and paints the window synchronously; the figure is that update + paint time.
Cold start: a fresh interpreter, from launch to the main window's first paint.

The connection is a real one opened offline on an empty cache, so nothing else is measured.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from opsconsole.bench.stats import percentile
from opsconsole.console.app import MainWindow
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection
from opsconsole.console.panes.charts import ChartsPane
from opsconsole.console.profiles import Profile
from opsconsole.console.qt import QApplication, QEvent, QEventLoop, QObject, QTimer
from opsconsole.console.settings import ConsoleSettings
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Counts, Health, Latency, MetricsSnapshot, ProviderHealth

FIRST_FRAME = "first-frame"
PROVIDERS = ("fallback", "gemini-flash", "gemini-pro", "gpt-4o", "gpt-4o-mini", "perplexity")


def run(
    *,
    updates: int,
    cold_starts: int,
    screenshot: Path | None,
    out: Callable[[str], None],
) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    frames, rss_mb, points = _frame_times(updates, screenshot)
    out(f"frame (snapshot -> every pane updated -> window painted), {points} points per series:")
    out(
        f"  n={len(frames)} median {statistics.median(frames):.1f} ms   "
        f"p99 {percentile(frames, 0.99):.1f} ms   max {max(frames):.1f} ms   "
        f"(at 1 update/s: {statistics.median(frames) / 10:.1f}% of one core)"
    )
    out(f"  resident memory after the run: {rss_mb:.0f} MB")
    if screenshot is not None:
        out(f"  screenshot: {screenshot}")
    if cold_starts:
        starts = [_cold_start() for _ in range(cold_starts)]
        out(
            f"cold start to first frame (new interpreter, offline profile): n={len(starts)} "
            f"median {statistics.median(starts):.0f} ms   max {max(starts):.0f} ms"
        )


def _window(data_dir: Path) -> tuple[Any, Any, Any]:
    """QApplication, a main window on an offline connection, and that connection."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = ConsoleSettings(config_dir=data_dir / "config", data_dir=data_dir / "data")
    profile = Profile(name="bench", url="https://127.0.0.1:9", colour="#1565c0")
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    cache = Cache(settings.cache_dir / "bench.sqlite")
    connection = Connection(profile, cache=cache, offline=True)
    window = MainWindow(connection, settings=settings)
    window.resize(1600, 1000)
    return app, window, connection


def _frame_times(updates: int, screenshot: Path | None) -> tuple[list[float], float, int]:
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-console-") as tmp:
        app, window, connection = _window(Path(tmp))
        loop = QEventLoop(app)
        asyncio.set_event_loop(loop)
        charts = window.pane("charts")
        assert isinstance(charts, ChartsPane)
        window.show()
        charts.range_combo.setCurrentText("24 h")
        loop.run_until_complete(asyncio.sleep(0.2))  # the (offline, empty) history load ends
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        points = _fill_history(charts, now)
        QApplication.processEvents()
        frames = []
        for i in range(updates):
            snapshot = _snapshot(now + timedelta(seconds=i), i)
            started = time.perf_counter()
            connection.snapshot_received.emit(snapshot)
            window.repaint()
            frames.append((time.perf_counter() - started) * 1000)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(screenshot))
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        window.close()
        loop.run_until_complete(connection.close())
        loop.close()
        asyncio.set_event_loop(None)
        return frames, rss_mb, points


def _fill_history(charts: Any, now: datetime) -> int:
    """24 h of minute points on four series: cost, requests, p95 latency, error rate."""
    minutes = 24 * 60
    xs = (now.timestamp() - 60.0 * np.arange(minutes, 0, -1)).astype(np.float64)
    day = np.sin(np.linspace(0, 2 * np.pi, minutes)) * 0.4 + 1.0
    rng = np.random.default_rng(7)
    series = {
        ("cost", "cost"): 200.0 * day + rng.normal(0, 8, minutes),
        ("traffic", "requests"): 120.0 * day + rng.normal(0, 8, minutes),
        ("latency", "p95"): 2400.0 + rng.normal(0, 200, minutes),
        ("errors", "errors + timeouts"): np.abs(rng.normal(1.0, 0.4, minutes)),
    }
    for (chart, curve), ys in series.items():
        charts.charts[chart].curve(curve).extend(xs, ys.astype(np.float64))
    charts._history_loaded = True
    charts.refresh()
    return minutes


def _snapshot(at: datetime, i: int) -> MetricsSnapshot:
    wobble = 1.0 + 0.1 * np.sin(i / 7)
    per = {
        name: Counts(requests=20, admits=18, reports=18, cost=0.01 * wobble) for name in PROVIDERS
    }
    return MetricsSnapshot(
        at=at,
        interval_s=1.0,
        total=Counts(
            requests=int(120 * wobble),
            admits=108,
            denials={"daily_quota": 8, "user_rate_limited": 4},
            reports=108,
            errors=1,
            cost=0.06 * wobble,
            latency_ms=Latency(p50=800, p95=2400 * wobble, p99=5000),
        ),
        providers=per,
        tiers={"free": Counts(requests=60), "premium": Counts(requests=60)},
        gate_us=Latency(p50=150, p95=300, p99=700),
        active_users_5m=300 + i % 20,
        active_users_today=4000 + i,
        health=[
            ProviderHealth(
                name=name,
                status=Health.HEALTHY,
                breaker=BreakerState.CLOSED,
                success_rate=0.99,
                p95_ms=2000.0 + i % 50,
                cost_per_request=0.0005,
                share=1 / len(PROVIDERS),
            )
            for name in PROVIDERS
        ],
    )


def _cold_start() -> float:
    """Launch to first paint, in ms: the child prints the wall-clock time of its first paint."""
    started = time.time()
    done = subprocess.run(  # noqa: S603 - our own module, with this interpreter
        [sys.executable, "-m", "opsconsole.bench.console", FIRST_FRAME],
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
    )
    painted = float(done.stdout.strip().splitlines()[-1])
    return (painted - started) * 1000


def _first_frame() -> None:
    """In a fresh interpreter: build and show the window, exit at its first paint."""
    with tempfile.TemporaryDirectory(prefix="opsconsole-cold-") as tmp:
        app, window, _ = _window(Path(tmp))

        class FirstPaint(QObject):
            def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
                if event.type() == QEvent.Type.Paint and not painted:
                    painted.append(time.time())
                    QTimer.singleShot(0, app.quit)
                return False

        painted: list[float] = []
        watcher = FirstPaint()
        window.installEventFilter(watcher)
        window.show()
        app.exec()
        window.close()
        print(painted[0])


if __name__ == "__main__" and sys.argv[1:] == [FIRST_FRAME]:
    _first_frame()
