"""Cost forecasts: within their stated accuracy on simulated history held back from them.

The claim (README, and what this test holds the model to): on 8 weeks of simulated history
(500 users, seed 11) with the last 2 weeks held back, the daily costs of the held-back
fortnight are forecast with a mean absolute percentage error below 20%, and the actual total
of the first held-back week lies inside the forecast's 90% range. Measured before this test
was written, over 14 simulated histories (seeds 1-6 of 12 weeks, 11-18 of 8 weeks, last two
weeks held back): daily MAPE 7-16%, and 13 of the 14 first weeks inside their range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from opsconsole.server.gate.models import UsageEvent
from opsconsole.sim.history import HistoryConfig, write_history
from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server

END = datetime(2026, 3, 1, tzinfo=UTC)  # the history's end: 8 weeks from 2026-01-04
HELD_BACK = 14
STATED_MAPE = 20.0  # percent, daily costs


def daily_costs(server: LiveServer) -> dict[date, float]:
    totals: dict[date, float] = defaultdict(float)
    with server.db.reading() as session:
        for at, cost in session.execute(select(UsageEvent.at, UsageEvent.cost)):
            totals[at.date()] += cost
    return dict(totals)


@pytest.fixture(scope="module")
def eight_weeks(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("eight-weeks")
    db_file = data / "opsconsole.db"
    db_file.write_bytes(sqlite_template.read_bytes())
    with start_server(f"sqlite:///{db_file}", data / "server") as server:
        write_history(server.db, HistoryConfig(days=56, users=500, seed=11, end=END))
        yield server


def test_forecast_within_stated_accuracy_on_held_back_weeks(eight_weeks: LiveServer) -> None:
    server = eight_weeks
    cutoff = END - timedelta(days=HELD_BACK)
    server.clock.set(cutoff)  # the server sees the first 6 weeks only
    response = server.operator("bill", Role.BILLING).get("/v1/business/forecast")
    assert response.status_code == 200, response.text
    body = response.json()
    actual = daily_costs(server)
    assert body["history_days"] == 42
    assert [d["day"] for d in body["history"]][-1] == "2026-02-14"
    for day in body["history"]:  # what the model read is what was recorded
        assert day["cost"] == pytest.approx(actual[date.fromisoformat(day["day"])], rel=1e-9)
    # The held-back fortnight, day by day.
    ahead = body["daily"][:HELD_BACK]
    assert ahead[0]["day"] == "2026-02-15" and ahead[-1]["day"] == "2026-02-28"
    errors = [
        abs(d["expected"] - actual[date.fromisoformat(d["day"])])
        / actual[date.fromisoformat(d["day"])]
        for d in ahead
    ]
    mape = 100 * sum(errors) / len(errors)
    assert mape < STATED_MAPE, f"held-back daily MAPE {mape:.1f}%"
    # The next 7 days: the actual total is inside the range.
    week = body["next_7_days"]
    assert (week["start"], week["end"], week["days"]) == (
        "2026-02-15T00:00:00Z",
        "2026-02-22T00:00:00Z",
        7,
    )
    real = sum(actual[cutoff.date() + timedelta(days=i)] for i in range(7))
    assert week["low"] <= real <= week["high"], (week, real)
    assert week["low"] < week["expected"] < week["high"]
    # The accuracy the response states is measured on the history it was given, and it
    # promises no more than the README does.
    accuracy = body["accuracy"]
    assert accuracy["origins"] == 42 - 28 - 7 + 1 and accuracy["horizon_days"] == 7
    assert 0 < accuracy["mape_daily_pct"] < STATED_MAPE
    assert 0 < accuracy["mape_total_pct"] < accuracy["mape_daily_pct"]
    assert 0 <= accuracy["coverage"] <= 1
    # A month's forecast is wider than a week's, and the month end adds up.
    month = body["next_30_days"]
    assert month["high"] - month["low"] > week["high"] - week["low"]
    month_end = body["month_end"]
    assert month_end["month"] == "2026-02" and month_end["recorded"] == pytest.approx(
        sum(cost for day, cost in actual.items() if date(2026, 2, 1) <= day < cutoff.date())
    )
    rest = sum(d["expected"] for d in ahead)  # 15th to 28th February
    assert month_end["expected"] == pytest.approx(month_end["recorded"] + rest, rel=1e-9)
    # Weekly rhythm: the simulated Monday is busier than the Saturday, and the model saw it.
    factors = body["weekday_factors"]
    assert factors["mon"] > 1 > factors["sat"]


def test_part_of_today_is_recorded_the_rest_forecast(eight_weeks: LiveServer) -> None:
    server = eight_weeks
    noon = END - timedelta(days=HELD_BACK) + timedelta(hours=12)
    server.clock.set(noon)
    body = server.operator("vic", Role.VIEWER).get("/v1/business/forecast").json()
    actual = daily_costs(server)
    recorded_today = 0.0
    with server.db.reading() as session:
        for at, cost in session.execute(
            select(UsageEvent.at, UsageEvent.cost).where(UsageEvent.at >= noon.replace(hour=0))
        ):
            if at < noon:
                recorded_today += cost
    month_end = body["month_end"]
    before = sum(cost for day, cost in actual.items() if date(2026, 2, 1) <= day < noon.date())
    assert month_end["recorded"] == pytest.approx(before + recorded_today, rel=1e-9)
    # The rest of today is the forecast day scaled by the share of cost still to come; the
    # evening peak is ahead at noon, so more than half of the day's cost remains.
    today = body["daily"][0]
    rest_today = (
        month_end["expected"]
        - month_end["recorded"]
        - sum(d["expected"] for d in body["daily"][1:14])
    )
    assert 0.5 * today["expected"] < rest_today < 0.9 * today["expected"]
    week = body["next_7_days"]
    assert week["start"] == "2026-02-15T12:00:00Z" and week["end"] == "2026-02-22T12:00:00Z"


@pytest.mark.store
def test_short_histories(server: LiveServer) -> None:
    now = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
    server.clock.set(now)
    client = server.operator("bill", Role.BILLING)
    empty = client.get("/v1/business/forecast").json()
    assert empty["next_7_days"] is None and empty["accuracy"] is None
    assert "at least 3 full days" in empty["note"]
    write_history(server.db, HistoryConfig(days=10, users=80, seed=4, end=now))
    body = client.get("/v1/business/forecast").json()
    assert body["history_days"] == 10
    actual = daily_costs(server)
    assert {d["day"]: d["cost"] for d in body["history"]} == pytest.approx(
        {day.isoformat(): cost for day, cost in actual.items() if day < now.date()}
    )
    assert body["next_7_days"]["low"] <= body["next_7_days"]["expected"]
    assert body["accuracy"] is None and "41 full days" in body["note"]
    assert len(body["daily"]) == 30 and body["daily"][0]["day"] == "2026-05-20"
    # Under two weeks the weekly rhythm is not estimated yet.
    assert set(body["weekday_factors"].values()) == {1.0}
