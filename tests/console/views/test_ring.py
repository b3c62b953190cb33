"""The charts' ring buffers: newest points kept, contiguous views, gaps as NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from opsconsole.console.widgets.ring import RingSeries


def test_keeps_the_newest_points_in_order_across_many_wraps() -> None:
    ring = RingSeries(5)
    for i in range(23):
        ring.append(float(i), float(i * 10))
    assert len(ring) == 5
    assert ring.x.tolist() == [18.0, 19.0, 20.0, 21.0, 22.0]
    assert ring.y.tolist() == [180.0, 190.0, 200.0, 210.0, 220.0]
    assert ring.x.base is not None  # a view into the buffer, not a copy


def test_extend_with_history_longer_than_the_ring() -> None:
    ring = RingSeries(4)
    ring.append(0.0, 1.0)
    ring.extend(np.arange(10, dtype=float), np.arange(10, dtype=float) * 2)
    assert ring.x.tolist() == [6.0, 7.0, 8.0, 9.0]
    ring.extend(np.array([10.0, 11.0]), np.array([1.0, 2.0]))
    assert ring.x.tolist() == [8.0, 9.0, 10.0, 11.0]
    with pytest.raises(ValueError, match="differ"):
        ring.extend(np.zeros(2), np.zeros(3))


def test_gaps_are_nan_and_the_readout_skips_them() -> None:
    ring = RingSeries(10)
    ring.append(0.0, 5.0)
    ring.append(60.0, None)
    ring.append(120.0, 7.0)
    assert math.isnan(ring.y[1])
    assert ring.value_at(62.0) is None
    assert ring.value_at(100.0) == 7.0
    assert ring.value_at(-50.0) == 5.0
    ring.set_last(9.0)
    assert ring.value_at(500.0) == 9.0
    assert RingSeries(3).value_at(1.0) is None
