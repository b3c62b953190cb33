"""A demo clock that runs faster than real time, on the server and in the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsconsole.server.clock import ManualClock, ScaledClock, SystemClock, make_clock
from opsconsole.server.gate import windows
from opsconsole.server.settings import Settings
from opsconsole.sim.traffic import TrafficConfig, follow_server_clock, server_clock
from tests.live import start_server

START = datetime(2026, 1, 5, 23, 0, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_scaled_clock_passes_a_day_in_five_minutes_at_288x() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(START, 288, monotonic=real)
    assert clock.now() == START
    real.now += 300
    assert clock.now() == START + timedelta(days=1)
    # The day's key (quotas, metrics) rolls over as it would.
    assert windows.day_key(clock.now()) != windows.day_key(START)


def test_the_settings_choose_the_clock() -> None:
    assert isinstance(make_clock(), SystemClock)
    settings = Settings.model_validate(
        {"clock_speedup": 60, "clock_start": "2026-03-01T18:00:00+00:00"}
    )
    clock = make_clock(settings.clock_speedup, settings.clock_start)
    assert isinstance(clock, ScaledClock) and clock.speedup == 60
    assert clock.now() - datetime(2026, 3, 1, 18, 0, tzinfo=UTC) < timedelta(minutes=5)


def test_simulator_follows_a_demo_servers_clock(db_url: str, tmp_path: Path) -> None:
    with start_server(db_url, tmp_path, clock_speedup=288.0) as live:
        assert isinstance(live.clock, ManualClock)
        told = server_clock(live.url)
        assert told == (live.clock.now(), 288.0)
        config, note = follow_server_clock(TrafficConfig(speedup=10), told)
        assert (config.start, config.speedup) == (live.clock.now(), 288.0)
        assert "288x" in note


def test_a_real_time_server_keeps_the_simulators_own_clock(db_url: str, tmp_path: Path) -> None:
    with start_server(db_url, tmp_path) as live:
        config, note = follow_server_clock(TrafficConfig(speedup=288), server_clock(live.url))
        assert (config.start, config.speedup) == (None, 288)
        assert "OPSCONSOLE_CLOCK_SPEEDUP=288" in note
    assert server_clock("http://127.0.0.1:9") is None  # nobody there
