"""Traffic for the metrics tests: admits and reports over HTTP, exact figures to compare."""

from __future__ import annotations

from typing import Any

import httpx

from tests.server.gate.test_gate_http import admit, register, usage

__all__ = ["admit", "nearest_rank", "register", "report", "usage"]


def report(app: httpx.Client, decision: dict[str, Any], **extra: Any) -> None:
    response = app.post("/v1/gate/report", json=usage(decision, **extra))
    assert response.status_code == 200, response.text


def nearest_rank(values: list[float], quantile: float) -> float:
    """The value a DDSketch estimates: the one at rank q * (n - 1), counted from below."""
    ordered = sorted(values)
    return ordered[int(quantile * (len(ordered) - 1))]
