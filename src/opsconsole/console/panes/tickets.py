"""The support queue: tickets sorted by SLA deadline with a live countdown, the open ticket's
thread with reply, internal note and status/priority/assignee changes, and beside it the
user's AI context (tier, quota state, recent errors and denials).

Tickets created or changed anywhere arrive on the stream (``ticket_changed``) and are put in
their row in place; the queue is fetched again only when the filters change or on a reload.

This module is the pane: the queue, and the fetching and sending. The filters over the queue
are ``ticket_filters``, the open ticket's column ``ticket_view``, the user's context column
``ticket_context``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from opsconsole.console.connection import ApiError
from opsconsole.console.models.tickets import (
    DUE,
    HEADERS,
    TICKET_ROLE,
    TicketQuery,
    TicketsFilter,
    TicketsModel,
)
from opsconsole.console.panes.base import Pane, ServerClock, spawn
from opsconsole.console.panes.ticket_context import UserContextBox
from opsconsole.console.panes.ticket_filters import TicketFilters
from opsconsole.console.panes.ticket_view import TicketView
from opsconsole.console.qt import (
    QSplitter,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.tables import sorted_rows_table
from opsconsole.wire.activity import UserRequest, UserUsage
from opsconsole.wire.common import MAX_PAGE_SIZE, Page
from opsconsole.wire.tickets import (
    MessageKind,
    MessagePublic,
    TicketDetail,
    TicketPriority,
    TicketPublic,
)
from opsconsole.wire.users import UserPublic

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection

log = logging.getLogger("opsconsole.console.panes.tickets")

TICKETS_READ = "tickets:read"
TICKETS_WRITE = "tickets:write"
USERS_READ = "users:read"
QUEUE_LIMIT = 2 * MAX_PAGE_SIZE  # tickets fetched per query; the queue is worked top down
RECENT_REQUESTS = 50


class TicketsPane(Pane):
    """The queue on the left, the open ticket in the middle, the user's context on the right."""

    title = "Tickets"
    name = "tickets"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.model = TicketsModel(clock.now, self)
        self.queue = TicketsFilter(self._me, self)
        self.queue.setSourceModel(self.model)
        self.current: TicketDetail | None = None
        self.user: UserPublic | None = None
        self.usage: UserUsage | None = None
        self.requests: list[UserRequest] | None = None
        self._open_user: Callable[[str], object] | None = None
        self._load_task: asyncio.Future[None] | None = None
        self._open_task: asyncio.Future[None] | None = None
        self._selecting = False  # selecting a row for open_ticket: do not open it twice

        self._build_queue()
        self._build_ticket()
        self._build_context()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("ticketsSplitter")
        splitter.addWidget(self.queue_box)
        splitter.addWidget(self.ticket_view)
        splitter.addWidget(self.context_box)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 4)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([820, 600, 300])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        view = self.ticket_view
        for widget, tip in (
            (view.reply_button, "Send the text to the customer."),
            (view.note_button, "Add the text as an internal note (staff only)."),
            (view.apply_button, "Apply the status, priority and assignee chosen."),
            (view.take_button, "Assign the ticket to yourself."),
        ):
            self.guard(widget, TICKETS_WRITE, tip)
        self.guard(
            self.context_box.open_user_button, USERS_READ, "Open the user in the users pane."
        )
        self._show_ticket(None)

        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._on_countdown_timeout)
        self._countdown.start()
        connection.ticket_changed.connect(self._on_connection_ticket_changed)

    # --- public -----------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the queue for the filters chosen (up to QUEUE_LIMIT tickets)."""
        if self.connection.operator is not None and not self.connection.can(TICKETS_READ):
            self.filters.count_label.setText(self.connection.why_not(TICKETS_READ))
            return
        query = self.query()
        tickets: list[TicketPublic] = []
        cursor: str | None = None
        while len(tickets) < QUEUE_LIMIT:
            params = {**query.params(), "limit": MAX_PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            page: Page[TicketPublic] = await self.connection.get(
                "/v1/tickets", Page[TicketPublic], params=params
            )
            tickets.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        self.model.set_tickets(tickets)
        if query.searching:
            query = replace(query, found=frozenset(ticket.id for ticket in tickets))
        self.queue.set_query(query)
        self._show_count()
        if self.current is not None:
            self._select(self.current.id)

    def open_ticket(self, ticket_id: int) -> asyncio.Future[None]:
        """Show one ticket (thread and user context), selecting its row if the queue has it."""
        self._select(ticket_id)
        if self._open_task is not None and not self._open_task.done():
            self._open_task.cancel()
        self._open_task = spawn(self._open(ticket_id))
        return self._open_task

    def query(self) -> TicketQuery:
        return self.filters.query()

    def set_user_opener(self, opener: Callable[[str], object] | None) -> None:
        """What "Open user" calls (the users pane's ``open_user``); None hides the button."""
        self._open_user = opener
        self.context_box.set_can_open_user(opener is not None)

    def save_state(self) -> dict[str, Any]:
        return {
            "splitter": [int(s) for s in self.splitter.sizes()],
            "widths": [self.table.columnWidth(c) for c in range(len(HEADERS))],
            **self.filters.save_state(),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        sizes = state.get("splitter")
        if isinstance(sizes, list) and len(sizes) == 3:
            self.splitter.setSizes([max(50, int(s)) for s in sizes])
        widths = state.get("widths")
        if isinstance(widths, list) and len(widths) == len(HEADERS):
            for column, width in enumerate(widths):
                self.table.setColumnWidth(column, max(30, int(width)))
        self.filters.restore_state(state)

    # --- building ---------------------------------------------------------------------------

    def _build_queue(self) -> None:
        self.filters = TicketFilters()
        self.filters.changed.connect(self._on_filters_changed)

        table = sorted_rows_table(
            self.queue,
            "ticketQueue",
            sort_by=DUE,
            order=Qt.SortOrder.AscendingOrder,
            widths=(36, 125, 62, 125, 210, 70, 70, 95),
        )
        table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.table = table

        self.queue_box = QWidget()
        box = QVBoxLayout(self.queue_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.filters)
        box.addWidget(table, 1)

    def _build_ticket(self) -> None:
        self.ticket_view = TicketView()
        view = self.ticket_view
        view.apply_button.clicked.connect(self._on_apply_button_clicked)
        view.take_button.clicked.connect(self._on_take_button_clicked)
        view.reply_button.clicked.connect(lambda: self._on_send_clicked(MessageKind.REPLY))
        view.note_button.clicked.connect(lambda: self._on_send_clicked(MessageKind.NOTE))
        view.compose.textChanged.connect(self.refresh_guards)

    def _build_context(self) -> None:
        self.context_box = UserContextBox()
        self.context_box.open_user_button.clicked.connect(self._on_open_user_button_clicked)
        self.set_user_opener(None)

    # --- private ----------------------------------------------------------------------------

    def _me(self) -> str:
        operator = self.connection.operator
        return operator.username if operator else ""

    def _select(self, ticket_id: int) -> None:
        row = self.model.row_of(ticket_id)
        if row is None:
            return
        proxy = self.queue.mapFromSource(self.model.index(row, 0))
        if proxy.isValid() and self.table.currentIndex().row() != proxy.row():
            self._selecting = True
            try:
                self.table.selectRow(proxy.row())
            finally:
                self._selecting = False

    async def _open(self, ticket_id: int) -> None:
        try:
            detail: TicketDetail = await self.connection.get(
                f"/v1/tickets/{ticket_id}", TicketDetail
            )
        except ApiError as error:
            self.ticket_view.message.setText(f"Ticket {ticket_id}: {error}")
            return
        changed_user = self.current is None or self.current.user_id != detail.user_id
        self._show_ticket(detail)
        self.model.upsert(TicketPublic.model_validate(detail.model_dump()))
        if changed_user:
            await self._load_context(detail.user_id)

    async def _load_context(self, user_id: str) -> None:
        self.user, self.usage, self.requests = None, None, None
        if not self.connection.can(USERS_READ):
            self.context_box.show_context(
                None, None, None, missing=self.connection.why_not(USERS_READ)
            )
            return
        self.context_box.show_loading(user_id)
        user_path = f"/v1/users/{user_id}"
        results = await asyncio.gather(
            self.connection.get(user_path, UserPublic),
            self.connection.get(f"{user_path}/usage", UserUsage),
            self.connection.get(
                f"{user_path}/requests", Page[UserRequest], params={"limit": RECENT_REQUESTS}
            ),
            return_exceptions=True,
        )
        if self.current is None or self.current.user_id != user_id:
            return  # another ticket was opened meanwhile
        user, usage, requests = results
        missing = ""
        if isinstance(user, BaseException):
            missing = f"The user could not be read: {user}"
            user = None
        if isinstance(usage, BaseException):
            missing = missing or f"Use against limits not available: {usage}"
            usage = None
        if isinstance(requests, BaseException):
            missing = missing or f"Recent requests not available: {requests}"
            requests = None
        self.user = user
        self.usage = usage
        self.requests = requests.items if requests is not None else None
        self.context_box.show_context(self.user, self.usage, self.requests, missing=missing)

    def _show_ticket(self, detail: TicketDetail | None) -> None:
        self.current = detail
        self.ticket_view.show_ticket(detail)
        if detail is None:
            self.context_box.show_context(None, None, None)
            self.refresh_guards()
            return
        self._show_sla()
        self._fill_assignees(detail.assignee)
        self.refresh_guards()

    def _show_sla(self) -> None:
        if self.current is None:
            return
        ticket = self.model.find(self.current.id) or self.current
        self.ticket_view.show_sla(ticket, self.clock.now())

    def _fill_assignees(self, current: str | None) -> None:
        names = {t.assignee for t in self.model.tickets() if t.assignee}
        me = self._me()
        if me:
            names.add(me)
        self.ticket_view.fill_assignees(names, current)

    def _show_count(self) -> None:
        self.filters.show_count(self.queue.rowCount(), self.model.rowCount())

    async def _patch(self, changes: dict[str, Any]) -> None:
        assert self.current is not None
        ticket_id = self.current.id
        try:
            ticket = await self.connection.send(
                "PATCH", f"/v1/tickets/{ticket_id}", json=changes, model=TicketPublic
            )
        except ApiError as error:
            self.ticket_view.message.setText(f"Not changed: {error}")
            return
        assert isinstance(ticket, TicketPublic)
        self.model.upsert(ticket)
        self.ticket_view.message.setText(f"Ticket {ticket_id} updated.")
        await self._open(ticket_id)

    async def _post(self, kind: MessageKind, body: str) -> None:
        assert self.current is not None
        ticket_id = self.current.id
        try:
            await self.connection.send(
                "POST",
                f"/v1/tickets/{ticket_id}/messages",
                json={"kind": kind.value, "body": body},
                model=MessagePublic,
            )
        except ApiError as error:
            self.ticket_view.message.setText(f"Not sent: {error}")
            return
        if self.current is not None and self.current.id == ticket_id:
            self.ticket_view.compose.clear()
        self.ticket_view.message.setText(
            "Reply sent." if kind is MessageKind.REPLY else "Note added."
        )
        await self._open(ticket_id)

    def _extra_enabled(self, widget: QWidget) -> bool:
        if self.current is None:
            return False
        view = self.ticket_view
        if widget in (view.reply_button, view.note_button):
            return bool(view.compose.toPlainText().strip())
        if widget is view.take_button:
            return self.current.assignee != self._me()
        return True

    def _on_filters_changed(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = spawn(self._reload_quietly())

    async def _reload_quietly(self) -> None:
        try:
            await self.load()
        except ApiError as error:
            self.filters.count_label.setText(f"Not loaded: {error}")

    def _on_countdown_timeout(self) -> None:
        self.model.tick()
        self._show_sla()

    def _on_table_selection_changed(self, *_: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or self._selecting:
            return
        ticket: TicketPublic = rows[0].data(TICKET_ROLE)
        if self.current is None or self.current.id != ticket.id:
            self.open_ticket(ticket.id)

    def _on_connection_ticket_changed(self, ticket: TicketPublic) -> None:
        added = self.model.upsert(ticket)
        self._show_count()
        if added and ticket.priority is TicketPriority.URGENT:
            self.notified.emit(f"New urgent ticket #{ticket.id}: {ticket.subject}")
        if self.current is not None and self.current.id == ticket.id:
            # A customer message or another operator's change: show the thread as it is now.
            spawn(self._open(ticket.id))

    def _on_apply_button_clicked(self) -> None:
        if self.current is None:
            return
        changes = self.ticket_view.changes(self.current)
        if not changes:
            self.ticket_view.message.setText("Nothing to change.")
            return
        spawn(self._patch(changes))

    def _on_take_button_clicked(self) -> None:
        if self.current is not None:
            spawn(self._patch({"assignee": self._me()}))

    def _on_send_clicked(self, kind: MessageKind) -> None:
        body = self.ticket_view.compose.toPlainText().strip()
        if self.current is not None and body:
            spawn(self._post(kind, body))

    def _on_open_user_button_clicked(self) -> None:
        if self.current is not None and self._open_user is not None:
            self._open_user(self.current.user_id)
