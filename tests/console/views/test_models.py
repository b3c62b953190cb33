"""The table models: Qt's model tester, in-place updates, sorting by value, the alert filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsconsole.console.models import alerts as alert_columns
from opsconsole.console.models import providers as provider_columns
from opsconsole.console.models.alerts import ALERT_ROLE, AlertsFilter, AlertsModel
from opsconsole.console.models.providers import SORT_ROLE, ProviderHealthModel
from opsconsole.console.qt import QSortFilterProxyModel, Qt
from opsconsole.wire.alerts import Alert, AlertState, RuleKind, Severity
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Health, ProviderHealth

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def health(name: str, **changes: object) -> ProviderHealth:
    values: dict[str, object] = {
        "name": name,
        "status": Health.HEALTHY,
        "breaker": BreakerState.CLOSED,
        "success_rate": 0.995,
        "p95_ms": 850.0,
        "cost_per_request": 0.0021,
        "share": 0.5,
    }
    values.update(changes)
    return ProviderHealth.model_validate(values)


def alert(alert_id: int, **changes: object) -> Alert:
    values: dict[str, object] = {
        "id": alert_id,
        "rule": "error_rate",
        "kind": RuleKind.ERROR_RATE,
        "severity": Severity.CRITICAL,
        "subject": "openai",
        "state": AlertState.FIRING,
        "summary": "error rate 9% over 5 min (threshold 5%)",
        "pending_since": T0,
        "firing_since": T0 + timedelta(minutes=1),
    }
    values.update(changes)
    return Alert.model_validate(values)


def test_provider_model_passes_the_model_tester(qtmodeltester) -> None:
    model = ProviderHealthModel()
    model.set_health([health("openai"), health("anthropic", status=Health.DOWN)])
    qtmodeltester.check(model, force_py=True)
    model.set_health([health("openai", p95_ms=None), health("anthropic")])
    model.set_health([health("openai"), health("anthropic"), health("mistral")])
    qtmodeltester.check(model, force_py=True)


def test_provider_cells_update_in_place_and_sort_by_value(qtbot) -> None:
    model = ProviderHealthModel()
    model.set_health([health("openai"), health("anthropic")])
    row = model.row_of("openai")
    assert row is not None
    retry = T0 + timedelta(minutes=5)
    with qtbot.wait_signal(model.dataChanged) as changed:
        model.set_health(
            [
                health("anthropic"),
                health(
                    "openai",
                    status=Health.DOWN,
                    breaker=BreakerState.OPEN,
                    retry_at=retry,
                    success_rate=0.42,
                    p95_ms=12_500.0,
                    reason="breaker open: 12 of 20 failed",
                ),
            ]
        )
    assert changed.args[0].row() == row  # only that row, no reset
    cell = model.index(row, provider_columns.STATUS)
    assert cell.data() == "down"
    assert cell.data(Qt.ItemDataRole.ToolTipRole) == "breaker open: 12 of 20 failed"
    assert model.index(row, provider_columns.BREAKER).data() == "OPEN"
    assert model.index(row, provider_columns.RETRY_AT).data() == f"{retry.astimezone():%H:%M:%S}"
    assert model.index(row, provider_columns.P95).data() == "12,500 ms"
    assert model.index(row, provider_columns.SUCCESS).data() == "42.0%"
    assert model.index(row, provider_columns.COST_PER_REQUEST).data() == "$0.0021"
    assert model.index(row, provider_columns.SHARE).data() == "50%"

    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(provider_columns.P95, Qt.SortOrder.DescendingOrder)
    # 12,500 ms sorts above 850 ms although "850 ms" > "12,500 ms" as text.
    assert proxy.index(0, provider_columns.NAME).data() == "openai"


def test_alerts_model_passes_the_model_tester(qtmodeltester) -> None:
    model = AlertsModel()
    model.set_alerts([alert(1), alert(2, state=AlertState.RESOLVED, resolved_at=T0)])
    qtmodeltester.check(model, force_py=True)
    model.upsert(alert(3, severity=Severity.WARNING))
    model.upsert(alert(1, acknowledged_by="olivia", acknowledged_at=T0, ack_comment="on it"))
    qtmodeltester.check(model, force_py=True)


def test_alerts_show_who_acknowledged_and_move_to_history_when_resolved(qtbot) -> None:
    model = AlertsModel()
    active = AlertsFilter(history=False)
    active.setSourceModel(model)
    history = AlertsFilter(history=True)
    history.setSourceModel(model)
    model.set_alerts([alert(1), alert(2, severity=Severity.WARNING)])
    assert (active.rowCount(), history.rowCount()) == (2, 0)

    acked_at = T0 + timedelta(minutes=3)
    model.upsert(
        alert(1, acknowledged_by="olivia", acknowledged_at=acked_at, ack_comment="failing over")
    )
    row = next(r for r in range(model.rowCount()) if model.alert(r).id == 1)
    assert model.index(row, alert_columns.STATE).data() == "acknowledged"
    assert model.index(row, alert_columns.ACKNOWLEDGED).data() == (
        f"olivia, {acked_at.astimezone():%d %b %H:%M}"
    )
    assert model.index(row, alert_columns.COMMENT).data() == "failing over"
    assert model.index(row, alert_columns.SEVERITY).data(Qt.ItemDataRole.ForegroundRole)

    model.upsert(alert(1, state=AlertState.RESOLVED, resolved_at=T0 + timedelta(minutes=9)))
    assert (active.rowCount(), history.rowCount()) == (1, 1)
    assert history.index(0, 0).data(ALERT_ROLE).id == 1

    with qtbot.wait_signal(model.rowsInserted):
        model.upsert(alert(7, firing_since=T0 + timedelta(hours=1)))
    assert model.alert(0).id == 7  # new alerts go on top
    assert active.rowCount() == 2
