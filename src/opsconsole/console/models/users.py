"""Table models of the users pane: search results paged from a cursor, a user's last requests
and a user's tickets.

The search model asks for its next page through Qt's own lazy-loading protocol
(``canFetchMore``/``fetchMore``, which the view calls as the operator scrolls near the end);
the pane does the I/O and hands the page back. Every search gets a generation number, so a
page that belongs to an older search (the operator typed on meanwhile) is dropped, never shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from opsconsole.console.models.base import Index, RowsTable
from opsconsole.console.qt import QColor, QModelIndex, Qt, Signal
from opsconsole.wire.activity import UserRequest
from opsconsole.wire.common import Page
from opsconsole.wire.tickets import TicketPublic
from opsconsole.wire.users import UserPublic

R = TypeVar("R")

RED = QColor("#c62828")
GREEN = QColor("#1b7f3b")
GREY = QColor("#777777")

# Search results.
ID, NAME, EMAIL, TIER, STATUS, COUNTRY, JOINED = range(7)
USER_HEADERS = ("ID", "Name", "Email", "Tier", "Status", "Country", "Joined")

# A user's requests.
R_AT, R_FEATURE, R_RESULT, R_PROVIDER, R_LATENCY, R_STATUS, R_COST, R_REASON = range(8)
REQUEST_HEADERS = (
    "Time",
    "Feature",
    "Result",
    "Provider",
    "Latency",
    "Status",
    "Cost",
    "Reason",
)

# A user's tickets.
T_ID, T_SUBJECT, T_STATUS, T_PRIORITY, T_ASSIGNEE, T_DUE = range(6)
TICKET_HEADERS = ("#", "Subject", "Status", "Priority", "Assignee", "Next deadline")


def local_time(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if at is None else at.astimezone().strftime(fmt)


class _RowsModel(RowsTable[R]):
    """A read-only table of pydantic rows, replaced all at once."""

    def set_rows(self, rows: Sequence[R]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row(self, row: int) -> R:
        return self._rows[row]

    def rows(self) -> list[R]:
        return list(self._rows)


class UserSearchModel(_RowsModel[UserPublic]):
    """The users matching the operator's search, one page at a time.

    Signals:
        more_requested(int, str): the view wants the next page: (generation, cursor).
    """

    more_requested = Signal(int, str)

    headers = USER_HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(self._text, colour=self._colour, tip=self._tip, parent=parent)
        self.generation = 0
        self.next_cursor: str | None = None
        self._fetching = False

    def begin_search(self) -> int:
        """A new search: the rows shown stay until its first page replaces them (no flicker
        while typing), but no further page of the old search will be asked for or shown."""
        self.generation += 1
        self.next_cursor = None
        self._fetching = False
        return self.generation

    def show_first_page(self, generation: int, page: Page[UserPublic]) -> bool:
        """The first page of search ``generation``; False (and nothing shown) if it is stale."""
        if generation != self.generation:
            return False
        self.next_cursor = page.next_cursor
        self._fetching = False
        self.set_rows(page.items)
        return True

    def append_page(self, generation: int, page: Page[UserPublic]) -> bool:
        """A further page of search ``generation``; False (and nothing shown) if it is stale."""
        if generation != self.generation:
            return False
        self._fetching = False
        self.next_cursor = page.next_cursor
        known = {user.id for user in self._rows}
        fresh = [user for user in page.items if user.id not in known]
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._rows.extend(fresh)
            self.endInsertRows()
        return True

    def fetch_failed(self, generation: int) -> None:
        """The page could not be fetched: let the view ask again later."""
        if generation == self.generation:
            self._fetching = False

    def row_of(self, user_id: str) -> int | None:
        for i, user in enumerate(self._rows):
            if user.id == user_id:
                return i
        return None

    def update_user(self, user: UserPublic) -> None:
        """A user changed (an action, or another operator's change on the stream)."""
        row = self.row_of(user.id)
        if row is None or user.updated_at < self._rows[row].updated_at:
            return  # not shown, or an older state than the one shown
        self._rows[row] = user
        self.dataChanged.emit(
            self.index(row, 0),
            self.index(row, len(self.headers) - 1),
            [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole],
        )

    def _text(self, row: UserPublic, column: int) -> str:
        values = (
            row.id,
            row.name or "",
            row.email or "",
            row.tier,
            row.status,
            row.country or "",
            local_time(row.joined_at, "%Y-%m-%d"),
        )
        return values[column]

    def _colour(self, row: UserPublic, column: int) -> QColor | None:
        if column == STATUS and row.status != "active":
            return RED
        return None

    def _tip(self, row: UserPublic, column: int) -> str | None:
        if column == STATUS and row.status_reason:
            return row.status_reason
        return None

    # --- Qt overrides -----------------------------------------------------------------------

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802, B008
        return not parent.isValid() and self.next_cursor is not None and not self._fetching

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802, B008
        if not self.canFetchMore(parent):
            return
        assert self.next_cursor is not None
        self._fetching = True
        self.more_requested.emit(self.generation, self.next_cursor)


class UserRequestsModel(_RowsModel[UserRequest]):
    """A user's last requests as the gate decided them, newest first, with their reports."""

    headers = REQUEST_HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(self._text, colour=self._colour, tip=self._tip, parent=parent)

    def _text(self, row: UserRequest, column: int) -> str:
        report = row.report
        if column == R_AT:
            return local_time(row.at, "%m-%d %H:%M:%S")
        if column == R_FEATURE:
            return row.feature
        if column == R_RESULT:
            return "allowed" if row.allow else "refused"
        if column == R_PROVIDER:
            return row.provider or ""
        if column == R_LATENCY:
            return f"{report.latency_ms:,.0f} ms" if report else ""
        if column == R_STATUS:
            return report.status.value if report else ("" if not row.allow else "no report yet")
        if column == R_COST:
            return f"${report.cost:.4f}" if report else ""
        return "" if row.allow else row.reason_text

    def _colour(self, row: UserRequest, column: int) -> QColor | None:
        if column == R_RESULT:
            return GREEN if row.allow else RED
        if column == R_STATUS and row.report is not None and row.report.status.value != "ok":
            return RED
        if column == R_STATUS and row.report is None:
            return GREY
        return None

    def _tip(self, row: UserRequest, column: int) -> str | None:
        if column in (R_PROVIDER, R_RESULT) and row.model:
            return f"{row.provider} · {row.model}" + (
                f" · policy {row.policy}" if row.policy else ""
            )
        if column == R_REASON and not row.allow:
            return f"{row.reason.value}: {row.reason_text}"
        return None


class UserTicketsModel(_RowsModel[TicketPublic]):
    """The user's tickets, as the queue orders them (soonest deadline first)."""

    headers = TICKET_HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(self._text, colour=self._colour, parent=parent)

    def _text(self, row: TicketPublic, column: int) -> str:
        values = (
            str(row.id),
            row.subject,
            row.status.value,
            row.priority.value,
            row.assignee or "",
            "" if row.paused else local_time(row.next_due_at),
        )
        return values[column]

    def _colour(self, row: TicketPublic, column: int) -> QColor | None:
        return RED if column == T_DUE and row.breached else None
