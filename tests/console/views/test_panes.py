"""Headline tiles, live charts, provider health and alerts on a real connection.

State comes from the real server; the second-by-second traffic is put on the connection's own
signals (as its stream would) where the test needs figures a quiet test server has not got.
"""

from __future__ import annotations

import math
from datetime import timedelta

from tests.console.views.conftest import Console

from opsconsole.console.models import providers as columns
from opsconsole.console.panes.alerts import AlertsPane
from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.charts import ChartsPane
from opsconsole.console.panes.headline import HeadlinePane
from opsconsole.console.panes.providers import ProvidersPane
from opsconsole.console.qt import QWidget
from opsconsole.console.widgets.tiles import TileState
from opsconsole.wire.alerts import Alert, AlertState, RuleKind, Severity
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Counts, Latency, MetricsSnapshot


def add(console: Console, qtbot: object, pane: QWidget) -> None:
    qtbot.addWidget(pane)  # type: ignore[attr-defined]
    pane.resize(1100, 700)
    pane.show()


def busy_second(console: Console, offset_s: float = 0.0) -> MetricsSnapshot:
    at = console.server.clock.now() + timedelta(seconds=offset_s)
    return MetricsSnapshot(
        at=at,
        interval_s=1.0,
        total=Counts(
            requests=120,
            admits=100,
            denials={"daily_quota": 15, "user_rate_limited": 5},
            reports=100,
            errors=4,
            timeouts=1,
            cost=0.5,
            latency_ms=Latency(p50=800.0, p95=2400.0, p99=5100.0),
        ),
        providers={
            "gpt-4o": Counts(requests=60, admits=60, reports=50, cost=0.4),
            "gemini-flash": Counts(requests=40, admits=40, reports=50, cost=0.1),
        },
        gate_us=Latency(p50=180.0, p95=420.0, p99=900.0),
        active_users_5m=321,
        active_users_today=4567,
    )


def test_headline_tiles_start_from_the_summary_and_follow_the_snapshots(
    console: Console, qtbot
) -> None:
    pane = HeadlinePane(console.connection, ServerClock(console.connection))
    add(console, qtbot, pane)
    console.run(pane.load())
    assert pane.active_users.value.text() == "0"
    assert "of $200.00 target" in pane.cost.detail.text()  # the server's daily target
    assert pane.switches.value.text() == "0"

    console.connection.snapshot_received.emit(busy_second(console))
    assert pane.active_users.value.text() == "321"
    assert pane.active_users.detail.text() == "4,567 today"
    assert pane.requests.value.text() == "120.0"
    assert "20 denied" in pane.requests.detail.text()
    assert pane.errors.value.text() == "5.00%"
    assert pane.errors.state is TileState.BAD
    assert pane.cost.value.text() == "$1,800"  # $0.50 in one second, per hour
    assert "today $0.50" in pane.cost.detail.text()

    other = console.operator_client("amir")
    response = other.put("/v1/controls/cheapest_only", json={"value": True, "reason": "cost spike"})
    assert response.status_code == 200, response.text
    console.wait(lambda: pane.switches.value.text() == "1", "switch count")
    assert pane.switches.detail.text() == "Cheapest only"
    assert pane.switches.state is TileState.BAD


def test_charts_draw_history_then_fold_live_seconds_into_the_newest_point(
    console: Console, qtbot
) -> None:
    clock = ServerClock(console.connection)
    console.tick()
    pane = ChartsPane(console.connection, clock)
    add(console, qtbot, pane)
    console.run(pane.load())
    assert pane.status.text() == "", "every series the charts ask for exists on the server"
    assert pane.provider_combo.findData("gpt-4o") >= 0
    cost = pane.charts["cost"].series("cost")
    assert len(cost) >= 60, "an hour of minute points (null where nothing was measured)"

    first = busy_second(console)
    console.connection.snapshot_received.emit(first)
    console.connection.snapshot_received.emit(busy_second(console, 1.0))
    minute = float(int(first.at.timestamp()) // 60 * 60)
    assert cost.last_x == minute
    assert cost.y[-1] == 1800.0  # $1 over two seconds, per hour
    traffic = pane.charts["traffic"]
    assert traffic.series("requests").y[-1] == 120.0
    assert traffic.series("denied: daily_quota").y[-1] == 15.0
    assert pane.charts["errors"].series("errors + timeouts").y[-1] == 5.0
    assert pane.charts["latency"].series("p99").y[-1] == 5100.0
    assert pane.charts["gate"].series("p50").y[-1] == 180.0
    readout = traffic.readout_at(minute + 10)
    assert "denied: daily_quota</span> 15.0/s" in readout

    # One provider: its own figures, the gate's time unchanged.
    pane.provider_combo.setCurrentIndex(pane.provider_combo.findData("gpt-4o"))
    console.wait(lambda: pane._history_loaded, "history of gpt-4o")
    console.connection.snapshot_received.emit(busy_second(console, 2.0))
    assert pane.charts["cost"].series("cost").y[-1] == 0.4 * 3600

    # A week: hour points, and the window follows.
    pane.range_combo.setCurrentText("7 d")
    console.wait(lambda: pane._history_loaded and pane.status.text() == "", "a week")
    week = pane.charts["cost"].series("cost")
    assert week.capacity >= 7 * 24
    x0, x1 = pane.charts["cost"].visible_range()
    assert x1 - x0 >= 7 * 86_400 * 0.99
    assert all(math.isnan(v) or v >= 0 for v in week.y)
    assert pane.save_state()["range"] == "7 d"


def test_provider_health_lists_the_servers_providers_and_trips_a_breaker(
    console: Console, qtbot
) -> None:
    pane = ProvidersPane(console.connection, ServerClock(console.connection))
    add(console, qtbot, pane)
    console.run(pane.load())
    assert pane.model.rowCount() == 7
    assert not pane.trip_button.isEnabled(), "nothing selected yet"
    pane.select("gpt-4o")
    assert pane.trip_button.isEnabled()

    pane.trip_button.click()
    assert pane.dialog is not None
    assert not pane.dialog.ok_button.isEnabled()
    pane.dialog.reason_edit.setText("gpt-4o answers 503 for everyone")
    pane.dialog.ok_button.click()
    row = pane.model.row_of("gpt-4o")
    assert row is not None
    console.wait(
        lambda: pane.model.provider(row).breaker is BreakerState.OPEN, "breaker open", timeout=10
    )
    assert pane.model.index(row, columns.BREAKER).data() == "OPEN"
    on_server = console.operator_client("reader").get("/v1/providers").json()
    gpt = next(p for p in on_server if p["name"] == "gpt-4o")
    assert gpt["breaker"]["state"] == "open" and gpt["breaker"]["manual"]


def test_a_viewer_may_not_trip_breakers(viewer_console: Console, qtbot) -> None:
    pane = ProvidersPane(viewer_console.connection, ServerClock(viewer_console.connection))
    add(viewer_console, qtbot, pane)
    viewer_console.run(pane.load())
    pane.select("gpt-4o")
    for button in (pane.trip_button, pane.reset_button):
        assert not button.isEnabled()
        assert button.toolTip().startswith("Needs the oncall or admin role")


def firing(alert_id: int, **changes: object) -> Alert:
    now = {"pending_since": "2026-01-05T09:00:00Z", "firing_since": "2026-01-05T09:01:00Z"}
    values: dict[str, object] = {
        "id": alert_id,
        "rule": "error_rate",
        "kind": RuleKind.ERROR_RATE,
        "severity": Severity.CRITICAL,
        "subject": "gpt-4o",
        "state": AlertState.FIRING,
        "summary": "gpt-4o error rate 9% over 5 min (threshold 5%)",
        "labels": {"provider": "gpt-4o"},
        **now,
    }
    values.update(changes)
    return Alert.model_validate(values)


def test_alerts_arrive_notify_and_can_be_silenced(console: Console, qtbot) -> None:
    console.tick()
    pane = AlertsPane(console.connection, ServerClock(console.connection))
    add(console, qtbot, pane)
    notes: list[str] = []
    pane.notified.connect(notes.append)

    console.connection.alert_received.emit(firing(41))
    assert pane.active.rowCount() == 1
    assert pane.tabs.tabText(0) == "Active (1)"
    assert notes == ["Alert critical: gpt-4o error rate 9% over 5 min (threshold 5%)"]
    console.connection.alert_received.emit(firing(41, value=0.1))
    assert len(notes) == 1, "an update of a firing alert is not announced again"

    pane.select(41)
    assert pane.ack_button.isEnabled() and pane.silence_button.isEnabled()
    pane.silence_button.click()
    dialog = pane.dialog
    assert dialog is not None and dialog.until_combo is not None
    dialog.reason_edit.setText("known incident, provider is on it")
    dialog.until_combo.setCurrentText("4 hours")
    dialog.ok_button.click()
    console.wait(lambda: pane.message.text().startswith("Silenced"), "silenced")
    silences = console.operator_client("reader").get("/v1/silences").json()
    items = silences["items"] if isinstance(silences, dict) else silences
    made = next(s for s in items if s["rule"] == "error_rate")
    assert made["provider"] == "gpt-4o"
    assert made["created_by"].endswith("olivia")

    console.connection.alert_received.emit(
        firing(41, acknowledged_by="amir", acknowledged_at="2026-01-05T09:02:00Z")
    )
    pane.select(41)
    assert not pane.ack_button.isEnabled(), "acknowledged already"
    console.connection.alert_received.emit(
        firing(41, state=AlertState.RESOLVED, resolved_at="2026-01-05T09:09:00Z")
    )
    assert (pane.active.rowCount(), pane.history.rowCount()) == (0, 1)
    assert pane.tabs.tabText(1) == "History (1)"


def test_chart_splitters_and_range_come_back_from_the_saved_state(console: Console, qtbot) -> None:
    pane = ChartsPane(console.connection, ServerClock(console.connection))
    add(console, qtbot, pane)
    pane.resize(1000, 1000)
    console.run(pane.load())
    pane.rows.setSizes([200, 500, 250])
    pane.top.setSizes([300, 700])
    state = pane.save_state()

    again = ChartsPane(console.connection, ServerClock(console.connection))
    add(console, qtbot, again)
    again.resize(1000, 1000)
    again.restore_state({**state, "range": "15 min"})
    console.wait(lambda: again.rows.sizes() == pane.rows.sizes(), "splitters restored")
    assert again.top.sizes() == pane.top.sizes()
    assert again.range.label == "15 min"
    assert pane.range.label == "1 h"
