"""The audit log: filters (actor, action, target, time range), new rows live from the stream,
export to CSV or JSON Lines with progress and cancel, and the server's hash-chain verification.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.console.connection import ApiError
from opsconsole.console.models.audit import HEADERS, AuditModel, AuditQuery
from opsconsole.console.panes.base import Pane, ServerClock, spawn
from opsconsole.console.qt import (
    QAbstractItemView,
    QComboBox,
    QDateTime,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    Qt,
    QTableView,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from opsconsole.wire.audit import AuditEntry, AuditVerifyResult
from opsconsole.wire.common import Page

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection

log = logging.getLogger("opsconsole.console.panes.audit")

AUDIT_READ = "audit:read"
AUDIT_EXPORT = "audit:export"
PAGE = 200
FILTER_DELAY_MS = 400  # typing pauses this long before the log is asked again
CUSTOM = "custom"
RANGES: list[tuple[str, timedelta | str | None]] = [
    ("Last hour", timedelta(hours=1)),
    ("Last 24 hours", timedelta(hours=24)),
    ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)),
    ("All time", None),
    ("Custom…", CUSTOM),
]
ACTION_FAMILIES = [
    "",
    "auth.",
    "alerts.",
    "app_keys.",
    "controls.",
    "impersonations.",
    "operators.",
    "providers.",
    "tickets.",
    "tiers.",
    "users.",
]
OK_STYLE = "QLabel { color: #1a7f37; font-weight: bold; }"
BROKEN_STYLE = "QLabel { background: #c62828; color: #ffffff; font-weight: bold; padding: 3px; }"


def verify_text(result: AuditVerifyResult) -> str:
    """The verification in words: intact with how much was checked, or where it breaks."""
    if result.ok:
        head = f", head seq {result.head_seq}" if result.head_seq is not None else ""
        return f"Chain intact: {result.rows_checked:,} rows checked{head}."
    broken = result.first_break
    if broken is None:
        return f"Chain NOT intact ({result.rows_checked:,} rows checked)."
    return (
        f"Chain BROKEN at seq {broken.seq} ({broken.kind}): {broken.detail} "
        f"[{result.rows_checked:,} rows checked]"
    )


def line_seq(line: str, fmt: str) -> int | None:
    """The sequence number of one exported line (CSV's first column, JSONL's ``seq``)."""
    if fmt == "csv":
        first = line.split(",", 1)[0]
        return int(first) if first.isdigit() else None
    try:
        seq = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None


class AuditPane(Pane):
    """Filters above the table; verify, export and their results below."""

    title = "Audit"
    name = "audit"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.model = AuditModel(self)
        self.current_query = AuditQuery()
        self.next_cursor: str | None = None
        self.verify_result: AuditVerifyResult | None = None
        self.exported_rows = 0
        self._export_task: asyncio.Future[None] | None = None
        self._exporting = False
        self._load_task: asyncio.Future[None] | None = None

        self._build_filters()
        self._build_table()
        self._build_actions()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(self.bottom)
        layout.addWidget(self.verify_label)

        self.guard(self.verify_button, AUDIT_READ, "Ask the server to check the hash chain.")
        self.guard(self.export_button, AUDIT_EXPORT, "Save the filtered log to a file.")
        self.guard(self.older_button, AUDIT_READ, "Fetch the next older page.")
        connection.audit_received.connect(self._on_connection_audit_received)

    # --- public -----------------------------------------------------------------------------

    async def load(self) -> None:
        """The newest page for the filters chosen."""
        if self.connection.operator is not None and not self.connection.can(AUDIT_READ):
            self.count_label.setText(self.connection.why_not(AUDIT_READ))
            return
        query = self.query()
        page: Page[AuditEntry] = await self.connection.get(
            "/v1/audit", Page[AuditEntry], params={**query.params(), "limit": PAGE}
        )
        self.current_query = query
        self.model.set_entries(page.items)
        self.next_cursor = page.next_cursor
        self._show_count()

    def apply_filters(self) -> asyncio.Future[None]:
        """Fetch the log for the filters as they are now (typing waits a moment first)."""
        self._debounce.stop()
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = spawn(self._quietly(self.load()))
        return self._load_task

    async def load_older(self) -> None:
        if self.next_cursor is None:
            return
        params = {**self.current_query.params(), "limit": PAGE, "cursor": self.next_cursor}
        page: Page[AuditEntry] = await self.connection.get(
            "/v1/audit", Page[AuditEntry], params=params
        )
        self.model.add_older(page.items)
        self.next_cursor = page.next_cursor
        self._show_count()

    def query(self) -> AuditQuery:
        """The filters as chosen, the time range counted back from the server's clock."""
        span = self.range_combo.currentData()
        since: datetime | None = None
        until: datetime | None = None
        if span == CUSTOM:
            since = _utc(self.from_edit.dateTime())
            until = _utc(self.to_edit.dateTime())
        elif isinstance(span, timedelta):
            since = self.clock.now() - span
        return AuditQuery(
            actor=self.actor_edit.text().strip(),
            action=self.action_edit.currentText().strip(),
            target=self.target_edit.text().strip(),
            since=since,
            until=until,
        )

    async def verify(self) -> AuditVerifyResult | None:
        self.verify_label.setStyleSheet("")
        self.verify_label.setText("Verifying the chain…")
        try:
            result: AuditVerifyResult = await self.connection.get(
                "/v1/audit/verify", AuditVerifyResult
            )
        except ApiError as error:
            self.verify_label.setText(f"Could not verify: {error}")
            return None
        self.verify_result = result
        self.verify_label.setText(verify_text(result))
        self.verify_label.setStyleSheet(OK_STYLE if result.ok else BROKEN_STYLE)
        if not result.ok:
            self.notified.emit("Audit log: " + verify_text(result))
        return result

    def export_to(self, path: Path, fmt: str) -> asyncio.Future[None]:
        """Export the filtered log (oldest first) to ``path`` as ``csv`` or ``jsonl``."""
        self._export_task = spawn(self._export(path, fmt))
        return self._export_task

    def cancel_export(self) -> None:
        if self._export_task is not None and not self._export_task.done():
            self._export_task.cancel()

    def save_state(self) -> dict[str, Any]:
        return {
            "widths": [self.table.columnWidth(c) for c in range(len(HEADERS))],
            "range": self.range_combo.currentIndex(),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        widths = state.get("widths")
        if isinstance(widths, list) and len(widths) == len(HEADERS):
            for column, width in enumerate(widths):
                self.table.setColumnWidth(column, max(30, int(width)))
        index = state.get("range")
        if isinstance(index, int) and 0 <= index < self.range_combo.count():
            self.range_combo.setCurrentIndex(index)

    # --- building ---------------------------------------------------------------------------

    def _build_filters(self) -> None:
        self.actor_edit = QLineEdit()
        self.actor_edit.setObjectName("auditActor")
        self.actor_edit.setPlaceholderText("actor (exact)")
        self.action_edit = QComboBox()
        self.action_edit.setObjectName("auditAction")
        self.action_edit.setEditable(True)
        self.action_edit.addItems(ACTION_FAMILIES)
        self.action_edit.setToolTip('An action ("tickets.update"), or a family ending in a dot.')
        line = self.action_edit.lineEdit()
        if line is not None:
            line.setPlaceholderText("action or family.")
        self.target_edit = QLineEdit()
        self.target_edit.setObjectName("auditTarget")
        self.target_edit.setPlaceholderText("target, e.g. user:u42 (exact)")
        self.range_combo = QComboBox()
        self.range_combo.setObjectName("auditRange")
        for label, span in RANGES:
            self.range_combo.addItem(label, span)
        self.range_combo.setCurrentIndex(self.range_combo.findText("All time"))
        now = QDateTime.currentDateTime()
        self.from_edit = QDateTimeEdit(now.addDays(-1))
        self.to_edit = QDateTimeEdit(now)
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setVisible(False)
            edit.dateTimeChanged.connect(self._on_filter_changed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(FILTER_DELAY_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self.actor_edit.textChanged.connect(self._on_filter_changed)
        self.target_edit.textChanged.connect(self._on_filter_changed)
        self.action_edit.currentTextChanged.connect(self._on_filter_changed)
        self.range_combo.currentIndexChanged.connect(self._on_range_changed)
        self.action_edit.setMinimumWidth(180)
        self.filters = QHBoxLayout()
        self.filters.addWidget(self.actor_edit, 1)
        self.filters.addWidget(self.action_edit, 1)
        self.filters.addWidget(self.target_edit, 2)
        for widget in (self.range_combo, self.from_edit, self.to_edit):
            self.filters.addWidget(widget)

    def _build_table(self) -> None:
        table = QTableView()
        table.setObjectName("auditTable")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.verticalHeader().setVisible(False)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((60, 140, 130, 150, 150, 380, 90)):
            table.setColumnWidth(column, width)
        self.table = table

    def _build_actions(self) -> None:
        self.count_label = QLabel("")
        self.count_label.setObjectName("auditCount")
        self.older_button = QPushButton("Load older")
        self.older_button.setObjectName("auditOlder")
        self.older_button.clicked.connect(lambda: spawn(self._quietly(self.load_older())))
        self.verify_button = QPushButton("Verify chain")
        self.verify_button.setObjectName("auditVerify")
        self.verify_button.clicked.connect(lambda: spawn(self._quietly(self.verify())))
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("auditFormat")
        self.format_combo.addItem("CSV", "csv")
        self.format_combo.addItem("JSON Lines", "jsonl")
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("auditExport")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.progress = QProgressBar()
        self.progress.setObjectName("auditExportProgress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("auditExportCancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.export_label = QLabel("")
        self.export_label.setObjectName("auditExportMessage")
        self.verify_label = QLabel("")
        self.verify_label.setObjectName("auditVerifyResult")
        self.verify_label.setWordWrap(True)
        self.verify_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bottom = QHBoxLayout()
        self.bottom.addWidget(self.count_label)
        self.bottom.addWidget(self.older_button)
        self.bottom.addStretch(1)
        widgets: tuple[QWidget, ...] = (
            self.export_label,
            self.progress,
            self.cancel_button,
            self.format_combo,
            self.export_button,
            self.verify_button,
        )
        for widget in widgets:
            self.bottom.addWidget(widget)

    # --- private ----------------------------------------------------------------------------

    async def _quietly(self, call: Any) -> None:
        try:
            await call
        except ApiError as error:
            self.count_label.setText(f"Not loaded: {error}")

    async def _export(self, path: Path, fmt: str) -> None:
        self.exported_rows = 0
        self._exporting = True
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.refresh_guards()
        self.export_label.setText(f"Exporting to {path.name}…")
        try:
            # The export walks the log in sequence order: how far it got in seq is its progress.
            newest: Page[AuditEntry] = await self.connection.get(
                "/v1/audit", Page[AuditEntry], params={"limit": 1}
            )
            head = newest.items[0].seq if newest.items else 0

            def on_line(line: str) -> None:
                seq = line_seq(line, fmt)
                if seq is None:
                    return
                self.exported_rows += 1
                if head:
                    self.progress.setValue(min(1000, seq * 1000 // head))

            params = {**self.query().params(), "format": fmt}
            size = await self.connection.download(
                "/v1/audit/export", path, params=params, on_line=on_line
            )
        except asyncio.CancelledError:
            self.export_label.setText("Export cancelled; no file written.")
            raise
        except ApiError as error:
            self.export_label.setText(f"Export failed: {error}")
            return
        finally:
            self._exporting = False
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)
            self.refresh_guards()
        self.progress.setValue(1000)
        self.export_label.setText(
            f"Exported {self.exported_rows:,} rows ({size / 1024:,.0f} KiB) to {path}"
        )

    def _show_count(self) -> None:
        more = " (older: Load older)" if self.next_cursor else ""
        self.count_label.setText(f"{self.model.rowCount():,} rows{more}")
        self.older_button.setVisible(self.next_cursor is not None)

    def _extra_enabled(self, widget: QWidget) -> bool:
        if widget is self.export_button:
            return not self._exporting
        return True

    def _on_filter_changed(self, *_: object) -> None:
        self._debounce.start()

    def _on_range_changed(self, *_: object) -> None:
        custom = self.range_combo.currentData() == CUSTOM
        self.from_edit.setVisible(custom)
        self.to_edit.setVisible(custom)
        self._debounce.start()

    def _on_debounce_timeout(self) -> None:
        self.apply_filters()

    def _on_connection_audit_received(self, entry: AuditEntry) -> None:
        if self.current_query.matches(entry):
            self.model.add_live(entry)
            self._show_count()

    def _on_export_button_clicked(self) -> None:
        fmt = str(self.format_combo.currentData())
        suggested = f"audit-{datetime.now(UTC):%Y%m%d-%H%M}.{fmt}"
        name, _ = QFileDialog.getSaveFileName(
            self, "Export the audit log", suggested, f"{fmt.upper()} (*.{fmt})"
        )
        if name:
            self.export_to(Path(name), fmt)


def _utc(moment: QDateTime) -> datetime:
    return datetime.fromtimestamp(moment.toSecsSinceEpoch(), tz=UTC)
