"""Provider health: the table, kept live by the snapshots, and the breaker's trip and reset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from opsconsole.console.models.providers import HEADERS, NAME, SORT_ROLE, ProviderHealthModel
from opsconsole.console.panes.base import PROVIDERS_WRITE, Pane, ServerClock, log, spawn
from opsconsole.console.qt import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSortFilterProxyModel,
    Qt,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.confirm import ReasonDialog
from opsconsole.wire.gate import BreakerAction

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.wire.metrics import MetricsSnapshot
    from opsconsole.wire.stream import HealthChange


class ProvidersPane(Pane):
    """The health table with Trip and Reset buttons for the selected provider."""

    title = "Provider health"
    name = "providers"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.model = ProviderHealthModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setObjectName("providersTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.trip_button = QPushButton("Trip breaker…")
        self.trip_button.setObjectName("tripBreaker")
        self.reset_button = QPushButton("Reset breaker…")
        self.reset_button.setObjectName("resetBreaker")
        self.message = QLabel("")
        self.message.setObjectName("providersMessage")
        self.dialog: ReasonDialog | None = None

        buttons = QHBoxLayout()
        buttons.addWidget(self.trip_button)
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        buttons.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        select_tip = "Opens or closes the selected provider's circuit breaker, with a reason."
        self.guard(self.trip_button, PROVIDERS_WRITE, select_tip)
        self.guard(self.reset_button, PROVIDERS_WRITE, select_tip)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.trip_button.clicked.connect(lambda: self._ask("trip"))
        self.reset_button.clicked.connect(lambda: self._ask("reset"))
        connection.snapshot_received.connect(self._on_connection_snapshot_received)
        connection.health_changed.connect(self._on_connection_health_changed)

    async def load(self) -> None:
        self.model.set_health(await self.connection.health())

    def selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.provider(self.proxy.mapToSource(rows[0]).row()).name

    def select(self, provider: str) -> None:
        row = self.model.row_of(provider)
        if row is not None:
            self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())

    def save_state(self) -> dict[str, Any]:
        header = self.table.horizontalHeader()
        return {
            "sort": [header.sortIndicatorSection(), header.sortIndicatorOrder().value],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        sort = state.get("sort")
        if isinstance(sort, list) and len(sort) == 2 and 0 <= int(sort[0]) < len(HEADERS):
            self.table.sortByColumn(int(sort[0]), Qt.SortOrder(int(sort[1])))

    # --- private ----------------------------------------------------------------------------

    def _extra_enabled(self, widget: QWidget) -> bool:
        return self.selected() is not None

    def _ask(self, action: Literal["trip", "reset"]) -> None:
        provider = self.selected()
        if provider is None:
            return
        verb = "Trip" if action == "trip" else "Reset"
        effect = (
            "opens its breaker: no requests go to it until it is reset"
            if action == "trip"
            else "closes its breaker: requests go to it again"
        )
        self.dialog = ReasonDialog(
            f"{verb} the breaker of {provider}",
            f"{verb} <b>{provider}</b>: {effect}.",
            action=verb,
            parent=self,
        )
        self.dialog.setObjectName("breakerDialog")
        self.dialog.accepted.connect(
            lambda d=self.dialog: spawn(self._breaker(provider, action, d.reason))
        )
        self.dialog.open()

    async def _breaker(self, provider: str, action: Literal["trip", "reset"], reason: str) -> None:
        self.message.setText(f"{action} {provider}…")
        try:
            await self.connection.breaker_action(
                provider, BreakerAction(action=action, reason=reason)
            )
            self.model.set_health(await self.connection.health())
        except Exception as exc:
            log.warning("breaker %s %s: %s", action, provider, exc)
            self.message.setText(f"{action} {provider} failed: {exc}")
            self.notified.emit(f"Breaker {action} of {provider} failed: {exc}")
            return
        self.message.setText(f"{provider}: breaker {'tripped' if action == 'trip' else 'reset'}")

    def _on_table_selection_changed(self, *_: object) -> None:
        self.refresh_guards()

    def _on_connection_snapshot_received(self, snapshot: MetricsSnapshot) -> None:
        if snapshot.health:
            selected = self.selected()
            self.model.set_health(snapshot.health)
            if selected is not None and self.selected() != selected:
                self.select(selected)  # a model reset (a new provider) drops the selection

    def _on_connection_health_changed(self, change: HealthChange) -> None:
        self.notified.emit(
            f"{change.provider}: {change.before.value} → {change.after.value}"
            + (f" ({change.reason})" if change.reason else "")
        )
