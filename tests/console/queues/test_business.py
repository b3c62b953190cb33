"""The business pane on a real control plane holding simulated weeks of history: the figures
shown are the server's, the forecast range is drawn as a band, accuracy and recommendations
are stated in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.business import BusinessPane, money, pct
from opsconsole.sim.history import HistoryConfig, write_history
from tests.console.queues.conftest import database
from tests.console.views.conftest import Console


@pytest.fixture
def history(console: Console) -> Console:
    db = database(console.server)
    try:
        write_history(db, HistoryConfig(days=45, users=100, seed=3, end=console.server.clock.now()))
    finally:
        db.dispose()
    return console


def server_figures(console: Console) -> dict[str, Any]:
    client = console.operator_client("amir")
    return {
        path: client.get(f"/v1/business{path}").json()
        for path in ("", "/forecast", "/recommendations")
    }


def test_figures_are_the_servers_and_the_forecast_band_is_drawn(history: Console, qtbot) -> None:
    console = history
    pane = BusinessPane(console.connection, ServerClock(console.connection))
    qtbot.addWidget(pane)
    pane.resize(1500, 950)
    pane.show()
    console.run(pane.load())
    served = server_figures(console)
    report, forecast, recs = served[""], served["/forecast"], served["/recommendations"]

    totals = report["totals"]
    assert totals["revenue"] > 0 and totals["ai_cost"] > 0
    assert pane.revenue.value.text() == money(totals["revenue"])
    assert pane.cost.value.text() == money(totals["ai_cost"])
    assert pane.margin.value.text() == money(totals["gross_margin"])
    assert pct(totals["gross_margin_pct"]) in pane.margin.detail.text()

    # One table row per tier, then the totals, with the server's figures.
    rows = pane.tier_model.rowCount()
    assert rows == len(report["tiers"]) + 1
    for row, tier in enumerate([*report["tiers"], totals]):
        assert pane.tier_model.item(row, 0).text() == tier["tier"]
        assert pane.tier_model.item(row, 5).text() == money(tier["revenue"])
        assert pane.tier_model.item(row, 6).text() == money(tier["ai_cost"])
        assert pane.tier_model.item(row, 8).text() == pct(tier["gross_margin_pct"])

    # The forecast: recorded days, the expected line, and the range as a filled band.
    assert pane.band is not None
    low, high = pane.band.curves
    daily = forecast["daily"]
    assert len(daily) == 30
    np.testing.assert_allclose(low.yData, [d["low"] for d in daily])
    np.testing.assert_allclose(high.yData, [d["high"] for d in daily])
    assert pane.band.brush().color().alpha() > 0
    month_end = forecast["month_end"]
    assert money(month_end["expected"]) in pane.forecast_label.text()
    accuracy = forecast["accuracy"]
    assert accuracy is not None
    assert f"{accuracy['mape_daily_pct']:.1f}%" in pane.accuracy_label.text()
    assert f"{accuracy['coverage']:.0%} of 7-day totals" in pane.accuracy_label.text()

    heavy = report["heavy_users"]
    assert f"{heavy['count']:,} users" in pane.heavy_label.text()
    assert heavy["top"][0]["user_id"] in pane.heavy_label.text()  # on-call may see users

    text = pane.recommendations_label.text()
    if recs["recommendations"]:
        first = recs["recommendations"][0]
        assert money(first["saving"]) in text
        assert first["text"].split()[0] in text
    else:
        assert "Nothing to recommend" in text


def test_the_viewer_sees_figures_without_names(viewer_console: Console, qtbot) -> None:
    console = viewer_console
    db = database(console.server)
    try:
        write_history(db, HistoryConfig(days=10, users=60, seed=5, end=console.server.clock.now()))
    finally:
        db.dispose()
    pane = BusinessPane(console.connection, ServerClock(console.connection))
    qtbot.addWidget(pane)
    console.run(pane.load())
    assert pane.revenue.value.text() != "—"
    assert "(hidden for your role)" in pane.heavy_label.text()
    # Ten days: a forecast, but too short a history to test it on; the pane says so.
    assert pane.band is not None
    assert pane.accuracy_label.text().startswith("Accuracy not measured yet")


def test_panes_a_role_may_not_read_say_so_instead_of_failing(
    viewer_console: Console, qtbot
) -> None:
    from opsconsole.console.panes.audit import AuditPane
    from opsconsole.console.panes.tickets import TicketsPane

    console = viewer_console
    clock = ServerClock(console.connection)
    tickets = TicketsPane(console.connection, clock)
    audit = AuditPane(console.connection, clock)
    for pane in (tickets, audit):
        qtbot.addWidget(pane)
    console.run(tickets.load())
    console.run(audit.load())
    assert "Needs the" in tickets.filters.count_label.text()
    assert "Needs the" in audit.count_label.text()
    assert not audit.verify_button.isEnabled()
