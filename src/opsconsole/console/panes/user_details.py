"""One end user in detail: profile, use against limits, last requests, tickets, and the actions.

Shown beside the search results in the users pane. The actions are guarded by role (disabled
with a tooltip naming the role that may), each asks for a reason, and the user is fetched
again after each so what is shown is what the server holds. "Why refused?" asks the gate for
a dry run and says in plain words what blocks the user and what would change it.

This module is the pane's acting half: the action buttons, their dialogs and the requests they
send. What it shows, and the fetching that fills it, is ``user_view``; the "Why refused?"
wording is ``user_refusal``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.console.dialogs.impersonate import ImpersonateDialog
from opsconsole.console.dialogs.user_actions import (
    BudgetIncreaseDialog,
    ChangeTierDialog,
    EraseDialog,
    QuotaDialog,
    who,
)
from opsconsole.console.panes.base import ServerClock, log, spawn
from opsconsole.console.panes.user_view import UserView, user_path
from opsconsole.console.qt import QDialog, QFileDialog, QGridLayout, QPushButton, QWidget, Signal
from opsconsole.console.widgets.confirm import ReasonDialog
from opsconsole.wire.impersonation import ImpersonationStarted
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


class UserDetails(UserView):
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
        self.dialog: QDialog | None = None
        self.export_path_chooser = self._choose_export_path
        self.action_task: asyncio.Future[None] | None = None  # the last action sent

    # --- public -----------------------------------------------------------------------------

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

    def _build_actions(self) -> QGridLayout:
        self._buttons: list[QPushButton] = []
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
        return actions

    def _button(
        self, text: str, name: str, permission: str, slot: Callable[[], object]
    ) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        self.guard(button, permission, TIPS[name])
        button.clicked.connect(lambda _=False: slot())
        self._buttons.append(button)
        return button

    def _set_user(self, user: UserPublic) -> None:
        # The one button whose action depends on the user: suspend an active one, and back.
        self.suspend_button.setText("Activate…" if user.status == "suspended" else "Suspend…")
        super()._set_user(user)

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
        self.tabs.requests_model.set_rows([])
        self.tabs.tickets_model.set_rows([])
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
