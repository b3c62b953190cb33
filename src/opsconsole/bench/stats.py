"""Small helpers to time things and print latency figures the same way in every bench."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Seconds each of ``repeat`` calls took."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def summary(label: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{label:<44} n={len(ms):<5} median {statistics.median(ms):8.3f} ms   "
        f"p95 {percentile(ms, 0.95):8.3f} ms   max {max(ms):8.3f} ms"
    )
