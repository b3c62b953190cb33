"""Alerts: the active ones (firing, pending, acknowledged) and the history of resolved ones;
acknowledge with a comment, silence a rule (or a provider) until a time."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opsconsole.console.models.alerts import (
    ALERT_ROLE,
    HEADERS,
    SINCE,
    AlertsFilter,
    AlertsModel,
)
from opsconsole.console.panes.base import ALERTS_WRITE, Pane, ServerClock, log, spawn
from opsconsole.console.qt import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.confirm import ReasonDialog
from opsconsole.console.widgets.tables import sorted_rows_table
from opsconsole.wire.alerts import Alert, AlertState, Severity, SilenceRequest

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection

SILENCE_CHOICES = [
    ("1 hour", timedelta(hours=1)),
    ("4 hours", timedelta(hours=4)),
    ("24 hours", timedelta(hours=24)),
    ("7 days", timedelta(days=7)),
]


def _table(proxy: AlertsFilter, name: str) -> QTableView:
    return sorted_rows_table(
        proxy,
        name,
        sort_by=SINCE,
        order=Qt.SortOrder.DescendingOrder,
        widths=(70, 95, 180, 320, 95, 140, 160, 95),
    )


class AlertsPane(Pane):
    """Two tabs over one model, and the Acknowledge and Silence buttons."""

    title = "Alerts"
    name = "alerts"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.model = AlertsModel(self)
        self.active = AlertsFilter(history=False, parent=self)
        self.active.setSourceModel(self.model)
        self.history = AlertsFilter(history=True, parent=self)
        self.history.setSourceModel(self.model)
        self.active_table = _table(self.active, "activeAlerts")
        self.history_table = _table(self.history, "alertHistory")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("alertTabs")
        self.tabs.addTab(self.active_table, "Active")
        self.tabs.addTab(self.history_table, "History")
        self.ack_button = QPushButton("Acknowledge…")
        self.ack_button.setObjectName("ackAlert")
        self.silence_button = QPushButton("Silence…")
        self.silence_button.setObjectName("silenceAlert")
        self.message = QLabel("")
        self.message.setObjectName("alertsMessage")
        self.dialog: ReasonDialog | None = None

        buttons = QHBoxLayout()
        buttons.addWidget(self.ack_button)
        buttons.addWidget(self.silence_button)
        buttons.addStretch(1)
        buttons.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)

        self.guard(self.ack_button, ALERTS_WRITE, "Acknowledge the selected firing alert.")
        self.guard(self.silence_button, ALERTS_WRITE, "Silence the selected alert's rule.")
        for table in (self.active_table, self.history_table):
            table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.tabs.currentChanged.connect(self._on_table_selection_changed)
        self.model.rowsInserted.connect(self._update_tab_titles)
        self.model.modelReset.connect(self._update_tab_titles)
        self.model.dataChanged.connect(self._update_tab_titles)
        self.ack_button.clicked.connect(self._on_ack_button_clicked)
        self.silence_button.clicked.connect(self._on_silence_button_clicked)
        connection.alert_received.connect(self._on_connection_alert_received)

    async def load(self) -> None:
        alerts = await self.connection.alerts()
        self.model.set_alerts(alerts)

    def selected(self) -> Alert | None:
        table = self.active_table if self.tabs.currentIndex() == 0 else self.history_table
        rows = table.selectionModel().selectedRows()
        if not rows:
            return None
        alert: Alert = rows[0].data(ALERT_ROLE)
        return alert

    def select(self, alert_id: int) -> None:
        """Select an alert in whichever tab holds it."""
        for tab, (table, proxy) in enumerate(
            ((self.active_table, self.active), (self.history_table, self.history))
        ):
            for row in range(proxy.rowCount()):
                if proxy.index(row, 0).data(ALERT_ROLE).id == alert_id:
                    self.tabs.setCurrentIndex(tab)
                    table.selectRow(row)
                    return

    def save_state(self) -> dict[str, Any]:
        return {
            "tab": self.tabs.currentIndex(),
            "widths": [self.active_table.columnWidth(c) for c in range(len(HEADERS))],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        tab = state.get("tab")
        if isinstance(tab, int) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        widths = state.get("widths")
        if isinstance(widths, list) and len(widths) == len(HEADERS):
            for column, width in enumerate(widths):
                for table in (self.active_table, self.history_table):
                    table.setColumnWidth(column, max(30, int(width)))

    # --- private ----------------------------------------------------------------------------

    def _extra_enabled(self, widget: QWidget) -> bool:
        alert = self.selected()
        if alert is None:
            return False
        if widget is self.ack_button:
            return alert.state is AlertState.FIRING and not alert.acknowledged_by
        return True

    def _update_tab_titles(self, *_: object) -> None:
        self.tabs.setTabText(0, f"Active ({self.active.rowCount()})")
        self.tabs.setTabText(1, f"History ({self.history.rowCount()})")
        self.refresh_guards()

    def _on_table_selection_changed(self, *_: object) -> None:
        self.refresh_guards()

    def _on_ack_button_clicked(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        self.dialog = ReasonDialog(
            "Acknowledge alert",
            f"<b>{alert.severity.value}</b> {alert.rule}: {alert.summary}",
            action="Acknowledge",
            min_length=1,
            parent=self,
        )
        self.dialog.setObjectName("ackDialog")
        self.dialog.reason_edit.setPlaceholderText("Comment: what you are doing about it")
        self.dialog.accepted.connect(
            lambda d=self.dialog: spawn(self._acknowledge(alert.id, d.reason))
        )
        self.dialog.open()

    def _on_silence_button_clicked(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        provider = alert.labels.get("provider")
        target = f"rule {alert.rule}" + (f" for provider {provider}" if provider else "")
        self.dialog = ReasonDialog(
            "Silence",
            f"Silence {target}: no notifications until the time chosen.",
            action="Silence",
            until_choices=SILENCE_CHOICES,
            parent=self,
        )
        self.dialog.setObjectName("silenceDialog")
        self.dialog.accepted.connect(
            lambda d=self.dialog: spawn(
                self._silence(
                    alert.rule,
                    str(provider) if provider else None,
                    d.reason,
                    d.duration or SILENCE_CHOICES[0][1],
                )
            )
        )
        self.dialog.open()

    async def _acknowledge(self, alert_id: int, comment: str) -> None:
        try:
            alert = await self.connection.ack_alert(alert_id, comment)
        except Exception as exc:
            log.warning("ack %s: %s", alert_id, exc)
            self.message.setText(f"Acknowledge failed: {exc}")
            return
        self.model.upsert(alert)
        self.message.setText(f"Acknowledged alert {alert_id}")

    async def _silence(
        self, rule: str, provider: str | None, reason: str, duration: timedelta
    ) -> None:
        request = SilenceRequest(
            until=self.clock.now() + duration, reason=reason, rule=rule, provider=provider
        )
        try:
            silence = await self.connection.silence(request)
        except Exception as exc:
            log.warning("silence %s: %s", rule, exc)
            self.message.setText(f"Silence failed: {exc}")
            return
        self.message.setText(f"Silenced {rule} until {silence.until.astimezone():%d %b %H:%M}")

    def _on_connection_alert_received(self, alert: Alert) -> None:
        before = self.model.find(alert.id)
        self.model.upsert(alert)
        newly_firing = alert.state is AlertState.FIRING and (
            before is None or before.state is not AlertState.FIRING
        )
        if newly_firing and alert.severity is not Severity.INFO:
            self.notified.emit(f"Alert {alert.severity.value}: {alert.summary}")
