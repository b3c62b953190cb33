"""Quick search (Ctrl+K): one box that finds panes, providers, switches, users and tickets.

Panes, providers and switches are matched locally as the operator types (providers and
switches come from the connection, i.e. the cache when offline). Users (``GET /v1/users?q=``)
and tickets (by number, or by the exact user id) are asked of the server once typing pauses
for :data:`DEBOUNCE_MS`; a newer query cancels an older one, and an answer to an old query is
never shown. Arrows move, Enter opens, Esc closes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from opsconsole.console.connection import ApiError
from opsconsole.console.panes.base import spawn
from opsconsole.console.qt import (
    QDialog,
    QEvent,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QObject,
    QPalette,
    QPoint,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from opsconsole.console.widgets.confirm import SWITCH_TITLES
from opsconsole.wire.common import Page
from opsconsole.wire.gate import ProviderPublic, SwitchName, SwitchPublic
from opsconsole.wire.tickets import TicketDetail, TicketPublic
from opsconsole.wire.users import UserPublic

if TYPE_CHECKING:
    from opsconsole.console.app import MainWindow

log = logging.getLogger("opsconsole.console.quick_search")

DEBOUNCE_MS = 250  # typing pauses longer than this between words, not between letters
SERVER_LIMIT = 8  # users (and tickets) shown per query
USERS_READ = "users:read"
TICKETS_READ = "tickets:read"
TICKET_NUMBER = re.compile(r"^#?(\d{1,9})$")


class Kind(StrEnum):
    PANE = "Pane"
    PROVIDER = "Provider"
    SWITCH = "Switch"
    USER = "User"
    TICKET = "Ticket"


@dataclass(frozen=True)
class Result:
    kind: Kind
    key: str  # pane name, provider name, switch name, user id, ticket id
    title: str
    detail: str = ""
    available: bool = True  # False: shown, but the pane that would open it is missing
    score: float = 0.0

    @property
    def text(self) -> str:
        detail = f"  ·  {self.detail}" if self.detail else ""
        missing = "" if self.available else "  (cannot open: its pane is not in this console)"
        return f"{self.kind.value}: {self.title}{detail}{missing}"


def score(query: str, *texts: str) -> float:
    """How well ``query`` matches the best of ``texts``: 0 for no match, higher is better."""
    q = query.casefold().strip()
    if not q:
        return 1.0
    best = 0.0
    for raw in texts:
        text = raw.casefold()
        if not text:
            continue
        if text.startswith(q):
            best = max(best, 4.0)
        elif any(word.startswith(q) for word in re.split(r"[\s_\-/.:@]+", text)):
            best = max(best, 3.0)
        elif q in text:
            best = max(best, 2.0)
        elif _subsequence(q, text):
            best = max(best, 1.0)
    return best


def _subsequence(query: str, text: str) -> bool:
    letters = iter(text)
    return all(ch in letters for ch in query if not ch.isspace())


class QuickSearch(QDialog):
    """The Ctrl+K box over the main window.

    Signals: none; opening a result acts on the window's panes.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window, Qt.WindowType.Dialog | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("quickSearch")
        self.window_ = window
        self.connection = window.connection
        self.setWindowTitle("Quick search")
        self.box = QLineEdit()
        self.box.setObjectName("quickSearchBox")
        self.box.setPlaceholderText("Search panes, providers, switches, users, tickets…")
        self.results = QListWidget()
        self.results.setObjectName("quickSearchResults")
        self.results.setUniformItemSizes(True)
        self.note = QLabel("")
        self.note.setObjectName("quickSearchNote")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.box)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.note)
        self.resize(640, 420)

        self.providers: list[ProviderPublic] = []
        self.switches: list[SwitchPublic] = []
        self.server_results: list[Result] = []
        self.server_note = ""
        self.searching = False
        self._generation = 0
        self._query_task: asyncio.Future[None] | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self.box.textChanged.connect(self._on_box_text_changed)
        self.box.installEventFilter(self)
        self.results.itemActivated.connect(self._on_results_item_activated)

    # --- public -----------------------------------------------------------------------------

    def open(self) -> None:
        """Show the box (empty) over the top of the window and fetch what is matched locally."""
        self.box.clear()
        self.note.setText("")
        self._place()
        self.show()
        self.activateWindow()
        self.box.setFocus()
        self._show_results()
        spawn(self._load_local())

    def results_shown(self) -> list[Result]:
        """What the list shows, in order."""
        return [
            self.results.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.results.count())
        ]

    def activate(self, result: Result) -> bool:
        """Open ``result``; False (and a note saying why) when it cannot be opened."""
        window = self.window_
        if result.kind is Kind.PANE:
            self._show_pane(result.key)
        elif result.kind is Kind.PROVIDER:
            pane = self._show_pane("providers")
            select = getattr(pane, "select", None)
            if callable(select):
                select(result.key)
        elif result.kind is Kind.SWITCH:
            pane = self._show_pane("controls")
            buttons = getattr(pane, "buttons", {})
            button = buttons.get(SwitchName(result.key))
            if isinstance(button, QWidget):
                button.setFocus()
        elif result.kind in (Kind.USER, Kind.TICKET):
            pane_name, method = (
                ("users", "open_user") if result.kind is Kind.USER else ("tickets", "open_ticket")
            )
            pane = window.panes.get(pane_name)
            opener = getattr(pane, method, None)
            if pane is None or not callable(opener):
                self.note.setText(
                    f"{result.kind.value} {result.key} found, but this console has no "
                    f"{pane_name} pane to open it in."
                )
                return False
            self._show_pane(pane_name)
            opener(result.key if result.kind is Kind.USER else int(result.key))
        self.hide()
        return True

    # --- private ----------------------------------------------------------------------------

    def _place(self) -> None:
        window = self.window_
        width = min(720, max(420, window.width() - 80))
        self.resize(width, 420)
        top_left = window.mapToGlobal(QPoint((window.width() - width) // 2, 60))
        self.move(top_left)

    def _show_pane(self, name: str) -> QWidget | None:
        window = self.window_
        dock = window.docks.get(name)
        if dock is None:
            return None
        dock.show()
        dock.raise_()
        pane = window.panes[name]
        pane.setFocus()
        return pane

    async def _load_local(self) -> None:
        """Providers and switches, from the server (or the cache when offline)."""
        try:
            self.providers = await self.connection.providers()
        except Exception as exc:  # offline with nothing cached, or a refusal
            log.info("quick search: providers unavailable: %s", exc)
        try:
            self.switches = await self.connection.controls()
        except Exception as exc:
            log.info("quick search: switches unavailable: %s", exc)
        if self.isVisible():
            self._show_results()

    def _local_results(self, query: str) -> list[Result]:
        found: list[Result] = []
        window = self.window_
        for name, pane in window.panes.items():
            s = score(query, pane.title, name)
            if s:
                found.append(Result(Kind.PANE, name, pane.title, score=s))
        for provider in self.providers:
            s = score(query, provider.name)
            if s:
                detail = f"breaker {provider.breaker.state.value}"
                found.append(Result(Kind.PROVIDER, provider.name, provider.name, detail, score=s))
        names = {s.name: s for s in self.switches}
        for switch_name in SwitchName:
            title = SWITCH_TITLES[switch_name]
            s = score(query, title, switch_name.value)
            if s:
                switch = names.get(switch_name)
                detail = "" if switch is None else ("ON" if switch.active else "off")
                found.append(Result(Kind.SWITCH, switch_name.value, title, detail, score=s))
        order = list(Kind)
        found.sort(key=lambda r: (-r.score, order.index(r.kind), r.title.casefold()))
        return found

    def _show_results(self) -> None:
        query = self.box.text().strip()
        shown = self._local_results(query) + (self.server_results if query else [])
        current = self.results.currentRow()
        self.results.clear()
        for result in shown:
            item = QListWidgetItem(result.text)
            item.setData(Qt.ItemDataRole.UserRole, result)
            if not result.available:
                item.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
            self.results.addItem(item)
        if shown:
            self.results.setCurrentRow(min(max(current, 0), len(shown) - 1))
        notes = []
        if self.searching:
            notes.append("searching users and tickets…")
        if self.server_note:
            notes.append(self.server_note)
        if query and not shown and not self.searching:
            notes.append(f"nothing matches “{query}”")
        self.note.setText("  ".join(notes))

    def _on_box_text_changed(self, text: str) -> None:
        self._generation += 1
        self.server_results = []
        self.server_note = ""
        if self._query_task is not None and not self._query_task.done():
            self._query_task.cancel()
        query = text.strip()
        self.searching = bool(query)
        if query:
            self._debounce.start()
        else:
            self._debounce.stop()
        self.results.setCurrentRow(0)
        self._show_results()

    def _on_debounce_timeout(self) -> None:
        self._query_task = spawn(self._search_server(self._generation, self.box.text().strip()))

    async def _search_server(self, generation: int, query: str) -> None:
        results: list[Result] = []
        notes: list[str] = []
        try:
            results += await self._users(query, notes)
            results += await self._tickets(query, notes)
        finally:
            if generation == self._generation:
                self.searching = False
        if generation != self._generation:
            return  # the operator typed on: this answer is for a query no longer shown
        self.server_results = results
        self.server_note = "  ".join(notes)
        self._show_results()

    async def _users(self, query: str, notes: list[str]) -> list[Result]:
        if not self.connection.can(USERS_READ):
            why = self.connection.why_not(USERS_READ).rstrip(".")
            notes.append(f"Users not searched: {why}.")
            return []
        try:
            page: Page[UserPublic] = await self.connection.get(
                "/v1/users", Page[UserPublic], params={"q": query, "limit": SERVER_LIMIT}
            )
        except (ApiError, OSError) as exc:
            notes.append(f"Users: {exc}")
            return []
        available = self._can_open("users", "open_user")
        return [
            Result(
                Kind.USER,
                user.id,
                user.name or user.email or user.id,
                " · ".join(p for p in (user.email or "", user.id, user.tier, user.status) if p),
                available=available,
            )
            for user in page.items
        ]

    async def _tickets(self, query: str, notes: list[str]) -> list[Result]:
        if not self.connection.can(TICKETS_READ):
            return []
        available = self._can_open("tickets", "open_ticket")
        found: list[TicketPublic] = []
        number = TICKET_NUMBER.match(query)
        try:
            if number:
                found.append(
                    await self.connection.get(f"/v1/tickets/{int(number.group(1))}", TicketDetail)
                )
            elif " " not in query:
                # The queue filters by the user's exact id; the server has no text search.
                page: Page[TicketPublic] = await self.connection.get(
                    "/v1/tickets", Page[TicketPublic], params={"user": query, "limit": SERVER_LIMIT}
                )
                found += page.items
        except ApiError as exc:
            if exc.status not in (404, 422):
                notes.append(f"Tickets: {exc}")
        except OSError as exc:
            notes.append(f"Tickets: {exc}")
        return [
            Result(
                Kind.TICKET,
                str(t.id),
                f"#{t.id} {t.subject}",
                f"{t.status.value} · {t.priority.value} · user {t.user_id}",
                available=available,
            )
            for t in found
        ]

    def _can_open(self, pane_name: str, method: str) -> bool:
        return callable(getattr(self.window_.panes.get(pane_name), method, None))

    def _on_results_item_activated(self, item: QListWidgetItem) -> None:
        self.activate(item.data(Qt.ItemDataRole.UserRole))

    # --- Qt overrides -----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.box and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            count = self.results.count()
            row = self.results.currentRow()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and count:
                step = 1 if key == Qt.Key.Key_Down else -1
                self.results.setCurrentRow((row + step) % count)
                return True
            if key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp) and count:
                step = 5 if key == Qt.Key.Key_PageDown else -5
                self.results.setCurrentRow(min(max(row + step, 0), count - 1))
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                item = self.results.currentItem()
                if item is not None:
                    self.activate(item.data(Qt.ItemDataRole.UserRole))
                return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            return
        super().keyPressEvent(event)


def open_quick_search(window: MainWindow) -> QuickSearch:
    """The window's quick search (made on first use), shown and empty."""
    found = window.findChild(QuickSearch, "quickSearch")
    search = found if isinstance(found, QuickSearch) else QuickSearch(window)
    search.open()
    return search
