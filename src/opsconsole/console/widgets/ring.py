"""Fixed-capacity time series in numpy arrays, cheap to append to and to hand to pyqtgraph.

A chart keeps up to a month of points per curve and gets one new value a second. Python lists
would mean a conversion to arrays on every frame; here the newest ``capacity`` points are always
one contiguous slice of a buffer twice that size, so a frame costs two slice views and no copy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class RingSeries:
    """The newest ``capacity`` (x, y) points; y is NaN where nothing was measured (a gap)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._x: FloatArray = np.empty(2 * capacity, dtype=np.float64)
        self._y: FloatArray = np.empty(2 * capacity, dtype=np.float64)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def clear(self) -> None:
        self._start = self._end = 0

    def append(self, x: float, y: float | None) -> None:
        if self._end == len(self._x):
            self._compact()
        self._x[self._end] = x
        self._y[self._end] = np.nan if y is None else y
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1

    def extend(self, xs: FloatArray, ys: FloatArray) -> None:
        """Append many points at once (history), keeping only the newest ``capacity``."""
        if len(xs) != len(ys):
            raise ValueError("xs and ys differ in length")
        if len(xs) >= self.capacity:
            self._x[: self.capacity] = xs[-self.capacity :]
            self._y[: self.capacity] = ys[-self.capacity :]
            self._start, self._end = 0, self.capacity
            return
        if self._end + len(xs) > len(self._x):
            self._compact()
        self._x[self._end : self._end + len(xs)] = xs
        self._y[self._end : self._end + len(xs)] = ys
        self._end += len(xs)
        self._start = max(self._start, self._end - self.capacity)

    def set_last(self, y: float | None) -> None:
        """Replace the newest value (the bucket still filling up)."""
        if not len(self):
            raise IndexError("set_last on an empty series")
        self._y[self._end - 1] = np.nan if y is None else y

    @property
    def last_x(self) -> float | None:
        return float(self._x[self._end - 1]) if len(self) else None

    @property
    def x(self) -> FloatArray:
        return self._x[self._start : self._end]

    @property
    def y(self) -> FloatArray:
        return self._y[self._start : self._end]

    def value_at(self, x: float) -> float | None:
        """The y of the point nearest to ``x`` (for the crosshair), None if empty or a gap."""
        xs = self.x
        if not len(xs):
            return None
        i = int(np.searchsorted(xs, x))
        if i >= len(xs):
            i = len(xs) - 1
        elif i > 0 and x - xs[i - 1] < xs[i] - x:
            i -= 1
        value = float(self.y[i])
        return None if np.isnan(value) else value

    def _compact(self) -> None:
        n = len(self)
        self._x[:n] = self._x[self._start : self._end]
        self._y[:n] = self._y[self._start : self._end]
        self._start, self._end = 0, n
