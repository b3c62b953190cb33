"""One end user shown: the header, use against limits, and the tabs of last requests, tickets
and the "Why refused?" answer, with the fetching that fills them.

Separate from ``user_details``, which adds the actions and their dialogs: this half only
reads, and its sections are widgets that draw what they are handed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from opsconsole.console.models.users import UserRequestsModel, UserTicketsModel, local_time
from opsconsole.console.panes.base import Pane, ServerClock
from opsconsole.console.panes.user_refusal import explain, money
from opsconsole.console.qt import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    Qt,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from opsconsole.wire.activity import UserRequest, UserUsage
from opsconsole.wire.common import Page
from opsconsole.wire.gate import AdmitResponse, TierPublic
from opsconsole.wire.tickets import TicketPublic
from opsconsole.wire.users import UserPublic

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection

TICKETS_READ = "tickets:read"
LAST_REQUESTS = 100
WHY_PROMPT = "Press “Why refused?” to ask the gate what it would decide now."


def detail_label(name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


def detail_table(model: Any, name: str) -> QTableView:
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(22)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def header_html(user: UserPublic) -> str:
    """Who the user is (name, email, id), their tier and status, and their own overrides."""
    status = (
        user.status if user.status == "active" else f"<b style='color:#c62828'>{user.status}</b>"
    )
    reason = f" — “{user.status_reason}”" if user.status_reason and user.status != "active" else ""
    overrides = [
        f"{name.replace('_', ' ')} {value}"
        for name, value in user.overrides.model_dump().items()
        if value is not None and name != "budget_bonus_until"
    ]
    return (
        f"<h3 style='margin:0'>{user.name or '(no name)'}</h3>"
        f"{user.email or ''}<br>"
        f"<code>{user.id}</code><br>"
        f"Tier <b>{user.tier}</b> · status {status}{reason}<br>"
        f"Country {user.country or '—'} · joined {local_time(user.joined_at, '%Y-%m-%d')}"
        + (f"<br>Overrides: {', '.join(overrides)}" if overrides else "")
    )


class UsageBox(QGroupBox):
    """Requests today, spend this week and this month, each as a bar against its limit."""

    def __init__(self) -> None:
        super().__init__("Use against limits")
        self.bars: dict[str, QProgressBar] = {}
        self.line = detail_label("usageLine")
        grid = QGridLayout(self)
        rows = (("today", "Requests today"), ("week", "Spend this week"), ("month", "This month"))
        for i, (key, label) in enumerate(rows):
            bar = QProgressBar()
            bar.setObjectName(f"usage_{key}")
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setFormat("—")
            bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(QLabel(label), i, 0)
            grid.addWidget(bar, i, 1)
            self.bars[key] = bar
        grid.addWidget(self.line, 3, 0, 1, 2)

    def show_usage(self, usage: UserUsage) -> None:
        limits = usage.limits

        def fill(bar: QProgressBar, used: float, limit: float | None, text: str) -> None:
            if limit is None:
                bar.setValue(0)
                bar.setFormat(f"{text} (no cap)")
                return
            share = used / limit if limit > 0 else 1.0
            bar.setValue(int(min(1.0, share) * 1000))
            bar.setFormat(f"{text} ({share:.0%})")
            colour = "#c62828" if share >= 1 else "#e69500" if share >= 0.8 else "#2e7d32"
            bar.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")

        daily = limits.daily_requests if limits else None
        fill(
            self.bars["today"],
            usage.requests_today,
            daily,
            f"{usage.requests_today} of {daily if daily is not None else '∞'}",
        )
        week = limits.weekly_budget if limits else None
        month = limits.monthly_budget if limits else None
        fill(
            self.bars["week"],
            usage.spent_week,
            week,
            f"{money(usage.spent_week)} of {money(week or 0)}",
        )
        fill(
            self.bars["month"],
            usage.spent_month,
            month,
            f"{money(usage.spent_month)} of {money(month or 0)}",
        )
        bonus = ""
        if limits and limits.budget_bonus:
            bonus = (
                f" · bonus ${limits.budget_bonus:.2f} until {local_time(limits.budget_bonus_until)}"
            )
        self.line.setText(
            f"Spent today {money(usage.spent_today)} · errors today {usage.errors_today} · "
            f"refused today {usage.denied_today}{bonus}"
        )


class ActivityTabs(QTabWidget):
    """The user's last requests, their tickets, and the gate's answer to "Why refused?"."""

    WHY = 2  # the index of the "Why refused?" tab

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("userTabs")
        self.requests_model = UserRequestsModel(self)
        self.requests_table = detail_table(self.requests_model, "userRequests")
        self.tickets_model = UserTicketsModel(self)
        self.tickets_table = detail_table(self.tickets_model, "userTickets")
        self.why_text = detail_label("whyText", WHY_PROMPT)
        self.why_text.setTextFormat(Qt.TextFormat.RichText)
        why_page = QWidget()
        why_layout = QVBoxLayout(why_page)
        why_layout.addWidget(self.why_text)
        why_layout.addStretch(1)
        self.addTab(self.requests_table, "Last requests")
        self.addTab(self.tickets_table, "Tickets")
        self.addTab(why_page, "Why refused?")


def user_path(user_id: str, suffix: str = "") -> str:
    return f"/v1/users/{quote(user_id, safe='')}{suffix}"


class UserView(Pane):
    """The user the operator opened, as the server holds them; :class:`UserDetails` adds the
    actions, in the row that :meth:`_build_actions` returns (none here)."""

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.user: UserPublic | None = None
        self.usage: UserUsage | None = None
        self.tickets: list[TicketPublic] = []
        self.tiers: list[TierPublic] = []
        self.decision: AdmitResponse | None = None
        self._generation = 0
        self._usage_mono = 0.0

        self.header = detail_label("userHeader", "Search for a user and pick one to see them here.")
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.usage_box = UsageBox()
        actions = self._build_actions()
        self.tabs = ActivityTabs()
        self.message = detail_label("userMessage")

        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.usage_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)

    # --- public -----------------------------------------------------------------------------

    async def show_user(self, user_id: str) -> UserPublic | None:
        """Fetch the user and everything about them; an older request's answer is dropped."""
        self._generation += 1
        generation = self._generation
        self.message.setText(f"Loading {user_id}…")
        try:
            user: UserPublic = await self.connection.get(user_path(user_id), UserPublic)
        except Exception as exc:
            if generation == self._generation:
                self.message.setText(f"Could not load {user_id}: {exc}")
            return None
        if generation != self._generation:
            return None
        if (
            self.user is not None
            and self.user.id == user.id
            and user.updated_at < self.user.updated_at
        ):
            user = self.user  # an older answer than what is shown: keep the newer
        self._set_user(user)
        self.tabs.why_text.setText(WHY_PROMPT)
        self.decision = None
        await self._load_activity(generation)
        return user

    async def reload_user(self) -> None:
        if self.user is not None:
            await self.show_user(self.user.id)

    def server_now(self) -> datetime:
        """The server's time: from the last usage answer, moved on by the local clock."""
        if self.usage is None:
            return self.clock.now()
        return self.usage.at + timedelta(seconds=time.monotonic() - self._usage_mono)

    async def why_refused(self) -> AdmitResponse | None:
        """Ask the gate for a dry run and show it in words."""
        user = self.user
        if user is None:
            return None
        self.tabs.setCurrentIndex(ActivityTabs.WHY)
        self.tabs.why_text.setText("Asking the gate…")
        try:
            decision, usage = await asyncio.gather(
                self.connection.send(
                    "POST",
                    "/v1/gate/dry-run",
                    json={"user_id": user.id},
                    model=AdmitResponse,
                ),
                self._usage(user.id),
            )
        except Exception as exc:
            self.tabs.why_text.setText(f"The gate could not be asked: {exc}")
            return None
        if usage is not None:
            self._show_usage(usage)
        assert isinstance(decision, AdmitResponse)
        self.decision = decision
        self.tabs.why_text.setText(explain(decision, user, usage))
        return decision

    # --- private -----------------------------------------------------------------------------

    def _build_actions(self) -> QGridLayout:
        """The row under the header where the actions go (built before the tabs, so the
        keyboard reaches the actions first)."""
        return QGridLayout()

    async def _load_activity(self, generation: int) -> None:
        user = self.user
        assert user is not None
        results: tuple[Any, ...] = await asyncio.gather(
            self._usage(user.id),
            self.connection.get(
                user_path(user.id, "/requests"), Page[UserRequest], params={"limit": LAST_REQUESTS}
            ),
            self._tickets(user.id),
            self._tiers(),
            return_exceptions=True,
        )
        usage, requests, tickets, tiers = results
        if generation != self._generation:
            return
        problems = []
        if isinstance(usage, UserUsage):
            self._show_usage(usage)
        else:
            problems.append(f"use: {usage}")
        tabs = self.tabs
        if isinstance(requests, Page):
            tabs.requests_model.set_rows(requests.items)
        else:
            problems.append(f"requests: {requests}")
        if isinstance(tickets, list):
            self.tickets = tickets
            tabs.tickets_model.set_rows(tickets)
        else:
            problems.append(f"tickets: {tickets}")
        if isinstance(tiers, list):
            self.tiers = tiers
        rows = tabs.requests_model.rows()
        errors = sum(1 for r in rows if r.report and r.report.status.value != "ok")
        denied = sum(1 for r in rows if not r.allow)
        tabs.setTabText(0, f"Last requests ({len(rows)})")
        tabs.setTabText(1, f"Tickets ({len(self.tickets)})")
        summary = f"{user.id}: {errors} errors and {denied} refusals in the last requests."
        self.message.setText(summary if not problems else "Not loaded: " + "; ".join(problems))

    async def _usage(self, user_id: str) -> UserUsage | None:
        usage: UserUsage = await self.connection.get(user_path(user_id, "/usage"), UserUsage)
        return usage

    async def _tickets(self, user_id: str) -> list[TicketPublic]:
        if not self.connection.can(TICKETS_READ):
            return []
        page: Page[TicketPublic] = await self.connection.get(
            "/v1/tickets", Page[TicketPublic], params={"user": user_id, "limit": 100}
        )
        return page.items

    async def _tiers(self) -> list[TierPublic]:
        if self.tiers:
            return self.tiers
        tiers: list[TierPublic] = await self.connection.get("/v1/tiers", list[TierPublic])
        return tiers

    def _set_user(self, user: UserPublic) -> None:
        self.user = user
        self.header.setText(header_html(user))
        self.refresh_guards()

    def _show_usage(self, usage: UserUsage) -> None:
        self.usage = usage
        self._usage_mono = time.monotonic()
        self.usage_box.show_usage(usage)
