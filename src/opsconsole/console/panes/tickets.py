"""The support queue: tickets sorted by SLA deadline with a live countdown, the open ticket's
thread with reply, internal note and status/priority/assignee changes, and beside it the
user's AI context (tier, quota state, recent errors and denials).

Tickets created or changed anywhere arrive on the stream (``ticket_changed``) and are put in
their row in place; the queue is fetched again only when the filters change or on a reload.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsconsole.console.connection import ApiError
from opsconsole.console.models.tickets import (
    DUE,
    HEADERS,
    OPEN_QUEUE,
    TICKET_ROLE,
    Assignee,
    TicketQuery,
    TicketsFilter,
    TicketsModel,
    countdown,
    deadline_kind,
)
from opsconsole.console.panes.base import Pane, ServerClock, spawn
from opsconsole.console.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    Qt,
    QTableView,
    QTextBrowser,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from opsconsole.wire.activity import UserRequest, UserUsage
from opsconsole.wire.common import MAX_PAGE_SIZE, Page
from opsconsole.wire.tickets import (
    MessageKind,
    MessagePublic,
    TicketDetail,
    TicketPriority,
    TicketPublic,
    TicketStatus,
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
UNASSIGNED = "(unassigned)"

STATUS_CHOICES: list[tuple[str, frozenset[TicketStatus]]] = [
    ("Open queue", OPEN_QUEUE),
    ("All statuses", frozenset()),
    *((s.value.replace("_", " "), frozenset({s})) for s in TicketStatus),
]
PRIORITY_CHOICES: list[tuple[str, frozenset[TicketPriority]]] = [
    ("Any priority", frozenset()),
    *((p.value, frozenset({p})) for p in TicketPriority),
]
ASSIGNEE_CHOICES = [
    ("Anyone's", Assignee.ANYONE),
    ("Mine", Assignee.MINE),
    ("Unassigned", Assignee.UNASSIGNED),
]
KIND_LABEL = {
    MessageKind.CUSTOMER: "Customer",
    MessageKind.REPLY: "Reply",
    MessageKind.NOTE: "Internal note",
}
KIND_STYLE = {
    MessageKind.CUSTOMER: "background:#f4f6f8; border-left:4px solid #8c959f;",
    MessageKind.REPLY: "background:#e8f1fb; border-left:4px solid #0969da;",
    MessageKind.NOTE: "background:#fff8c5; border-left:4px solid #d4a72c;",
}


def thread_html(messages: list[MessagePublic]) -> str:
    """The thread as HTML: who, when, what; internal notes marked so no one mistakes them."""
    parts = []
    for message in messages:
        who = KIND_LABEL[message.kind]
        if message.author:
            who += f" · {html.escape(message.author)}"
        body = html.escape(message.body).replace("\n", "<br>")
        parts.append(
            f"<div style='{KIND_STYLE[message.kind]} padding:6px; margin-bottom:6px;'>"
            f"<b>{who}</b> <span style='color:#6e7781'>"
            f"{message.created_at.astimezone():%d %b %H:%M}</span><br>{body}</div>"
        )
    return "".join(parts) or "<i>No messages.</i>"


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def context_html(
    user: UserPublic | None,
    usage: UserUsage | None,
    requests: list[UserRequest] | None,
    *,
    missing: str = "",
) -> str:
    """The user's AI context in a few lines: tier and status, use against limits, and the
    recent requests that went wrong (refusals with their reasons, errors and timeouts)."""
    if user is None:
        return f"<i>{html.escape(missing or 'No ticket open.')}</i>"
    lines = [
        f"<b>{html.escape(user.id)}</b> {html.escape(user.name or '')}",
        f"{html.escape(user.email or '')}",
        f"Tier <b>{html.escape(user.tier)}</b> · status <b>{user.status}</b>"
        + (f" ({html.escape(user.status_reason)})" if user.status_reason else ""),
    ]
    if usage is not None:
        limits = usage.limits
        cap = limits.daily_requests if limits else None
        quota = f"{usage.requests_today} of {cap}" if cap is not None else f"{usage.requests_today}"
        state = ""
        if cap is not None and usage.requests_today >= cap:
            state = " <span style='color:#c62828'><b>quota used up</b></span>"
        lines.append(f"Requests today: {quota}{state}")
        if limits is not None:
            lines.append(
                f"Spent this week {_money(usage.spent_week)} of {_money(limits.weekly_budget)}, "
                f"this month {_money(usage.spent_month)} of {_money(limits.monthly_budget)}"
            )
            if limits.overridden:
                lines.append("Overrides: " + ", ".join(html.escape(o) for o in limits.overridden))
        lines.append(f"Today: {usage.errors_today} errors, {usage.denied_today} refused")
    elif missing:
        lines.append(f"<i>{html.escape(missing)}</i>")
    if requests is not None:
        trouble = [
            r
            for r in requests
            if not r.allow or (r.report is not None and r.report.status.value != "ok")
        ]
        lines.append(
            f"<br><b>Recent errors and refusals</b> ({len(trouble)} of the last {len(requests)})"
        )
        for request in trouble[:10]:
            when = f"{request.at.astimezone():%d %b %H:%M}"
            if not request.allow:
                what = f"refused: {html.escape(request.reason_text)}"
            else:
                assert request.report is not None
                what = (
                    f"{request.report.status.value} from {html.escape(request.provider or '?')}"
                    f" after {request.report.latency_ms:,.0f} ms"
                )
            lines.append(f"{when} · {html.escape(request.feature)} · {what}")
    return "<br>".join(lines)


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
        splitter.addWidget(self.ticket_box)
        splitter.addWidget(self.context_box)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 4)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([820, 600, 300])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        for widget, tip in (
            (self.reply_button, "Send the text to the customer."),
            (self.note_button, "Add the text as an internal note (staff only)."),
            (self.apply_button, "Apply the status, priority and assignee chosen."),
            (self.take_button, "Assign the ticket to yourself."),
        ):
            self.guard(widget, TICKETS_WRITE, tip)
        self.guard(self.open_user_button, USERS_READ, "Open the user in the users pane.")
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
            self.count_label.setText(self.connection.why_not(TICKETS_READ))
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
        return TicketQuery(
            statuses=self.status_filter.currentData(),
            priorities=self.priority_filter.currentData(),
            # A combo gives a StrEnum back as its str.
            assignee=Assignee(self.assignee_filter.currentData()),
            breached_only=self.breached_filter.isChecked(),
        )

    def set_user_opener(self, opener: Callable[[str], object] | None) -> None:
        """What "Open user" calls (the users pane's ``open_user``); None hides the button."""
        self._open_user = opener
        self.open_user_button.setVisible(opener is not None)
        self.context_note.setText(
            ""
            if opener is not None
            else "Read-only here: actions on the user are in the users pane, not available."
        )

    def save_state(self) -> dict[str, Any]:
        return {
            "splitter": [int(s) for s in self.splitter.sizes()],
            "widths": [self.table.columnWidth(c) for c in range(len(HEADERS))],
            "status": self.status_filter.currentIndex(),
            "priority": self.priority_filter.currentIndex(),
            "assignee": self.assignee_filter.currentIndex(),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        sizes = state.get("splitter")
        if isinstance(sizes, list) and len(sizes) == 3:
            self.splitter.setSizes([max(50, int(s)) for s in sizes])
        widths = state.get("widths")
        if isinstance(widths, list) and len(widths) == len(HEADERS):
            for column, width in enumerate(widths):
                self.table.setColumnWidth(column, max(30, int(width)))
        for key, combo in (
            ("status", self.status_filter),
            ("priority", self.priority_filter),
            ("assignee", self.assignee_filter),
        ):
            value = state.get(key)
            if isinstance(value, int) and 0 <= value < combo.count():
                combo.setCurrentIndex(value)

    # --- building ---------------------------------------------------------------------------

    def _build_queue(self) -> None:
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("ticketStatusFilter")
        for label, statuses in STATUS_CHOICES:
            self.status_filter.addItem(label, statuses)
        self.priority_filter = QComboBox()
        self.priority_filter.setObjectName("ticketPriorityFilter")
        for label, priorities in PRIORITY_CHOICES:
            self.priority_filter.addItem(label, priorities)
        self.assignee_filter = QComboBox()
        self.assignee_filter.setObjectName("ticketAssigneeFilter")
        for label, who in ASSIGNEE_CHOICES:
            self.assignee_filter.addItem(label, who)
        self.breached_filter = QCheckBox("Breached")
        self.breached_filter.setObjectName("ticketBreachedFilter")
        self.breached_filter.setToolTip("Only tickets past their SLA deadline.")
        for combo in (self.status_filter, self.priority_filter, self.assignee_filter):
            combo.currentIndexChanged.connect(self._on_filter_changed)
        self.breached_filter.toggled.connect(self._on_filter_changed)
        self.count_label = QLabel("")
        self.count_label.setObjectName("ticketCount")

        table = QTableView()
        table.setObjectName("ticketQueue")
        table.setModel(self.queue)
        table.setSortingEnabled(True)
        table.sortByColumn(DUE, Qt.SortOrder.AscendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((36, 125, 62, 125, 210, 70, 70, 95)):
            table.setColumnWidth(column, width)
        table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.table = table

        filters = QHBoxLayout()
        for widget in (
            self.status_filter,
            self.priority_filter,
            self.assignee_filter,
            self.breached_filter,
        ):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        self.queue_box = QWidget()
        box = QVBoxLayout(self.queue_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(filters)
        box.addWidget(table, 1)

    def _build_ticket(self) -> None:
        self.heading = QLabel("")
        self.heading.setObjectName("ticketHeading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.sla_label = QLabel("")
        self.sla_label.setObjectName("ticketSla")
        self.thread_view = QTextBrowser()
        self.thread_view.setObjectName("ticketThread")
        self.thread_view.setOpenExternalLinks(False)

        self.status_edit = QComboBox()
        self.status_edit.setObjectName("ticketStatus")
        for status in TicketStatus:
            self.status_edit.addItem(status.value.replace("_", " "), status)
        self.priority_edit = QComboBox()
        self.priority_edit.setObjectName("ticketPriority")
        for priority in TicketPriority:
            self.priority_edit.addItem(priority.value, priority)
        self.assignee_edit = QComboBox()
        self.assignee_edit.setObjectName("ticketAssignee")
        self.assignee_edit.setEditable(True)
        self.assignee_edit.setMinimumContentsLength(12)
        self.assignee_edit.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.assignee_edit.setToolTip("An operator's username; (unassigned) to unassign.")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("ticketApply")
        self.take_button = QPushButton("Take")
        self.take_button.setObjectName("ticketTake")
        self.apply_button.clicked.connect(self._on_apply_button_clicked)
        self.take_button.clicked.connect(self._on_take_button_clicked)
        changes = QHBoxLayout()
        for label, widget in (
            ("Status", self.status_edit),
            ("Priority", self.priority_edit),
            ("Assignee", self.assignee_edit),
        ):
            changes.addWidget(QLabel(label))
            changes.addWidget(widget)
        changes.addWidget(self.apply_button)
        changes.addWidget(self.take_button)

        self.ticket_box = QWidget()
        column = QVBoxLayout(self.ticket_box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.heading)
        column.addWidget(self.sla_label)
        column.addLayout(changes)
        column.addWidget(self.thread_view, 1)
        self._build_compose(column)

    def _build_compose(self, column: QVBoxLayout) -> None:
        self.compose = QPlainTextEdit()
        self.compose.setObjectName("ticketCompose")
        self.compose.setPlaceholderText("Reply to the customer, or write an internal note")
        self.compose.setMaximumHeight(110)
        self.reply_button = QPushButton("Send reply")
        self.reply_button.setObjectName("ticketReply")
        self.note_button = QPushButton("Add internal note")
        self.note_button.setObjectName("ticketNote")
        self.reply_button.clicked.connect(lambda: self._on_send_clicked(MessageKind.REPLY))
        self.note_button.clicked.connect(lambda: self._on_send_clicked(MessageKind.NOTE))
        self.compose.textChanged.connect(self.refresh_guards)
        self.message = QLabel("")
        self.message.setObjectName("ticketMessage")
        self.message.setWordWrap(True)
        send = QHBoxLayout()
        send.addWidget(self.message, 1)
        send.addWidget(self.note_button)
        send.addWidget(self.reply_button)
        column.addWidget(self.compose)
        column.addLayout(send)

    def _build_context(self) -> None:
        self.context_box = QGroupBox("User's AI context")
        self.context_box.setObjectName("ticketUserContext")
        self.context = QLabel("")
        self.context.setObjectName("ticketContext")
        self.context.setWordWrap(True)
        self.context.setTextFormat(Qt.TextFormat.RichText)
        self.context.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.context.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_user_button = QPushButton("Open user…")
        self.open_user_button.setObjectName("ticketOpenUser")
        self.open_user_button.clicked.connect(self._on_open_user_button_clicked)
        self.context_note = QLabel("")
        self.context_note.setObjectName("ticketContextNote")
        self.context_note.setWordWrap(True)
        self.context_note.setStyleSheet("QLabel { color: #6e7781; }")
        form = QFormLayout()
        form.addRow(self.context)
        column = QVBoxLayout(self.context_box)
        column.addLayout(form)
        column.addStretch(1)
        column.addWidget(self.context_note)
        column.addWidget(self.open_user_button)
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
            self.message.setText(f"Ticket {ticket_id}: {error}")
            return
        changed_user = self.current is None or self.current.user_id != detail.user_id
        self._show_ticket(detail)
        self.model.upsert(TicketPublic.model_validate(detail.model_dump()))
        if changed_user:
            await self._load_context(detail.user_id)

    async def _load_context(self, user_id: str) -> None:
        self.user, self.usage, self.requests = None, None, None
        if not self.connection.can(USERS_READ):
            self.context.setText(
                context_html(None, None, None, missing=self.connection.why_not(USERS_READ))
            )
            return
        self.context.setText(f"<i>Loading {user_id}…</i>")
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
        self.context.setText(context_html(self.user, self.usage, self.requests, missing=missing))

    def _show_ticket(self, detail: TicketDetail | None) -> None:
        self.current = detail
        if detail is None:
            self.heading.setText("<i>Select a ticket in the queue.</i>")
            self.sla_label.setText("")
            self.thread_view.setHtml("")
            self.context.setText(context_html(None, None, None))
            self.refresh_guards()
            return
        self.heading.setText(
            f"<b>#{detail.id} {html.escape(detail.subject)}</b><br>"
            f"<span style='color:#6e7781'>user {html.escape(detail.user_id)} · opened "
            f"{detail.created_at.astimezone():%d %b %H:%M} by {html.escape(detail.created_by)}"
            "</span>"
        )
        self._show_sla()
        self.thread_view.setHtml(thread_html(detail.messages))
        self.status_edit.setCurrentIndex(self.status_edit.findData(detail.status))
        self.priority_edit.setCurrentIndex(self.priority_edit.findData(detail.priority))
        self._fill_assignees(detail.assignee)
        self.refresh_guards()

    def _show_sla(self) -> None:
        if self.current is None:
            return
        ticket = self.model.find(self.current.id) or self.current
        self.sla_label.setText(
            f"{deadline_kind(ticket).capitalize()} due "
            f"{ticket.next_due_at.astimezone():%d %b %H:%M}: "
            f"{countdown(ticket, self.clock.now())}"
        )

    def _fill_assignees(self, current: str | None) -> None:
        names = {t.assignee for t in self.model.tickets() if t.assignee}
        me = self._me()
        if me:
            names.add(me)
        self.assignee_edit.clear()
        self.assignee_edit.addItem(UNASSIGNED)
        for name in sorted(names):
            self.assignee_edit.addItem(name)
        self.assignee_edit.setCurrentText(current or UNASSIGNED)

    def _show_count(self) -> None:
        shown, known = self.queue.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{shown} tickets" + ("" if shown == known else f" of {known}"))

    async def _patch(self, changes: dict[str, Any]) -> None:
        assert self.current is not None
        ticket_id = self.current.id
        try:
            ticket = await self.connection.send(
                "PATCH", f"/v1/tickets/{ticket_id}", json=changes, model=TicketPublic
            )
        except ApiError as error:
            self.message.setText(f"Not changed: {error}")
            return
        assert isinstance(ticket, TicketPublic)
        self.model.upsert(ticket)
        self.message.setText(f"Ticket {ticket_id} updated.")
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
            self.message.setText(f"Not sent: {error}")
            return
        if self.current is not None and self.current.id == ticket_id:
            self.compose.clear()
        self.message.setText("Reply sent." if kind is MessageKind.REPLY else "Note added.")
        await self._open(ticket_id)

    def _extra_enabled(self, widget: QWidget) -> bool:
        if self.current is None:
            return False
        if widget in (self.reply_button, self.note_button):
            return bool(self.compose.toPlainText().strip())
        if widget is self.take_button:
            return self.current.assignee != self._me()
        return True

    def _on_filter_changed(self, *_: object) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = spawn(self._reload_quietly())

    async def _reload_quietly(self) -> None:
        try:
            await self.load()
        except ApiError as error:
            self.count_label.setText(f"Not loaded: {error}")

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
        changes: dict[str, Any] = {}
        status = TicketStatus(self.status_edit.currentData())
        priority = TicketPriority(self.priority_edit.currentData())
        assignee_text = self.assignee_edit.currentText().strip()
        assignee = None if assignee_text in ("", UNASSIGNED) else assignee_text
        if status != self.current.status:
            changes["status"] = status.value
        if priority != self.current.priority:
            changes["priority"] = priority.value
        if assignee != self.current.assignee:
            changes["assignee"] = assignee
        if not changes:
            self.message.setText("Nothing to change.")
            return
        spawn(self._patch(changes))

    def _on_take_button_clicked(self) -> None:
        if self.current is not None:
            spawn(self._patch({"assignee": self._me()}))

    def _on_send_clicked(self, kind: MessageKind) -> None:
        body = self.compose.toPlainText().strip()
        if self.current is not None and body:
            spawn(self._post(kind, body))

    def _on_open_user_button_clicked(self) -> None:
        if self.current is not None and self._open_user is not None:
            self._open_user(self.current.user_id)
