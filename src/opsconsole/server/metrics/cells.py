"""What one interval holds for one (provider, tier) pair: counts and two latency sketches.

The sketches are DDSketches (1% relative error) on a sparse store: a second of traffic holds
a handful of distinct latency bins, and thousands of seconds are kept in memory, so the dense
store's 128-bin chunks would cost far more than the data. Sparse sketches merge exactly like
dense ones and serialize to a small JSON object for the rollup table.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import Store

from opsconsole.wire.metrics import Counts, Latency

RELATIVE_ACCURACY = 0.01
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
_MIN_POSITIVE = _MAPPING.min_possible
_MULTIPLIER = _MAPPING._multiplier
_OFFSET = _MAPPING._offset


class SparseStore(Store):
    """A DDSketch store that keeps only the bins that hold something."""

    def __init__(self) -> None:
        super().__init__()
        self.bins: dict[int, float] = {}

    def copy(self, store: SparseStore) -> None:
        self.bins = dict(store.bins)
        self.count = store.count

    def length(self) -> int:
        return len(self.bins)

    def add(self, key: int, weight: float = 1.0) -> None:
        self.bins[key] = self.bins.get(key, 0.0) + weight
        self.count += weight

    def key_at_rank(self, rank: float, lower: bool = True) -> int:
        running = 0.0
        for key in sorted(self.bins):
            running += self.bins[key]
            if (lower and running > rank) or (not lower and running >= rank + 1):
                return key
        return max(self.bins)

    def merge(self, store: SparseStore) -> None:
        if store.count == 0:
            return
        bins = self.bins
        for key, weight in store.bins.items():
            bins[key] = bins.get(key, 0.0) + weight
        self.count += store.count


class Sketch(BaseDDSketch):
    """A DDSketch with 1% relative accuracy on sparse stores (values are never negative)."""

    def __init__(self) -> None:
        super().__init__(
            mapping=_MAPPING, store=SparseStore(), negative_store=SparseStore(), zero_count=0.0
        )

    def add(self, val: float, weight: float = 1.0) -> None:
        """`BaseDDSketch.add` for non-negative values, inlined: it runs on every decision."""
        if val > _MIN_POSITIVE:
            key = int(math.ceil(math.log(val, 2) * _MULTIPLIER) + _OFFSET)  # _MAPPING.key(val)
            bins = self._store.bins
            bins[key] = bins.get(key, 0.0) + weight
            self._store.count += weight
        else:
            self._zero_count += weight
        self._count += weight
        self._sum += val * weight
        self._min = min(self._min, val)
        self._max = max(self._max, val)

    def quantile(self, q: float) -> float | None:
        value = self.get_quantile_value(q)
        return None if value is None else float(value)

    def count_above(self, value: float) -> float:
        """How many values were above ``value`` (within the sketch's 1%: whole bins count)."""
        if value <= _MIN_POSITIVE:
            return float(self._store.count)
        threshold = int(_MAPPING.key(value))
        return float(sum(weight for key, weight in self._store.bins.items() if key > threshold))

    def latency(self) -> Latency:
        if self._count == 0:
            return Latency()
        return Latency(p50=self.quantile(0.5), p95=self.quantile(0.95), p99=self.quantile(0.99))

    def encode(self) -> str:
        """The sketch as compact JSON: bins, zero count, count, sum, min and max."""
        return json.dumps(
            {
                "b": [[key, weight] for key, weight in self._store.bins.items()],
                "z": self._zero_count,
                "n": self._count,
                "s": self._sum,
                "lo": self._min,
                "hi": self._max,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str) -> Sketch:
        data: dict[str, Any] = json.loads(text)
        sketch = cls()
        for key, weight in data["b"]:
            sketch._store.add(int(key), float(weight))
        sketch._zero_count = float(data["z"])
        sketch._count = float(data["n"])
        sketch._sum = float(data["s"])
        sketch._min = float(data["lo"])
        sketch._max = float(data["hi"])
        return sketch


@dataclass(slots=True)
class Cell:
    """Counts of one interval for one (provider, tier) pair, or merged over several."""

    requests: int = 0
    admits: int = 0
    denials: dict[str, int] = field(default_factory=dict)
    reports: int = 0
    errors: int = 0
    timeouts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency: Sketch | None = None  # provider latency in ms, from reports
    gate_us: Sketch | None = None  # the gate's own decision time in microseconds

    def add_latency(self, value: float) -> None:
        if self.latency is None:
            self.latency = Sketch()
        self.latency.add(value)

    def add_gate_us(self, value: float) -> None:
        if self.gate_us is None:
            self.gate_us = Sketch()
        self.gate_us.add(value)

    def merge(self, other: Cell) -> None:
        self.requests += other.requests
        self.admits += other.admits
        for reason, count in other.denials.items():
            self.denials[reason] = self.denials.get(reason, 0) + count
        self.reports += other.reports
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost += other.cost
        if other.latency is not None and other.latency.count:
            if self.latency is None:
                self.latency = Sketch()
            self.latency.merge(other.latency)
        if other.gate_us is not None and other.gate_us.count:
            if self.gate_us is None:
                self.gate_us = Sketch()
            self.gate_us.merge(other.gate_us)

    @property
    def empty(self) -> bool:
        return self.requests == 0 and self.reports == 0

    def counts(self) -> Counts:
        return Counts(
            requests=self.requests,
            admits=self.admits,
            denials=dict(self.denials),
            reports=self.reports,
            errors=self.errors,
            timeouts=self.timeouts,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost=self.cost,
            latency_ms=self.latency.latency() if self.latency is not None else Latency(),
        )

    def gate_latency(self) -> Latency:
        return self.gate_us.latency() if self.gate_us is not None else Latency()


# Cells are keyed by (provider, tier); "" where a decision has none (a denial has no
# provider, an unknown user no tier).
CellKey = tuple[str, str]
Cells = dict[CellKey, Cell]


def merge_cells(
    sources: list[Cells], *, provider: str | None = None, tier: str | None = None
) -> Cell:
    """One cell from every cell of ``sources`` that matches the filters (None: any)."""
    merged = Cell()
    for cells in sources:
        for (cell_provider, cell_tier), cell in cells.items():
            if provider is not None and cell_provider != provider:
                continue
            if tier is not None and cell_tier != tier:
                continue
            merged.merge(cell)
    return merged


def fold(into: Cells, cells: Cells) -> None:
    for key, cell in cells.items():
        target = into.get(key)
        if target is None:
            target = into[key] = Cell()
        target.merge(cell)
