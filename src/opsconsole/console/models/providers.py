"""Provider health as a table: status, breaker and retry time, p95, success rate, cost, share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsconsole.console.models import base
from opsconsole.console.models.base import RowsTable
from opsconsole.console.qt import QColor, Qt
from opsconsole.wire.gate import BreakerState
from opsconsole.wire.metrics import Health, ProviderHealth

NAME, STATUS, BREAKER, RETRY_AT, P95, SUCCESS, COST_PER_REQUEST, SHARE = range(8)
HEADERS = ("Provider", "Status", "Breaker", "Retry at", "p95", "Success", "Cost/request", "Share")
SORT_ROLE = base.SORT_ROLE  # the pane's proxy sorts by it: figures by value, not by text

STATUS_COLOURS = {
    Health.HEALTHY: QColor("#1b7f3b"),
    Health.DEGRADED: QColor("#b36b00"),
    Health.DOWN: QColor("#c62828"),
}
BREAKER_TEXT = {
    BreakerState.CLOSED: "closed",
    BreakerState.OPEN: "OPEN",
    BreakerState.HALF_OPEN: "half open",
}


def _local_time(at: datetime | None) -> str:
    return "" if at is None else f"{at.astimezone():%H:%M:%S}"


class ProviderHealthModel(RowsTable[ProviderHealth]):
    """One row per provider, updated in place every second from the snapshots."""

    headers = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(
            self._text,
            sort_key=self._sort_key,
            colour=self._colour,
            tip=self._tip,
            roles={Qt.ItemDataRole.TextAlignmentRole: self._alignment},
            parent=parent,
        )

    def set_health(self, rows: list[ProviderHealth]) -> None:
        """Show ``rows``: cells change in place while the providers stay the same."""
        rows = sorted(rows, key=lambda r: r.name)
        if [r.name for r in rows] != [r.name for r in self._rows]:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return
        changed = [
            i for i, (old, new) in enumerate(zip(self._rows, rows, strict=True)) if old != new
        ]
        self._rows = rows
        if changed:
            self.dataChanged.emit(
                self.index(min(changed), 0),
                self.index(max(changed), len(HEADERS) - 1),
                [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, SORT_ROLE],
            )

    def provider(self, row: int) -> ProviderHealth:
        return self._rows[row]

    def row_of(self, name: str) -> int | None:
        for i, row in enumerate(self._rows):
            if row.name == name:
                return i
        return None

    # --- private ----------------------------------------------------------------------------

    @staticmethod
    def _text(row: ProviderHealth, column: int) -> str:
        if column == NAME:
            return row.name
        if column == STATUS:
            return row.status.value
        if column == BREAKER:
            return BREAKER_TEXT[row.breaker]
        if column == RETRY_AT:
            return _local_time(row.retry_at)
        if column == P95:
            return "—" if row.p95_ms is None else f"{row.p95_ms:,.0f} ms"
        if column == SUCCESS:
            return "—" if row.success_rate is None else f"{row.success_rate:.1%}"
        if column == COST_PER_REQUEST:
            return "—" if row.cost_per_request is None else f"${row.cost_per_request:.4f}"
        return f"{row.share:.0%}"

    @staticmethod
    def _sort_key(row: ProviderHealth, column: int) -> Any:
        values: tuple[Any, ...] = (
            row.name,
            list(Health).index(row.status),
            row.breaker.value,
            row.retry_at.timestamp() if row.retry_at else 0.0,
            row.p95_ms if row.p95_ms is not None else -1.0,
            row.success_rate if row.success_rate is not None else -1.0,
            row.cost_per_request if row.cost_per_request is not None else -1.0,
            row.share,
        )
        return values[column]

    @staticmethod
    def _colour(row: ProviderHealth, column: int) -> QColor | None:
        if column == STATUS:
            return STATUS_COLOURS[row.status]
        if column == BREAKER and row.breaker is not BreakerState.CLOSED:
            return STATUS_COLOURS[Health.DOWN]
        return None

    @staticmethod
    def _tip(row: ProviderHealth, column: int) -> str | None:
        return row.reason if column in (NAME, STATUS) and row.reason else None

    @staticmethod
    def _alignment(row: ProviderHealth, column: int) -> int | None:
        # Figures line up on the right, where their digits can be compared.
        if column >= P95:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
