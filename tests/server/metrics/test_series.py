"""Series at 1m, 1h and 1d from the rollup table and memory, across a restart; bad queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server
from tests.server.metrics.helpers import admit, nearest_rank, register, report
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store

T0 = datetime.fromisoformat("2026-01-05T09:00:00+00:00")


def points(client: httpx.Client, **params: Any) -> list[float | None]:
    response = client.get("/v1/metrics/series", params=params)
    assert response.status_code == 200, response.text
    return [point["value"] for point in response.json()["points"]]


def drive(live: LiveServer, app: httpx.Client, latencies: list[float]) -> None:
    for latency in latencies:
        report(app, admit(app, "ann"), latency_ms=latency)


def tick_minutes(live: LiveServer, minutes: int) -> None:
    for _ in range(minutes):
        live.clock.advance(timedelta(minutes=1))
        live.app.state.metrics.tick_once(live.clock.now())


def test_series_by_minute_hour_and_day_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    first = [200.0 + 10 * i for i in range(30)]
    second = [3000.0 + 100 * i for i in range(10)]
    window = {"from": T0.isoformat(), "to": (T0 + timedelta(minutes=5)).isoformat()}
    hours = {"step": "1h", "from": T0.isoformat(), "to": (T0 + timedelta(hours=3)).isoformat()}
    days = {"step": "1d", "from": "2026-01-04T00:00:00Z", "to": "2026-01-06T00:00:00Z"}
    with start_server(db_url, tmp_path / "a", metrics_tick_s=0) as live:
        app = live.client(live.app_key())
        viewer = live.operator("wall", Role.VIEWER)
        register(app, "ann", "premium")
        drive(live, app, first)  # 09:00
        tick_minutes(live, 2)
        drive(live, app, second)  # 09:02, not yet closed: from memory
        live.gate_flush()
        assert points(viewer, metric="requests", **window) == [30, 0, 10, None, None]
        assert points(viewer, metric="cost", **window)[2] == pytest.approx(
            10 * (1200 * 0.000075 + 400 * 0.0003) / 1000
        )
        assert points(viewer, metric="active_users", **window)[:3] == [1, 0, 1]
        before = {
            "1m": points(viewer, metric="latency_p95", **window),
            "1h": points(viewer, metric="latency_p95", **hours),
            "1d": points(viewer, metric="requests", **days),
        }
    with start_server(db_url, tmp_path / "b", metrics_tick_s=0) as live:
        viewer = live.operator("wall2", Role.VIEWER)
        latency_1m = points(viewer, metric="latency_p95", **window)
        assert latency_1m == before["1m"]
        assert latency_1m[0] == pytest.approx(nearest_rank(first, 0.95), rel=0.01)
        assert latency_1m[2] == pytest.approx(nearest_rank(second, 0.95), rel=0.01)
        # The hour's percentile is the merged sketch's, not an average of minutes.
        latency_1h = points(viewer, metric="latency_p95", **hours)
        assert latency_1h == before["1h"]
        assert latency_1h[0] == pytest.approx(nearest_rank(first + second, 0.95), rel=0.01)
        assert latency_1h[1:] == [None, None]
        assert points(viewer, metric="requests", **days) == before["1d"] == [None, 40]
        assert points(viewer, metric="requests", provider="gemini-flash", **window)[:3] == [
            30,
            0,
            10,
        ]
        assert points(viewer, metric="requests", tier="free", **window)[:3] == [0, 0, 0]
        assert points(viewer, metric="active_users", step="1d", **{"from": days["from"]})[-1] == 1


@pytest.mark.parametrize(
    ("params", "kind", "words"),
    [
        ({"metric": "nope"}, "bad-series-query", "metrics are: requests"),
        ({"metric": "denials.tired"}, "bad-series-query", "reasons are: daily_quota"),
        ({"metric": "requests", "step": "5m"}, "validation-error", "step"),
        ({"metric": "requests", "from": "yesterday"}, "validation-error", "from"),
        (
            {"metric": "requests", "from": "2026-01-05T10:00:00Z", "to": "2026-01-05T09:00:00Z"},
            "bad-series-query",
            "must be after",
        ),
        (
            {"metric": "requests", "step": "1m", "from": "2025-12-01T00:00:00Z"},
            "bad-series-query",
            "at most 1500",
        ),
        (
            {"metric": "cost", "provider": "gpt-4o", "tier": "free"},
            "bad-series-query",
            "not both",
        ),
    ],
)
def test_bad_series_queries_are_422_with_a_reason(
    live: LiveServer, params: dict[str, str], kind: str, words: str
) -> None:
    viewer = live.operator("wall", Role.VIEWER)
    problem = assert_problem(viewer.get("/v1/metrics/series", params=params), 422, kind)
    assert words in str(problem)


def test_metrics_are_for_operators_of_every_role_only(live: LiveServer) -> None:
    for role in Role:
        client = live.operator(f"op-{role.value}", role)
        for path in ("/v1/metrics/summary", "/v1/metrics/health"):
            assert client.get(path).status_code == 200, (role, path)
        assert client.get("/v1/metrics/series", params={"metric": "cost"}).status_code == 200
    assert live.client().get("/v1/metrics/summary").status_code == 401
    assert live.client(live.app_key()).get("/v1/metrics/summary").status_code == 403
