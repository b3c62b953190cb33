"""Each action on a user, from the button through its dialog to the server, and bulk actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from opsconsole.console.dialogs.user_actions import (
    BudgetIncreaseDialog,
    ChangeTierDialog,
    EraseDialog,
    QuotaDialog,
)
from opsconsole.console.panes.users import UsersPane
from opsconsole.console.widgets.confirm import ReasonDialog
from tests.console.users.conftest import make_pane, register, server_user
from tests.console.views.conftest import Console


def finish(console: Console, pane: UsersPane) -> None:
    """Wait for the action the dialog sent to be done, answer and refresh included."""
    task = pane.details.action_task
    assert task is not None
    # Not the "done" message: it is still there from the previous action. A request that
    # hangs fails within the connection's hard deadline, so the task always ends.
    console.wait(task.done, "the action", 45)
    assert task.exception() is None


def finish_bulk(console: Console, pane: UsersPane) -> None:
    task = pane.action_task
    assert task is not None
    console.wait(task.done, "the bulk action", timeout=30)


def open_user(console: Console, pane: UsersPane, user_id: str) -> None:
    console.run(pane.open_user(user_id))
    console.wait(
        lambda: pane.details.user is not None and pane.details.user.id == user_id, "the user"
    )


def test_suspend_and_activate_with_a_reason(
    support: Console, app: httpx.Client, qtbot: Any
) -> None:
    register(app, "zoe", tier="premium")
    pane = make_pane(support, qtbot)
    open_user(support, pane, "zoe")
    details = pane.details
    assert details.suspend_button.isEnabled() and details.suspend_button.text() == "Suspend…"

    details.suspend_button.click()
    dialog = details.dialog
    assert isinstance(dialog, ReasonDialog) and not dialog.ok_button.isEnabled()
    dialog.reason_edit.setText("chargeback on card")
    dialog.ok_button.click()
    finish(support, pane)
    support.wait(lambda: server_user(support, "zoe")["status"] == "suspended", "suspended")
    assert server_user(support, "zoe")["status_reason"] == "chargeback on card"
    support.wait(lambda: details.suspend_button.text() == "Activate…", "the button turns")
    row = pane.model.row_of("zoe")
    assert row is not None and pane.model.row(row).status == "suspended"

    details.suspend_button.click()
    dialog = details.dialog
    assert isinstance(dialog, ReasonDialog)
    dialog.reason_edit.setText("chargeback withdrawn")
    dialog.ok_button.click()
    finish(support, pane)
    support.wait(lambda: server_user(support, "zoe")["status"] == "active", "active again")


def test_tier_quota_and_budget_increase(support: Console, app: httpx.Client, qtbot: Any) -> None:
    register(app, "yan", tier="free")
    pane = make_pane(support, qtbot)
    open_user(support, pane, "yan")
    details = pane.details

    details.tier_button.click()
    tier = details.dialog
    assert isinstance(tier, ChangeTierDialog)
    tier.tier_combo.setCurrentText("premium")
    tier.reason_edit.setText("upgraded by sales")
    tier.ok_button.click()
    finish(support, pane)
    support.wait(lambda: server_user(support, "yan")["tier"] == "premium", "premium")

    details.quota_button.click()
    quota = details.dialog
    assert isinstance(quota, QuotaDialog)
    quota.quota_spin.setValue(250)
    quota.reason_edit.setText("ticket 4: exam week")
    quota.ok_button.click()
    finish(support, pane)
    support.wait(
        lambda: server_user(support, "yan")["overrides"]["quota_daily_requests"] == 250, "quota"
    )

    details.budget_button.click()
    budget = details.dialog
    assert isinstance(budget, BudgetIncreaseDialog)
    budget.amount_spin.setValue(7.5)
    assert budget.until_combo is not None
    budget.until_combo.setCurrentIndex(2)  # 7 days
    budget.reason_edit.setText("goodwill after an outage")
    budget.ok_button.click()
    finish(support, pane)
    support.wait(
        lambda: server_user(support, "yan")["overrides"]["budget_bonus"] == 7.5, "the bonus"
    )
    until = server_user(support, "yan")["overrides"]["budget_bonus_until"]
    # Counted on the server's clock (a ManualClock far from the desk's), not the desk's.
    assert until.startswith("2026-01-12T09:00")  # the ManualClock's 2026-01-05 09:00 + 7 days
    support.server.app.state.gate.sync_once(slow=True)  # the gate's half-second sync, now
    support.run(details.reload_user())
    assert "bonus $7.50" in details.usage_box.line.text()
    assert details.usage_box.bars["week"].format().startswith("$0.00 of $")


def test_export_to_a_file(support: Console, app: httpx.Client, qtbot: Any, tmp_path: Path) -> None:
    register(app, "xia", tier="free", country="DE")
    pane = make_pane(support, qtbot)
    open_user(support, pane, "xia")
    target = tmp_path / "xia.json"
    pane.details.export_path_chooser = lambda suggested: target
    written = support.run(pane.details.export())
    assert written == target
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["user"]["id"] == "xia" and data["user"]["country"] == "DE"
    assert target.stat().st_mode & 0o077 == 0, "personal data: the operator's eyes only"
    actions = [
        row["action"]
        for row in support.operator_client("auditor")
        .get("/v1/audit", params={"target": "user:xia"})
        .json()["items"]
    ]
    assert "users.export" in actions


def test_erase_needs_the_id_typed(admin: Console, app: httpx.Client, qtbot: Any) -> None:
    register(app, "wes", tier="free")
    pane = make_pane(admin, qtbot)
    open_user(admin, pane, "wes")
    pane.details.erase_button.click()
    dialog = pane.details.dialog
    assert isinstance(dialog, EraseDialog) and not dialog.ok_button.isEnabled()
    dialog.confirm_edit.setText("we")
    assert not dialog.ok_button.isEnabled()
    dialog.confirm_edit.setText("wes")
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()  # a step-up is asked for and answered by the test's prompt
    finish(admin, pane)
    admin.wait(lambda: pane.details.user is not None and pane.details.user.status == "erased")
    response = admin.operator_client("checker").get("/v1/users/wes")
    assert response.status_code == 404
    assert not pane.details.erase_button.isEnabled(), "nothing more to do to an erased row"
    assert all(user.id != "wes" for user in admin.connection.cache.users())


def test_bulk_suspend_and_tier_change_with_one_reason(
    support: Console, app: httpx.Client, qtbot: Any
) -> None:
    for user_id in ("b1", "b2", "b3", "b4"):
        register(app, user_id, tier="free")
    pane = make_pane(support, qtbot)
    assert not pane.bulk_suspend.isEnabled(), "nothing selected"
    for row in range(3):
        pane.table.selectionModel().select(
            pane.model.index(row, 0),
            pane.table.selectionModel().SelectionFlag.Select
            | pane.table.selectionModel().SelectionFlag.Rows,
        )
    assert pane.selected_ids() == ["b1", "b2", "b3"]
    assert pane.bulk_suspend.isEnabled()

    pane.bulk_suspend.click()
    dialog = pane.dialog
    assert dialog is not None
    dialog.reason_edit.setText("spam wave 2026-01")
    dialog.ok_button.click()
    finish_bulk(support, pane)
    support.wait(
        lambda: (
            [server_user(support, u)["status"] for u in ("b1", "b2", "b3", "b4")]
            == ["suspended", "suspended", "suspended", "active"]
        ),
        "three suspended",
    )
    support.wait(lambda: "3 changed" in pane.status_label.text(), "the result shown")
    support.wait(
        lambda: all(pane.model.row(r).status == "suspended" for r in range(3)), "rows updated"
    )

    pane.bulk_tier.click()
    dialog = pane.dialog
    assert dialog is not None and dialog.tier_combo is not None
    dialog.tier_combo.setCurrentText("premium")
    dialog.reason_edit.setText("migrated to the school plan")
    dialog.ok_button.click()
    finish_bulk(support, pane)
    support.wait(
        lambda: [server_user(support, u)["tier"] for u in ("b1", "b2", "b3")] == ["premium"] * 3,
        "tiers changed",
    )
