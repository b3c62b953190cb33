"""The filter bar over the tickets queue: words to search for, status, priority, assignee and
"breached only", with the count of tickets they leave.

Separate from the pane so the choices offered, the query they make and the way they are saved
with the layout are in one place; the pane only reloads when they change.
"""

from __future__ import annotations

from typing import Any

from opsconsole.console.models.tickets import MIN_SEARCH, OPEN_QUEUE, Assignee, TicketQuery
from opsconsole.console.qt import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTimer,
    QWidget,
    Signal,
)
from opsconsole.wire.tickets import TicketPriority, TicketStatus

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
SEARCH_PAUSE_MS = 300  # typing pauses this long before the queue is fetched again


class TicketFilters(QWidget):
    """The filters in a row, the count on the right.

    Signals:
        changed(): a filter was changed (the queue should be fetched again).
    """

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.search = QLineEdit()
        self.search.setObjectName("ticketSearch")
        self.search.setPlaceholderText("Search subjects and messages")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip(
            "Words in a ticket's subject or any message of its thread, notes included "
            f"(at least {MIN_SEARCH} characters, any case)."
        )
        self._search_pause = QTimer(self)
        self._search_pause.setSingleShot(True)
        self._search_pause.setInterval(SEARCH_PAUSE_MS)
        self._search_pause.timeout.connect(self._on_filter_changed)
        self.search.textEdited.connect(self._on_search_edited)
        self.search.returnPressed.connect(self._on_filter_changed)
        self.status = QComboBox()
        self.status.setObjectName("ticketStatusFilter")
        for label, statuses in STATUS_CHOICES:
            self.status.addItem(label, statuses)
        self.priority = QComboBox()
        self.priority.setObjectName("ticketPriorityFilter")
        for label, priorities in PRIORITY_CHOICES:
            self.priority.addItem(label, priorities)
        self.assignee = QComboBox()
        self.assignee.setObjectName("ticketAssigneeFilter")
        for label, who in ASSIGNEE_CHOICES:
            self.assignee.addItem(label, who)
        self.breached = QCheckBox("Breached")
        self.breached.setObjectName("ticketBreachedFilter")
        self.breached.setToolTip("Only tickets past their SLA deadline.")
        for combo in self._combos().values():
            combo.currentIndexChanged.connect(self._on_filter_changed)
        self.breached.toggled.connect(self._on_filter_changed)
        self.count_label = QLabel("")
        self.count_label.setObjectName("ticketCount")

        filters = QHBoxLayout(self)
        filters.setContentsMargins(0, 0, 0, 0)
        for widget in (
            self.search,
            self.status,
            self.priority,
            self.assignee,
            self.breached,
        ):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.count_label)

    def query(self) -> TicketQuery:
        return TicketQuery(
            statuses=self.status.currentData(),
            priorities=self.priority.currentData(),
            # A combo gives a StrEnum back as its str.
            assignee=Assignee(self.assignee.currentData()),
            breached_only=self.breached.isChecked(),
            text=self.search.text().strip(),
        )

    def show_count(self, shown: int, known: int) -> None:
        self.count_label.setText(f"{shown} tickets" + ("" if shown == known else f" of {known}"))

    def save_state(self) -> dict[str, Any]:
        return {key: combo.currentIndex() for key, combo in self._combos().items()}

    def restore_state(self, state: dict[str, Any]) -> None:
        for key, combo in self._combos().items():
            value = state.get(key)
            if isinstance(value, int) and 0 <= value < combo.count():
                combo.setCurrentIndex(value)

    def _combos(self) -> dict[str, QComboBox]:
        return {
            "status": self.status,
            "priority": self.priority,
            "assignee": self.assignee,
        }

    def _on_search_edited(self, _text: str) -> None:
        self._search_pause.start()  # (again): one fetch when the typing pauses

    def _on_filter_changed(self, *_: object) -> None:
        self._search_pause.stop()
        self.changed.emit()
