"""One end user in detail: profile, use against limits, last requests, tickets, and the actions.

Shown beside the search results in the users pane. The actions are guarded by role (disabled
with a tooltip naming the role that may), each asks for a reason, and the user is fetched
again after each so what is shown is what the server holds. "Why refused?" asks the gate for
a dry run and says in plain words what blocks the user and what would change it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from opsconsole.console.dialogs.impersonate import ImpersonateDialog
from opsconsole.console.dialogs.user_actions import (
    BudgetIncreaseDialog,
    ChangeTierDialog,
    EraseDialog,
    QuotaDialog,
    who,
)
from opsconsole.console.models.users import UserRequestsModel, UserTicketsModel, local_time
from opsconsole.console.panes.base import Pane, ServerClock, log, spawn
from opsconsole.console.qt import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    Qt,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from opsconsole.console.widgets.confirm import ReasonDialog
from opsconsole.wire.activity import UsageLimits, UserRequest, UserUsage
from opsconsole.wire.common import Page
from opsconsole.wire.gate import REASON_TEXT, AdmitResponse, DenyReason, TierPublic
from opsconsole.wire.impersonation import ImpersonationStarted
from opsconsole.wire.tickets import TicketPublic
from opsconsole.wire.users import UserExport, UserPublic, UserUpdate

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection

USERS_WRITE = "users:write"
USERS_TIER = "users:tier"
USERS_EXPORT = "users:export"
USERS_ERASE = "users:erase"
IMPERSONATE = "impersonate"
IMPERSONATE_FULL = "impersonate:full"
GATE_DRY_RUN = "gate:dry-run"
TICKETS_READ = "tickets:read"

LAST_REQUESTS = 100
WHY_PROMPT = "Press “Why refused?” to ask the gate what it would decide now."
TIPS = {
    "suspendUser": "Suspend or activate, with a reason.",
    "changeTier": "Move the user to another tier.",
    "quotaOverride": "The user's own daily request quota.",
    "budgetIncrease": "Add to the user's budget until a date.",
    "whyRefused": "What the gate would decide now, and why.",
    "impersonate": "See the app as this user, for a while.",
    "exportUser": "Everything held about the user, to a file.",
    "eraseUser": "Remove the user's personal data for good.",
}

# Refusals that are not about this user but about everyone (or a whole tier).
_SWITCHES = {
    DenyReason.GLOBAL_RATE_LIMITED: "the global rate limit",
    DenyReason.PAUSED_ALL: "pause all",
    DenyReason.PAUSED_TIER: "pause tiers",
    DenyReason.GLOBAL_BUDGET_CAP: "the global budget cap",
}


def user_path(user_id: str, suffix: str = "") -> str:
    return f"/v1/users/{quote(user_id, safe='')}{suffix}"


def _in(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


Lines = tuple[list[str], list[str]]  # (facts, what would change it)


def _allowed(decision: AdmitResponse, user: UserPublic) -> str:
    left = decision.remaining
    policy = f" by the {decision.policy} policy." if decision.policy else "."
    parts = [
        f"<b>Allowed.</b> A request now would go to <b>{decision.provider}</b>"
        f" ({decision.model}){policy}"
    ]
    if left is not None:
        today = "no daily cap" if left.requests_today is None else f"{left.requests_today}"
        parts.append(
            f"Left: {today} requests today, ${left.budget_week:.2f} of this week's budget, "
            f"${left.budget_month:.2f} of this month's."
        )
    if user.status != "active":
        parts.append(f"(Status: {user.status}.)")
    return "<p>" + "</p><p>".join(parts) + "</p>"


def _suspended(user: UserPublic) -> Lines:
    if user.status == "erased":
        return ["The user was erased (GDPR); nothing can bring the account back."], []
    why = f" (“{user.status_reason}”)" if user.status_reason else ""
    return [f"The user is suspended{why}."], ["activating the user (Activate…)"]


def _daily(usage: UserUsage, limits: UsageLimits) -> Lines:
    source = (
        "the user's own override" if "daily_requests" in limits.overridden else f"tier {usage.tier}"
    )
    facts = [
        f"Requests today: <b>{usage.requests_today}</b> of <b>{limits.daily_requests}</b> "
        f"({source})."
    ]
    fixes = [
        f"waiting: the day resets at {local_time(usage.day_resets_at, '%H:%M')} "
        f"(in {_in(usage.day_resets_at - usage.at)})",
        f"a quota override above {limits.daily_requests} (Quota override…)",
        "a tier with more requests a day (Change tier…)",
    ]
    return facts, fixes


def _budget(usage: UserUsage, limits: UsageLimits, *, weekly: bool) -> Lines:
    spent = usage.spent_week if weekly else usage.spent_month
    budget = limits.weekly_budget if weekly else limits.monthly_budget
    resets = usage.week_resets_at if weekly else usage.month_resets_at
    key = "weekly_budget" if weekly else "monthly_budget"
    source = "the user's own override" if key in limits.overridden else f"tier {usage.tier}"
    bonus = (
        f", with a bonus of ${limits.budget_bonus:.2f} until "
        f"{local_time(limits.budget_bonus_until)}"
        if limits.budget_bonus
        else ""
    )
    span = "week" if weekly else "month"
    facts = [
        f"Spent this {span}: <b>{money(spent)}</b> of <b>{money(budget)}</b> ({source}{bonus})."
    ]
    fixes = [
        f"waiting: the {span} resets {local_time(resets, '%a %d %b %H:%M')} "
        f"(in {_in(resets - usage.at)})",
        "a temporary budget increase (Budget increase…)",
        "a tier with a larger budget (Change tier…)",
    ]
    return facts, fixes


def _reasons(decision: AdmitResponse, user: UserPublic, usage: UserUsage | None) -> Lines:
    reason = decision.reason
    limits = usage.limits if usage else None
    if reason is DenyReason.USER_SUSPENDED:
        return _suspended(user)
    if reason is DenyReason.UNKNOWN_USER:
        return (
            ["The app has not registered this user id with the control plane."],
            ["the app registering the user (PUT /v1/users/{id}) before its first request"],
        )
    if reason is DenyReason.DAILY_QUOTA and usage is not None and limits is not None:
        return _daily(usage, limits)
    if reason in (DenyReason.WEEKLY_BUDGET, DenyReason.MONTHLY_BUDGET) and usage and limits:
        return _budget(usage, limits, weekly=reason is DenyReason.WEEKLY_BUDGET)
    if reason is DenyReason.USER_RATE_LIMITED:
        rate = f"{limits.rate_per_minute} requests a minute" if limits else "their rate"
        retry = f" (about {decision.retry_after_s:.0f} s)" if decision.retry_after_s else ""
        return [f"The user sends faster than {rate}."], [
            f"waiting a moment{retry}; this clears by itself"
        ]
    if reason in _SWITCHES:
        return (
            [
                f"This is not about this user: the emergency switch "
                f"<b>{_SWITCHES[reason]}</b> refuses them (and others)."
            ],
            ["an on-call operator turning the switch off (Emergency controls)"],
        )
    if reason is DenyReason.NO_PROVIDER:
        return (
            [f"No provider that tier {user.tier} may use is enabled with a closed breaker."],
            ["resetting a provider's breaker or enabling one (Provider health)"],
        )
    return [], []


def explain(decision: AdmitResponse, user: UserPublic, usage: UserUsage | None) -> str:
    """The gate's answer in plain words: the verdict, the limits involved, what would change it.

    Returns rich text (a few short paragraphs).
    """
    if decision.allow:
        return _allowed(decision, user)
    facts, fixes = _reasons(decision, user, usage)
    text = f"<p><b>Refused: {REASON_TEXT[decision.reason]}.</b></p>"
    if facts:
        text += "<p>" + " ".join(facts) + "</p>"
    if fixes:
        text += "<p>What would change it:</p><ul>" + "".join(f"<li>{f}</li>" for f in fixes)
        text += "</ul>"
    return text


def money(amount: float) -> str:
    """Dollars; cents hide what a user of small requests spends, so small sums get 4 places."""
    return f"${amount:,.2f}" if amount == 0 or abs(amount) >= 1 else f"${amount:.4f}"


def _label(name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


def _table(model: Any, name: str) -> QTableView:
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


class UserDetails(Pane):
    """The user the operator opened, with what they may do to them.

    Signals:
        user_changed(UserPublic): the user as the server holds it after an action.
        impersonation_started(object): (ImpersonationStarted, UserPublic, server time).
    """

    user_changed = Signal(object)
    impersonation_started = Signal(object)

    title = "User details"
    name = "user_details"

    def __init__(
        self, connection: Connection, clock: ServerClock, parent: QWidget | None = None
    ) -> None:
        super().__init__(connection, clock, parent)
        self.user: UserPublic | None = None
        self.usage: UserUsage | None = None
        self.tickets: list[TicketPublic] = []
        self.tiers: list[TierPublic] = []
        self.decision: AdmitResponse | None = None
        self.dialog: QDialog | None = None
        self._generation = 0
        self._usage_mono = 0.0
        self.export_path_chooser = self._choose_export_path
        self._buttons: list[QPushButton] = []
        self.action_task: asyncio.Future[None] | None = None  # the last action sent

        self.header = _label("userHeader", "Search for a user and pick one to see them here.")
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bars: dict[str, QProgressBar] = {}
        self.usage_line = _label("usageLine")
        usage_box = self._build_usage_box()

        b = self._button
        self.suspend_button = b("Suspend…", "suspendUser", USERS_WRITE, self._ask_status)
        self.tier_button = b("Change tier…", "changeTier", USERS_TIER, self._ask_tier)
        self.quota_button = b("Quota override…", "quotaOverride", USERS_WRITE, self._ask_quota)
        self.budget_button = b("Budget increase…", "budgetIncrease", USERS_WRITE, self._ask_budget)
        self.why_button = b(
            "Why refused?", "whyRefused", GATE_DRY_RUN, lambda: spawn(_quietly(self.why_refused()))
        )
        self.impersonate_button = b(
            "Impersonate…", "impersonate", IMPERSONATE, self._ask_impersonate
        )
        self.export_button = b(
            "Export (GDPR)…", "exportUser", USERS_EXPORT, lambda: spawn(_quietly(self.export()))
        )
        self.erase_button = b("Erase…", "eraseUser", USERS_ERASE, self._ask_erase)
        actions = QGridLayout()
        for i, button in enumerate(self._buttons):
            actions.addWidget(button, i // 4, i % 4)

        self.requests_model = UserRequestsModel(self)
        self.requests_table = _table(self.requests_model, "userRequests")
        self.tickets_model = UserTicketsModel(self)
        self.tickets_table = _table(self.tickets_model, "userTickets")
        self.why_text = _label("whyText", WHY_PROMPT)
        self.why_text.setTextFormat(Qt.TextFormat.RichText)
        self.tabs = self._build_tabs()
        self.message = _label("userMessage")

        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(usage_box, 1)
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
        self.why_text.setText(WHY_PROMPT)
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
        self.tabs.setCurrentIndex(2)
        self.why_text.setText("Asking the gate…")
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
            self.why_text.setText(f"The gate could not be asked: {exc}")
            return None
        if usage is not None:
            self._show_usage(usage)
        assert isinstance(decision, AdmitResponse)
        self.decision = decision
        self.why_text.setText(explain(decision, user, usage))
        return decision

    async def export(self) -> Path | None:
        """Export everything about the user (GDPR) to a JSON file the operator picks."""
        user = self.user
        if user is None:
            return None
        path = self.export_path_chooser(f"user-{user.id}.json")
        if path is None:
            return None
        self.message.setText(f"Exporting {user.id}…")
        try:
            export = await self.connection.send(
                "GET", user_path(user.id, "/export"), model=UserExport
            )
        except Exception as exc:
            self._failed("Export", exc)
            return None
        assert isinstance(export, UserExport)
        data = json.dumps(export.model_dump(mode="json"), indent=2, ensure_ascii=False)
        await asyncio.to_thread(_write_private, path, data)
        self.message.setText(f"Exported {user.id} to {path}")
        return path

    # --- private: building -----------------------------------------------------------------

    def _button(
        self, text: str, name: str, permission: str, slot: Callable[[], object]
    ) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        self.guard(button, permission, TIPS[name])
        button.clicked.connect(lambda _=False: slot())
        self._buttons.append(button)
        return button

    def _build_usage_box(self) -> QGroupBox:
        box = QGroupBox("Use against limits")
        grid = QGridLayout(box)
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
        grid.addWidget(self.usage_line, 3, 0, 1, 2)
        return box

    def _build_tabs(self) -> QTabWidget:
        why_page = QWidget()
        why_layout = QVBoxLayout(why_page)
        why_layout.addWidget(self.why_text)
        why_layout.addStretch(1)
        tabs = QTabWidget()
        tabs.setObjectName("userTabs")
        tabs.addTab(self.requests_table, "Last requests")
        tabs.addTab(self.tickets_table, "Tickets")
        tabs.addTab(why_page, "Why refused?")
        return tabs

    # --- private: loading -------------------------------------------------------------------

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
        if isinstance(requests, Page):
            self.requests_model.set_rows(requests.items)
        else:
            problems.append(f"requests: {requests}")
        if isinstance(tickets, list):
            self.tickets = tickets
            self.tickets_model.set_rows(tickets)
        else:
            problems.append(f"tickets: {tickets}")
        if isinstance(tiers, list):
            self.tiers = tiers
        errors = sum(
            1 for r in self.requests_model.rows() if r.report and r.report.status.value != "ok"
        )
        denied = sum(1 for r in self.requests_model.rows() if not r.allow)
        self.tabs.setTabText(0, f"Last requests ({len(self.requests_model.rows())})")
        self.tabs.setTabText(1, f"Tickets ({len(self.tickets)})")
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
        status = (
            user.status
            if user.status == "active"
            else f"<b style='color:#c62828'>{user.status}</b>"
        )
        reason = (
            f" — “{user.status_reason}”" if user.status_reason and user.status != "active" else ""
        )
        overrides = [
            f"{name.replace('_', ' ')} {value}"
            for name, value in user.overrides.model_dump().items()
            if value is not None and name != "budget_bonus_until"
        ]
        self.header.setText(
            f"<h3 style='margin:0'>{user.name or '(no name)'}</h3>"
            f"{user.email or ''}<br>"
            f"<code>{user.id}</code><br>"
            f"Tier <b>{user.tier}</b> · status {status}{reason}<br>"
            f"Country {user.country or '—'} · joined {local_time(user.joined_at, '%Y-%m-%d')}"
            + (f"<br>Overrides: {', '.join(overrides)}" if overrides else "")
        )
        self.suspend_button.setText("Activate…" if user.status == "suspended" else "Suspend…")
        self.refresh_guards()

    def _show_usage(self, usage: UserUsage) -> None:
        self.usage = usage
        self._usage_mono = time.monotonic()
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
        self.usage_line.setText(
            f"Spent today {money(usage.spent_today)} · errors today {usage.errors_today} · "
            f"refused today {usage.denied_today}{bonus}"
        )

    # --- private: actions -------------------------------------------------------------------

    def _extra_enabled(self, widget: QWidget) -> bool:
        # An erased user is an anonymous row: nothing more can be done to it.
        return self.user is not None and self.user.status != "erased"

    def _open(self, dialog: QDialog, on_accept: Any) -> None:
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._run_action(on_accept(dialog)))
        dialog.open()

    def _run_action(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self.action_task = spawn(coroutine)

    def _ask_status(self) -> None:
        user = self.user
        if user is None:
            return
        verb = "activate" if user.status == "suspended" else "suspend"
        effect = (
            "the gate admits their requests again"
            if verb == "activate"
            else "the gate refuses all their AI requests until they are activated"
        )
        dialog = ReasonDialog(
            f"{verb.title()} user",
            f"{verb.title()} <b>{who(user)}</b>: {effect}.",
            action=verb.title(),
            parent=self,
        )
        dialog.setObjectName("statusDialog")
        self._open(
            dialog,
            lambda d: self._act(
                verb.title(), "POST", user_path(user.id, f"/{verb}"), {"reason": d.reason}
            ),
        )

    def _ask_tier(self) -> None:
        if self.user is None:
            return
        names = [t.name for t in self.tiers] or ["free", "premium", "unlimited"]
        dialog = ChangeTierDialog(self.user, names, parent=self)
        self._open(dialog, lambda d: self._patch("Tier change", d.body()))

    def _ask_quota(self) -> None:
        if self.user is None:
            return
        tier = next((t for t in self.tiers if t.name == self.user.tier), None)
        quota = None if tier is None or tier.daily_requests < 0 else tier.daily_requests
        dialog = QuotaDialog(self.user, quota, parent=self)
        self._open(dialog, lambda d: self._patch("Quota override", d.body()))

    def _ask_budget(self) -> None:
        if self.user is None:
            return
        dialog = BudgetIncreaseDialog(self.user, parent=self)
        self._open(dialog, lambda d: self._patch("Budget increase", d.body_at(self.server_now())))

    def _ask_erase(self) -> None:
        if self.user is None:
            return
        dialog = EraseDialog(self.user, parent=self)
        self._open(dialog, lambda d: self._erase(d.user))

    def _ask_impersonate(self) -> None:
        if self.user is None:
            return
        dialog = ImpersonateDialog(
            self.user,
            self.tickets,
            full_allowed=self.connection.can(IMPERSONATE_FULL),
            full_why_not=self.connection.why_not(IMPERSONATE_FULL),
            parent=self,
        )
        self._open(dialog, self._impersonate)

    async def _patch(self, what: str, update: UserUpdate) -> None:
        assert self.user is not None
        body = update.model_dump(mode="json", include=update.model_fields_set)
        await self._act(what, "PATCH", user_path(self.user.id), body)

    async def _act(self, what: str, method: str, path: str, body: dict[str, Any]) -> None:
        self.message.setText(f"{what}…")
        try:
            user = await self.connection.send(method, path, json=body, model=UserPublic)
        except Exception as exc:
            self._failed(what, exc)
            return
        assert isinstance(user, UserPublic)
        self.user_changed.emit(user)
        # The answer is the user as changed: shown as is (a read right after a write may
        # still see the old row on the server's read connection).
        self._generation += 1
        self._set_user(user)
        await self._load_activity(self._generation)
        self.message.setText(f"{what}: done for {user.id}.")

    async def _erase(self, user: UserPublic) -> None:
        self.message.setText(f"Erasing {user.id}…")
        try:
            erased = await self.connection.send("DELETE", user_path(user.id), model=UserPublic)
        except Exception as exc:
            self._failed("Erase", exc)
            return
        assert isinstance(erased, UserPublic)
        # What the console cached about the user goes too.
        await asyncio.to_thread(self.connection.cache.forget_user, user.id)
        self.user_changed.emit(erased)
        self._set_user(erased)
        self.requests_model.set_rows([])
        self.tickets_model.set_rows([])
        self.message.setText(f"{user.id} erased; the anonymous row is now {erased.id}.")

    async def _impersonate(self, dialog: ImpersonateDialog) -> None:
        body = dialog.body()
        try:
            started = await self.connection.send(
                "POST",
                "/v1/impersonations",
                json=body.model_dump(mode="json"),
                model=ImpersonationStarted,
            )
        except Exception as exc:
            self._failed("Impersonation", exc)
            return
        assert isinstance(started, ImpersonationStarted)
        server_now = started.expires_at - timedelta(minutes=body.minutes)
        self.impersonation_started.emit((started, dialog.user, server_now))
        self.message.setText(
            f"Impersonating {started.user_id} until {started.expires_at:%H:%M} UTC."
        )

    def _failed(self, what: str, exc: Exception) -> None:
        log.warning("%s failed: %s", what, exc)
        self.message.setText(f"{what} failed: {exc}")
        self.notified.emit(f"{what} failed: {exc}")

    def _choose_export_path(self, suggested: str) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(self, "Export user", suggested, "JSON (*.json)")
        return Path(name) if name else None


async def _quietly(coroutine: Coroutine[Any, Any, object]) -> None:
    """Run an action from a button, whose result only the tests look at."""
    await coroutine


def _write_private(path: Path, data: str) -> None:
    # Personal data: readable by the operator only.
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(data, encoding="utf-8")
