"""The users pane: search as you type, filters, paged results, bulk actions, and the details.

Every keystroke restarts a short debounce; when it fires, the search still running is
cancelled and a new one starts under a new generation number, so a slow answer to an older
query can never replace the answer to a newer one. Further pages are fetched as the operator
scrolls (the model's ``fetchMore``). The impersonation banner lives here too; the main
window lifts it above every dock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from opsconsole.console.dialogs.user_actions import BulkDialog, who
from opsconsole.console.models.users import USER_HEADERS, UserSearchModel
from opsconsole.console.panes.base import Pane, ServerClock, log, spawn
from opsconsole.console.panes.user_details import GATE_DRY_RUN, UserDetails
from opsconsole.console.panes.user_refusal import explain
from opsconsole.console.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDate,
    QDateEdit,
    QDesktopServices,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    Qt,
    QTableView,
    QTimer,
    QUrl,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.impersonation_banner import BannerState, ImpersonationBanner
from opsconsole.wire.gate import AdmitResponse, TierPublic
from opsconsole.wire.impersonation import ImpersonationPublic, ImpersonationStarted
from opsconsole.wire.users import BulkAction, BulkResult, UserPublic

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection
    from opsconsole.wire.metrics import MetricsSnapshot
    from opsconsole.wire.stream import UserChange

USERS_READ = "users:read"
USERS_BULK = "users:bulk"
USERS_TIER = "users:tier"
DEBOUNCE_MS = 200  # a pause between keystrokes, not a wait anyone notices
PAGE_SIZE = 100
STATUSES = ("active", "suspended", "erased")


def _day(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class UsersPane(Pane):
    """Find users, act on one or many, and impersonate one."""

    title = "Users"
    name = "users"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.model = UserSearchModel(self)
        self.details = UserDetails(connection, clock)
        self.banner = ImpersonationBanner()
        self.impersonation: ImpersonationStarted | None = None
        self.dialog: BulkDialog | None = None
        self.action_task: asyncio.Future[None] | None = None  # the last bulk action sent
        self.last_search_ms: float | None = None  # keystroke (debounce end) to rows shown
        self._search_task: asyncio.Future[None] | None = None
        self._typed_at = 0.0
        self._tiers: list[str] = []

        self.status_label = QLabel("")
        self.status_label.setObjectName("searchStatus")

        self.bulk_suspend = QPushButton("Suspend selected…")
        self.bulk_suspend.setObjectName("bulkSuspend")
        self.bulk_activate = QPushButton("Activate selected…")
        self.bulk_activate.setObjectName("bulkActivate")
        self.bulk_tier = QPushButton("Change tier of selected…")
        self.bulk_tier.setObjectName("bulkTier")

        filters = self._build_filters()
        self._build_table()
        bulk = QHBoxLayout()
        bulk.addWidget(self.status_label, 1)
        bulk.addWidget(self.bulk_suspend)
        bulk.addWidget(self.bulk_activate)
        bulk.addWidget(self.bulk_tier)
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addLayout(filters)
        results_layout.addWidget(self.table, 1)
        results_layout.addLayout(bulk)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("usersSplitter")
        self.splitter.addWidget(results)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        self._also_needs: dict[QWidget, str] = {self.bulk_tier: USERS_BULK}
        self.guard(self.search_edit, USERS_READ, "")
        self.guard(self.bulk_suspend, USERS_BULK, "Suspend every selected user, with one reason.")
        self.guard(self.bulk_activate, USERS_BULK, "Activate every selected user, one reason.")
        self.guard(self.bulk_tier, USERS_TIER, "Move every selected user to one tier.")

        self._connect(connection)

    # --- public -----------------------------------------------------------------------------

    async def load(self) -> None:
        if not self.connection.can(USERS_READ):
            self.status_label.setText(self.connection.why_not(USERS_READ))
            return
        try:
            tiers: list[TierPublic] = await self.connection.get("/v1/tiers", list[TierPublic])
        except Exception as exc:
            log.warning("tiers not loaded: %s", exc)
        else:
            self._set_tiers([t.name for t in tiers])
        await self.search()

    def open_user(self, user_id: str) -> asyncio.Future[None]:
        """Show ``user_id`` in the details (quick search calls this), selecting its row."""
        row = self.model.row_of(user_id)
        if row is not None:
            self.table.selectRow(row)
        return spawn(self._show(user_id))

    def search(self) -> asyncio.Future[None]:
        """Search now with the box and filters as they are; the search running is cancelled."""
        self._debounce.stop()
        if self._search_task is not None and not self._search_task.done():
            self._search_task.cancel()
        generation = self.model.begin_search()
        self._search_task = spawn(self._search(generation, self.query()))
        return self._search_task

    def query(self) -> dict[str, Any]:
        """The search's parameters as the server takes them."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        text = self.search_edit.text().strip()
        if text:
            params["q"] = text[:200]
        if self.tier_combo.currentData():
            params["tier"] = self.tier_combo.currentData()
        if self.status_combo.currentData():
            params["status"] = self.status_combo.currentData()
        if self.joined_box.isChecked():
            start = _day(self.joined_from.date())
            end = _day(self.joined_to.date()) + timedelta(days=1)  # the day is included
            params["joined_from"] = datetime.combine(start, dtime(), UTC).isoformat()
            params["joined_to"] = datetime.combine(end, dtime(), UTC).isoformat()
        return params

    def selected_ids(self) -> list[str]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.model.row(row).id for row in rows]

    async def end_impersonation(self) -> None:
        started = self.impersonation
        if started is None:
            return
        try:
            await self.connection.send(
                "DELETE", f"/v1/impersonations/{quote(started.id)}", model=ImpersonationPublic
            )
        except Exception as exc:
            self.notified.emit(f"Ending the impersonation failed: {exc}")
            return
        self.impersonation = None
        self.banner.ended()

    async def test_as_user(self) -> AdmitResponse | None:
        """A test request as the impersonated user: the gate's dry run, shown in the banner."""
        user_id = self.banner.user_id
        if not user_id:
            return None
        if not self.connection.can(GATE_DRY_RUN):
            self.banner.show_gate_view(self.connection.why_not(GATE_DRY_RUN))
            return None
        try:
            decision = await self.connection.send(
                "POST", "/v1/gate/dry-run", json={"user_id": user_id}, model=AdmitResponse
            )
            user = await self.connection.get(f"/v1/users/{quote(user_id, safe='')}", UserPublic)
        except Exception as exc:
            self.banner.show_gate_view(f"The test request could not be sent: {exc}")
            return None
        assert isinstance(decision, AdmitResponse)
        usage = (
            self.details.usage
            if self.details.usage and self.details.usage.user_id == user_id
            else None
        )
        self.banner.show_gate_view(
            f"As the gate sees {user_id} (tier {user.tier}, {user.status}): "
            + explain(decision, user, usage)
        )
        return decision

    def open_app_as_user(self) -> QUrl | None:
        """Open the app in the browser with the impersonation token (the profile's template)."""
        template = self.connection.profile.impersonation_url
        if not template or self.impersonation is None:
            return None
        url = QUrl(template.replace("{token}", quote(self.impersonation.token, safe="")))
        QDesktopServices.openUrl(url)
        return url

    def save_state(self) -> dict[str, Any]:
        header = self.table.horizontalHeader()
        return {
            "columns": [header.sectionSize(i) for i in range(len(USER_HEADERS))],
            "splitter": [int(size) for size in self.splitter.sizes()],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        columns = state.get("columns")
        if isinstance(columns, list) and len(columns) == len(USER_HEADERS):
            for i, width in enumerate(columns):
                self.table.setColumnWidth(i, max(30, int(width)))
        sizes = state.get("splitter")
        if isinstance(sizes, list) and len(sizes) == 2:
            self.splitter.setSizes([int(s) for s in sizes])

    # --- private ----------------------------------------------------------------------------

    def _build_filters(self) -> QHBoxLayout:
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("userSearch")
        self.search_edit.setPlaceholderText("Search by id, email or name…")
        self.search_edit.setClearButtonEnabled(True)
        self.tier_combo = QComboBox()
        self.tier_combo.setObjectName("tierFilter")
        self.tier_combo.addItem("Any tier", None)
        self.status_combo = QComboBox()
        self.status_combo.setObjectName("statusFilter")
        self.status_combo.addItem("Any status", None)
        for status in STATUSES:
            self.status_combo.addItem(status, status)
        self.joined_box = QCheckBox("Joined")
        self.joined_box.setObjectName("joinedFilter")
        today = QDate.currentDate()
        self.joined_from = QDateEdit(today.addMonths(-1))
        self.joined_from.setObjectName("joinedFrom")
        self.joined_to = QDateEdit(today)
        self.joined_to.setObjectName("joinedTo")
        for edit in (self.joined_from, self.joined_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.joined_box.toggled.connect(self.joined_from.setEnabled)
        self.joined_box.toggled.connect(self.joined_to.setEnabled)
        filters = QHBoxLayout()
        filters.addWidget(self.search_edit, 3)
        filters.addWidget(self.tier_combo)
        filters.addWidget(self.status_combo)
        filters.addWidget(self.joined_box)
        filters.addWidget(self.joined_from)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.joined_to)
        return filters

    def _build_table(self) -> None:
        self.table = QTableView()
        self.table.setObjectName("usersTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((150, 150, 220, 80, 80, 60, 90)):
            self.table.setColumnWidth(column, width)

    def _connect(self, connection: Connection) -> None:
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self.search_edit.textChanged.connect(self._on_filters_changed)
        self.tier_combo.currentIndexChanged.connect(self._on_filters_changed)
        self.status_combo.currentIndexChanged.connect(self._on_filters_changed)
        self.joined_box.toggled.connect(self._on_filters_changed)
        self.joined_from.dateChanged.connect(self._on_filters_changed)
        self.joined_to.dateChanged.connect(self._on_filters_changed)
        self.model.more_requested.connect(self._on_model_more_requested)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_current_changed)
        self.bulk_suspend.clicked.connect(lambda: self._ask_bulk("suspend"))
        self.bulk_activate.clicked.connect(lambda: self._ask_bulk("activate"))
        self.bulk_tier.clicked.connect(lambda: self._ask_bulk("change_tier"))
        self.details.user_changed.connect(self.model.update_user)
        self.details.impersonation_started.connect(self._on_details_impersonation_started)
        self.details.notified.connect(self.notified)
        self.banner.end_requested.connect(lambda: spawn(self.end_impersonation()))
        self.banner.test_requested.connect(lambda: spawn(self._test_as_user()))
        self.banner.open_app_requested.connect(self.open_app_as_user)
        self.banner.expired.connect(self._on_banner_expired)
        connection.user_changed.connect(self._on_connection_user_changed)
        connection.snapshot_received.connect(self._on_connection_snapshot_received)

    def _set_tiers(self, names: list[str]) -> None:
        self._tiers = names
        current = self.tier_combo.currentData()
        self.tier_combo.blockSignals(True)
        self.tier_combo.clear()
        self.tier_combo.addItem("Any tier", None)
        for name in names:
            self.tier_combo.addItem(name, name)
        index = self.tier_combo.findData(current)
        self.tier_combo.setCurrentIndex(max(0, index))
        self.tier_combo.blockSignals(False)

    async def _search(self, generation: int, params: dict[str, Any]) -> None:
        self.status_label.setText("Searching…")
        try:
            page = await self.connection.search_users(params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if generation == self.model.generation:
                self.status_label.setText(f"Search failed: {exc}")
            return
        if not self.model.show_first_page(generation, page):
            return
        if self._typed_at:
            self.last_search_ms = (time.perf_counter() - self._typed_at) * 1000
        self._show_count()

    async def _fetch_more(self, generation: int, cursor: str) -> None:
        params = self.query() | {"cursor": cursor}
        try:
            page = await self.connection.search_users(params)
        except Exception as exc:
            self.model.fetch_failed(generation)
            self.status_label.setText(f"More results failed: {exc}")
            return
        if self.model.append_page(generation, page):
            self._show_count()

    def _show_count(self) -> None:
        count = self.model.rowCount()
        if count == 0:
            self.status_label.setText("No user matches.")
        elif self.model.next_cursor is not None:
            self.status_label.setText(f"{count:,} users shown; more as you scroll")
        else:
            self.status_label.setText(f"{count:,} user{'s' if count != 1 else ''}")

    async def _show(self, user_id: str) -> None:
        await self.details.show_user(user_id)

    def _ask_bulk(self, action: BulkAction) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        self.dialog = BulkDialog(action, ids, self._tiers, parent=self)
        self.dialog.setObjectName("bulkDialog")
        self.dialog.accepted.connect(lambda d=self.dialog: self._run_bulk(d))
        self.dialog.open()

    def _run_bulk(self, dialog: BulkDialog) -> None:
        self.action_task = spawn(self._bulk(dialog))

    async def _bulk(self, dialog: BulkDialog) -> None:
        body = dialog.body()
        self.status_label.setText(f"{body.action} on {len(body.ids)} users…")
        try:
            result = await self.connection.send(
                "POST", "/v1/users/bulk", json=body.model_dump(mode="json"), model=BulkResult
            )
        except Exception as exc:
            self.status_label.setText(f"Bulk {body.action} failed: {exc}")
            self.notified.emit(f"Bulk {body.action} failed: {exc}")
            return
        assert isinstance(result, BulkResult)
        parts = [f"{len(result.changed)} changed", f"{len(result.unchanged)} already so"]
        if result.erased:
            parts.append(f"{len(result.erased)} erased (left alone)")
        if result.not_found:
            parts.append(f"{len(result.not_found)} not found")
        text = f"Bulk {body.action}: " + ", ".join(parts) + "."
        await self._refresh_rows(result.changed)
        self.status_label.setText(text)
        self.notified.emit(text)

    async def _refresh_rows(self, ids: list[str]) -> None:
        for user_id in ids:
            try:
                user = await self.connection.get(f"/v1/users/{quote(user_id, safe='')}", UserPublic)
            except Exception as exc:
                log.info("user %s not refreshed: %s", user_id, exc)
                continue
            self.model.update_user(user)
        if self.details.user is not None and self.details.user.id in ids:
            await self.details.reload_user()

    def _apply_guard(self, widget: QWidget, permission: str, tip: str) -> None:
        super()._apply_guard(widget, permission, tip)
        also = self._also_needs.get(widget) if hasattr(self, "_also_needs") else None
        if also and self.connection.online and not self.connection.can(also):
            widget.setEnabled(False)
            widget.setToolTip(self.connection.why_not(also))

    def _extra_enabled(self, widget: QWidget) -> bool:
        if widget is self.search_edit:
            return True
        return bool(self.table.selectionModel().selectedRows())

    def _on_filters_changed(self, *_: object) -> None:
        self._typed_at = time.perf_counter()
        self._debounce.start()

    def _on_debounce_timeout(self) -> None:
        self.search()

    def _on_model_more_requested(self, generation: int, cursor: str) -> None:
        spawn(self._fetch_more(generation, cursor))

    def _on_table_selection_changed(self, *_: object) -> None:
        self.refresh_guards()

    def _on_table_current_changed(self, current: Any, _previous: Any) -> None:
        if current.isValid():
            user = self.model.row(current.row())
            if self.details.user is None or self.details.user.id != user.id:
                spawn(self._show(user.id))

    def _on_details_impersonation_started(self, started_info: object) -> None:
        assert isinstance(started_info, tuple)
        started, user, server_now = started_info
        assert isinstance(started, ImpersonationStarted) and isinstance(user, UserPublic)
        assert isinstance(server_now, datetime)
        self.impersonation = started
        self.banner.begin(
            impersonation_id=started.id,
            user_id=started.user_id,
            user_label=who(user),
            mode=started.mode,
            expires_at=started.expires_at,
            server_now=server_now,
            can_open_app=bool(self.connection.profile.impersonation_url),
        )

    async def _test_as_user(self) -> None:
        await self.test_as_user()

    def _on_banner_expired(self) -> None:
        self.impersonation = None
        self.notified.emit(f"The impersonation of {self.banner.user_label} expired.")

    def _on_connection_snapshot_received(self, snapshot: MetricsSnapshot) -> None:
        if self.banner.state is BannerState.ACTIVE:
            self.banner.observe_server_time(snapshot.at + timedelta(seconds=snapshot.interval_s))

    def _on_connection_user_changed(self, change: UserChange) -> None:
        shown = self.model.row_of(change.user_id) is not None
        current = self.details.user is not None and self.details.user.id == change.user_id
        if shown or current:
            spawn(self._refresh_rows([change.user_id]))
