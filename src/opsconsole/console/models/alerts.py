"""Alerts as a table (one row per alert, updated in place as it moves through its lifecycle),
and the filter that splits them into the active list and the history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsconsole.console.models.base import ROW_ROLE, SORT_ROLE, Index, RowsTable
from opsconsole.console.qt import QColor, QModelIndex, QSortFilterProxyModel, Qt
from opsconsole.wire.alerts import Alert, AlertState, Severity

SEVERITY, STATE, SUBJECT, SUMMARY, SINCE, ACKNOWLEDGED, COMMENT, RESOLVED = range(8)
HEADERS = (
    "Severity",
    "State",
    "Rule / subject",
    "Summary",
    "Since",
    "Acknowledged",
    "Comment",
    "Resolved",
)
ALERT_ROLE = ROW_ROLE  # the wire Alert behind the row

SEVERITY_COLOURS = {
    Severity.INFO: QColor("#1565c0"),
    Severity.WARNING: QColor("#b36b00"),
    Severity.CRITICAL: QColor("#c62828"),
}
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def _when(at: datetime | None) -> str:
    if at is None:
        return ""
    local = at.astimezone()
    return f"{local:%d %b %H:%M}"


def since(alert: Alert) -> datetime:
    return alert.firing_since or alert.pending_since


class AlertsModel(RowsTable[Alert]):
    """Every alert the console knows of, newest first as they arrive."""

    headers = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(
            self._text, sort_key=self._sort_key, colour=self._colour, tip=self._tip, parent=parent
        )

    def set_alerts(self, alerts: list[Alert]) -> None:
        self.beginResetModel()
        seen: dict[int, Alert] = {}
        for alert in alerts:
            seen[alert.id] = alert
        self._rows = sorted(seen.values(), key=since, reverse=True)
        self.endResetModel()

    def upsert(self, alert: Alert) -> None:
        """Add a new alert at the top, or update the row of one already shown."""
        for row, known in enumerate(self._rows):
            if known.id == alert.id:
                self._rows[row] = alert
                self.dataChanged.emit(
                    self.index(row, 0),
                    self.index(row, len(HEADERS) - 1),
                    [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, SORT_ROLE],
                )
                return
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, alert)
        self.endInsertRows()

    def find(self, alert_id: int) -> Alert | None:
        return next((a for a in self._rows if a.id == alert_id), None)

    def alert(self, row: int) -> Alert:
        return self._rows[row]

    def alerts(self) -> list[Alert]:
        return list(self._rows)

    # --- private ----------------------------------------------------------------------------

    @staticmethod
    def _text(alert: Alert, column: int) -> str:
        if column == SEVERITY:
            return alert.severity.value
        if column == STATE:
            if alert.state is AlertState.FIRING and alert.acknowledged_by:
                return "acknowledged"
            return alert.state.value
        if column == SUBJECT:
            return f"{alert.rule}: {alert.subject}"
        if column == SUMMARY:
            return alert.summary
        if column == SINCE:
            return _when(since(alert))
        if column == ACKNOWLEDGED:
            if not alert.acknowledged_by:
                return ""
            return f"{alert.acknowledged_by}, {_when(alert.acknowledged_at)}"
        if column == COMMENT:
            return alert.ack_comment or ""
        return _when(alert.resolved_at)

    @staticmethod
    def _sort_key(alert: Alert, column: int) -> Any:
        if column == SEVERITY:
            return SEVERITY_RANK[alert.severity]
        if column == SINCE:
            return since(alert).timestamp()
        if column == RESOLVED:
            return alert.resolved_at.timestamp() if alert.resolved_at else 0.0
        return AlertsModel._text(alert, column)

    @staticmethod
    def _colour(alert: Alert, column: int) -> QColor | None:
        return SEVERITY_COLOURS[alert.severity] if column == SEVERITY else None

    @staticmethod
    def _tip(alert: Alert, column: int) -> str | None:
        if column == SUMMARY:
            return alert.summary
        if column == COMMENT:
            return alert.ack_comment
        return None


class AlertsFilter(QSortFilterProxyModel):
    """Active alerts (pending or firing, acknowledged or not), or the resolved history."""

    def __init__(self, *, history: bool, parent: Any = None) -> None:
        super().__init__(parent)
        self.history = history
        self.setSortRole(SORT_ROLE)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        alert = model.index(source_row, 0, source_parent).data(ALERT_ROLE)
        if alert is None:
            return False
        resolved = alert.state is AlertState.RESOLVED
        return resolved if self.history else not resolved
