"""Who may press what: actions disabled with a tooltip that names the role that may."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.console.conftest import TlsServer
from tests.console.users.conftest import make_pane, register
from tests.console.views.conftest import open_console

BUTTONS = (
    "suspend_button",
    "tier_button",
    "quota_button",
    "budget_button",
    "why_button",
    "impersonate_button",
    "export_button",
    "erase_button",
)


@pytest.mark.parametrize(
    ("role", "enabled"),
    [
        (
            Role.SUPPORT,
            {
                "suspend_button",
                "tier_button",
                "quota_button",
                "budget_button",
                "why_button",
                "impersonate_button",
                "export_button",
            },
        ),
        (Role.BILLING, {"tier_button"}),
        (
            Role.ONCALL,
            {"suspend_button", "quota_button", "budget_button", "why_button", "impersonate_button"},
        ),
    ],
)
def test_actions_follow_the_role(  # noqa: PLR0917 - pytest fixtures
    tls_server: TlsServer,
    loop: asyncio.AbstractEventLoop,
    memory_keyring: Any,
    app: httpx.Client,
    qtbot: Any,
    role: Role,
    enabled: set[str],
) -> None:
    register(app, "rita", tier="free")
    console = open_console(tls_server, loop, f"op-{role.value}", role)
    try:
        pane = make_pane(console, qtbot)
        console.run(pane.open_user("rita"))
        details = pane.details
        console.wait(lambda: details.user is not None, "the user")
        for name in BUTTONS:
            button = getattr(details, name)
            assert button.isEnabled() == (name in enabled), name
            if name not in enabled:
                assert "role" in button.toolTip() and f"you are {role.value}" in button.toolTip()
        if role is Role.BILLING:
            # Billing may change tiers, but bulk actions need users:bulk as well.
            pane.table.selectRow(0)
            assert not pane.bulk_tier.isEnabled()
            assert "users" not in pane.bulk_tier.toolTip() or "role" in pane.bulk_tier.toolTip()
        if role is Role.ONCALL:
            assert details.erase_button.toolTip() == "Needs the admin role. (you are oncall)"
    finally:
        console.close()


def test_a_viewer_cannot_search_users(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, memory_keyring: Any, qtbot: Any
) -> None:
    console = open_console(tls_server, loop, "victor", Role.VIEWER)
    try:
        pane = make_pane(console, qtbot)
        assert not pane.search_edit.isEnabled()
        assert "support" in pane.search_edit.toolTip()
        assert pane.model.rowCount() == 0
        assert "Needs" in pane.status_label.text()
        assert not pane.bulk_suspend.isEnabled()
    finally:
        console.close()
