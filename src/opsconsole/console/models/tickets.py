"""The ticket queue as a table: one row per ticket, updated in place from the stream, with
an SLA countdown that is recomputed every second and coloured as the deadline nears; and the
filter (mine, unassigned, breached, status, priority) that orders the queue by deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from opsconsole.console.models.base import ROW_ROLE, SORT_ROLE, Index, RowsTable
from opsconsole.console.qt import QColor, QModelIndex, QSortFilterProxyModel, Qt
from opsconsole.wire.tickets import TicketPriority, TicketPublic, TicketStatus

Now = Callable[[], datetime]

ID, DUE, PRIORITY, STATUS, SUBJECT, USER, ASSIGNEE, UPDATED = range(8)
HEADERS = ("#", "Due", "Priority", "Status", "Subject", "User", "Assignee", "Updated")
TICKET_ROLE = ROW_ROLE  # the wire TicketPublic behind the row
URGENCY_ROLE = Qt.ItemDataRole.UserRole + 2  # the row's Urgency now

DONE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
OPEN_QUEUE = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING_ON_CUSTOMER})
PRIORITY_RANK = {
    TicketPriority.URGENT: 0,
    TicketPriority.HIGH: 1,
    TicketPriority.NORMAL: 2,
    TicketPriority.LOW: 3,
}
PRIORITY_COLOURS = {
    TicketPriority.URGENT: QColor("#c62828"),
    TicketPriority.HIGH: QColor("#b36b00"),
}
# Done tickets sort after every live deadline (their deadlines no longer matter).
_DONE_OFFSET = 1e11


class Urgency(StrEnum):
    """How close the ticket's next deadline is, as a share of the time it was given."""

    DONE = "done"  # resolved or closed: no deadline runs
    PAUSED = "paused"  # the SLA clock is stopped (waiting on the customer)
    OK = "ok"  # more than half of the time left
    SOON = "soon"  # less than half left
    NEAR = "near"  # less than a quarter left (or under 15 minutes)
    BREACHED = "breached"  # past the deadline


# (background, foreground) of the Due cell per urgency; None: the palette's.
URGENCY_COLOURS: dict[Urgency, tuple[QColor | None, QColor | None]] = {
    Urgency.DONE: (None, QColor("#6e7781")),
    Urgency.PAUSED: (None, QColor("#6e7781")),
    Urgency.OK: (None, None),
    Urgency.SOON: (QColor("#fff3b0"), QColor("#3d3200")),
    Urgency.NEAR: (QColor("#ffc078"), QColor("#4a2500")),
    Urgency.BREACHED: (QColor("#c62828"), QColor("#ffffff")),
}
NEAR_FLOOR = timedelta(minutes=15)


def remaining(ticket: TicketPublic, now: datetime) -> timedelta:
    """Time left until the next deadline; negative when it has passed.

    While paused the clock stands still at ``paused_since`` (the server's rule).
    """
    reference = ticket.paused_since if ticket.paused and ticket.paused_since else now
    return ticket.next_due_at - reference


def urgency(ticket: TicketPublic, now: datetime) -> Urgency:
    if ticket.status in DONE:
        return Urgency.DONE
    left = remaining(ticket, now)
    if left <= timedelta(0):
        return Urgency.BREACHED
    if ticket.paused:
        return Urgency.PAUSED
    given = ticket.next_due_at - ticket.created_at
    share = left / given if given > timedelta(0) else 0.0
    if share < 0.25 or left < NEAR_FLOOR:
        return Urgency.NEAR
    if share < 0.5:
        return Urgency.SOON
    return Urgency.OK


def duration(delta: timedelta) -> str:
    """``2d 3h``, ``3h 05m``, ``12m 09s``: coarse when far, to the second when close."""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def countdown(ticket: TicketPublic, now: datetime) -> str:
    level = urgency(ticket, now)
    if level is Urgency.DONE:
        return "—"
    left = remaining(ticket, now)
    if level is Urgency.BREACHED:
        text = f"overdue {duration(left)}"
        return text + " (paused)" if ticket.paused else text
    if level is Urgency.PAUSED:
        return f"paused · {duration(left)} left"
    return f"in {duration(left)}"


def deadline_kind(ticket: TicketPublic) -> str:
    return "resolution" if ticket.first_responded_at else "first response"


def _when(at: datetime) -> str:
    return f"{at.astimezone():%d %b %H:%M}"


class TicketsModel(RowsTable[TicketPublic]):
    """The tickets the console knows of; the Due column counts down against ``now``.

    ``now`` is the server's time as the console knows it (deadlines are the server's).
    """

    headers = HEADERS

    def __init__(self, now: Now, parent: Any = None) -> None:
        super().__init__(
            self._text,
            sort_key=self._sort_key,
            colour=self._colour,
            tip=self._tip,
            roles={URGENCY_ROLE: self._urgency, Qt.ItemDataRole.BackgroundRole: self._background},
            parent=parent,
        )
        self._now_source = now
        self._now = now()

    def set_tickets(self, tickets: list[TicketPublic]) -> None:
        self.beginResetModel()
        self._now = self._now_source()
        self._rows = list({t.id: t for t in tickets}.values())
        self.endResetModel()

    def upsert(self, ticket: TicketPublic) -> bool:
        """Update the ticket's row in place, or add it; True when it was added."""
        for row, known in enumerate(self._rows):
            if known.id == ticket.id:
                self._rows[row] = ticket
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1), [])
                return False
        end = len(self._rows)
        self.beginInsertRows(QModelIndex(), end, end)
        self._rows.append(ticket)
        self.endInsertRows()
        return True

    def tick(self) -> None:
        """Recompute the countdowns (once a second): only the Due cells change, no reset."""
        self._now = self._now_source()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, DUE),
                self.index(len(self._rows) - 1, DUE),
                [
                    Qt.ItemDataRole.DisplayRole,
                    Qt.ItemDataRole.BackgroundRole,
                    Qt.ItemDataRole.ForegroundRole,
                    Qt.ItemDataRole.ToolTipRole,
                    URGENCY_ROLE,
                ],
            )

    def now(self) -> datetime:
        return self._now

    def find(self, ticket_id: int) -> TicketPublic | None:
        return next((t for t in self._rows if t.id == ticket_id), None)

    def row_of(self, ticket_id: int) -> int | None:
        return next((row for row, t in enumerate(self._rows) if t.id == ticket_id), None)

    def tickets(self) -> list[TicketPublic]:
        return list(self._rows)

    # --- private ----------------------------------------------------------------------------

    def _text(self, ticket: TicketPublic, column: int) -> str:
        if column == ID:
            return str(ticket.id)
        if column == DUE:
            return countdown(ticket, self._now)
        if column == PRIORITY:
            return ticket.priority.value
        if column == STATUS:
            return ticket.status.value.replace("_", " ")
        if column == SUBJECT:
            return ticket.subject
        if column == USER:
            return ticket.user_id
        if column == ASSIGNEE:
            return ticket.assignee or ""
        return _when(ticket.updated_at)

    def _sort_key(self, ticket: TicketPublic, column: int) -> Any:
        if column == ID:
            return ticket.id
        if column == DUE:
            # Soonest deadline first, done tickets last; the id breaks ties as the server does.
            offset = _DONE_OFFSET if ticket.status in DONE else 0.0
            return offset + ticket.next_due_at.timestamp() + ticket.id * 1e-7
        if column == PRIORITY:
            return PRIORITY_RANK[ticket.priority]
        if column == UPDATED:
            return ticket.updated_at.timestamp()
        return self._text(ticket, column)

    def _urgency(self, ticket: TicketPublic, column: int) -> str:
        return urgency(ticket, self._now).value

    def _background(self, ticket: TicketPublic, column: int) -> QColor | None:
        return URGENCY_COLOURS[urgency(ticket, self._now)][0] if column == DUE else None

    def _colour(self, ticket: TicketPublic, column: int) -> QColor | None:
        if column == DUE:
            return URGENCY_COLOURS[urgency(ticket, self._now)][1]
        if column == PRIORITY:
            return PRIORITY_COLOURS.get(ticket.priority)
        return None

    def _tip(self, ticket: TicketPublic, column: int) -> str | None:
        if column == DUE:
            return f"{deadline_kind(ticket)} due {_when(ticket.next_due_at)}"
        if column == SUBJECT:
            return ticket.subject
        return None


MIN_SEARCH = 2  # characters; the server refuses shorter searches


class Assignee(StrEnum):
    ANYONE = "anyone"
    MINE = "mine"
    UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class TicketQuery:
    """The queue's filters. The server applies them to what it sends; the proxy applies the
    same rule to tickets that arrive or change on the stream."""

    statuses: frozenset[TicketStatus] = OPEN_QUEUE
    priorities: frozenset[TicketPriority] = frozenset()  # empty: any
    assignee: Assignee = Assignee.ANYONE
    breached_only: bool = False
    # Words in the subject or any message (the server searches both). The proxy can only see
    # subjects, so it also keeps the tickets the server found for the words.
    text: str = ""
    found: frozenset[int] = frozenset()

    @property
    def searching(self) -> bool:
        return len(self.text) >= MIN_SEARCH

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.searching:
            params["q"] = self.text
        if self.statuses:
            params["status"] = sorted(s.value for s in self.statuses)
        if self.priorities:
            params["priority"] = sorted(p.value for p in self.priorities)
        if self.assignee is Assignee.MINE:
            params["assignee"] = "me"
        elif self.assignee is Assignee.UNASSIGNED:
            params["assignee"] = "none"
        if self.breached_only:
            params["breached"] = "true"
        return params

    def matches(self, ticket: TicketPublic, *, me: str, now: datetime) -> bool:
        if self.statuses and ticket.status not in self.statuses:
            return False
        if self.priorities and ticket.priority not in self.priorities:
            return False
        if self.assignee is Assignee.MINE and ticket.assignee != me:
            return False
        if self.assignee is Assignee.UNASSIGNED and ticket.assignee is not None:
            return False
        if self.searching and not (
            ticket.id in self.found or self.text.casefold() in ticket.subject.casefold()
        ):
            return False
        return not self.breached_only or urgency(ticket, now) is Urgency.BREACHED


class TicketsFilter(QSortFilterProxyModel):
    """The queue as filtered, soonest deadline first."""

    def __init__(self, me: Callable[[], str], parent: Any = None) -> None:
        super().__init__(parent)
        self.query = TicketQuery()
        self._me = me
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self.sort(DUE, Qt.SortOrder.AscendingOrder)

    def set_query(self, query: TicketQuery) -> None:
        self.beginFilterChange()
        self.query = query
        self.endFilterChange()

    def ticket(self, row: int) -> TicketPublic:
        ticket: TicketPublic = self.index(row, 0).data(TICKET_ROLE)
        return ticket

    # --- Qt overrides -----------------------------------------------------------------------

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        ticket = model.index(source_row, 0, source_parent).data(TICKET_ROLE)
        if ticket is None:
            return False
        assert isinstance(model, TicketsModel)
        return self.query.matches(ticket, me=self._me(), now=model.now())
