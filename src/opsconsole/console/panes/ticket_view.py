"""The tickets pane's middle column: the open ticket's heading and SLA, its status, priority
and assignee to change, the thread (internal notes marked), and the box to reply or note.

Separate from the pane, which sends the changes and messages and fetches the ticket: this
column is widgets that show what they are handed and say what the operator chose.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from opsconsole.console.models.tickets import countdown, deadline_kind
from opsconsole.console.qt import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    Qt,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from opsconsole.wire.tickets import (
    MessageKind,
    MessagePublic,
    TicketDetail,
    TicketPriority,
    TicketPublic,
    TicketStatus,
)

UNASSIGNED = "(unassigned)"
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


class TicketView(QWidget):
    """One ticket: what it is, what to change on it, its thread, and the reply box.

    The pane connects the buttons (``apply_button``, ``take_button``, ``reply_button``,
    ``note_button``) and guards them; ``message`` is where it reports how a send went.
    """

    def __init__(self) -> None:
        super().__init__()
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

        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.heading)
        column.addWidget(self.sla_label)
        column.addLayout(changes)
        column.addWidget(self.thread_view, 1)
        self._build_compose(column)

    def show_ticket(self, detail: TicketDetail | None) -> None:
        if detail is None:
            self.heading.setText("<i>Select a ticket in the queue.</i>")
            self.sla_label.setText("")
            self.thread_view.setHtml("")
            return
        self.heading.setText(
            f"<b>#{detail.id} {html.escape(detail.subject)}</b><br>"
            f"<span style='color:#6e7781'>user {html.escape(detail.user_id)} · opened "
            f"{detail.created_at.astimezone():%d %b %H:%M} by {html.escape(detail.created_by)}"
            "</span>"
        )
        self.thread_view.setHtml(thread_html(detail.messages))
        self.status_edit.setCurrentIndex(self.status_edit.findData(detail.status))
        self.priority_edit.setCurrentIndex(self.priority_edit.findData(detail.priority))

    def show_sla(self, ticket: TicketPublic, now: datetime) -> None:
        self.sla_label.setText(
            f"{deadline_kind(ticket).capitalize()} due "
            f"{ticket.next_due_at.astimezone():%d %b %H:%M}: "
            f"{countdown(ticket, now)}"
        )

    def fill_assignees(self, names: set[str], current: str | None) -> None:
        """Offer ``names`` (and unassigning) as assignees, with ``current`` chosen."""
        self.assignee_edit.clear()
        self.assignee_edit.addItem(UNASSIGNED)
        for name in sorted(names):
            self.assignee_edit.addItem(name)
        self.assignee_edit.setCurrentText(current or UNASSIGNED)

    def changes(self, ticket: TicketPublic) -> dict[str, Any]:
        """What differs between ``ticket`` and the status, priority and assignee chosen."""
        changes: dict[str, Any] = {}
        status = TicketStatus(self.status_edit.currentData())
        priority = TicketPriority(self.priority_edit.currentData())
        assignee_text = self.assignee_edit.currentText().strip()
        assignee = None if assignee_text in ("", UNASSIGNED) else assignee_text
        if status != ticket.status:
            changes["status"] = status.value
        if priority != ticket.priority:
            changes["priority"] = priority.value
        if assignee != ticket.assignee:
            changes["assignee"] = assignee
        return changes

    def _build_compose(self, column: QVBoxLayout) -> None:
        self.compose = QPlainTextEdit()
        self.compose.setObjectName("ticketCompose")
        self.compose.setPlaceholderText("Reply to the customer, or write an internal note")
        self.compose.setMaximumHeight(110)
        self.reply_button = QPushButton("Send reply")
        self.reply_button.setObjectName("ticketReply")
        self.note_button = QPushButton("Add internal note")
        self.note_button.setObjectName("ticketNote")
        self.message = QLabel("")
        self.message.setObjectName("ticketMessage")
        self.message.setWordWrap(True)
        send = QHBoxLayout()
        send.addWidget(self.message, 1)
        send.addWidget(self.note_button)
        send.addWidget(self.reply_button)
        column.addWidget(self.compose)
        column.addLayout(send)
