"""An impersonation that outlives the console: after a restart (or a login elsewhere, or a
reconnect) the banner comes back for the operator's own active impersonations, counts down on
the server's clock, and "End now" ends them on the server. Another operator's never shows."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from opsconsole.console.app import MainWindow
from opsconsole.console.connection import ConnectionState
from opsconsole.console.impersonation_restore import ImpersonationRestore
from opsconsole.console.profiles import Profile
from opsconsole.console.widgets.impersonation_banner import (
    CANNOT_OPEN_RESTORED,
    BannerState,
    ImpersonationBanner,
)
from opsconsole.wire.common import Role
from opsconsole.wire.impersonation import ImpersonationStarted
from tests.console.conftest import until
from tests.console.core.helpers import make_connection
from tests.console.users.conftest import register
from tests.console.users.test_impersonation import active_on_server, start
from tests.console.views.conftest import Console, password_step_up
from tests.live import DEFAULT_PASSWORD


@pytest.fixture
def users(app: httpx.Client) -> list[str]:
    for user_id in ("ivy", "jo", "kim"):
        register(app, user_id, tier="premium")
    return ["ivy", "jo", "kim"]


@pytest.fixture
def earlier_session(support: Console) -> Iterator[httpx.Client]:
    """The support agent's own earlier console session (closed, crashed, another machine)."""
    trusted = ssl.create_default_context(cafile=str(support.server.cert.cert_path))
    with httpx.Client(base_url=support.server.url, verify=trusted, timeout=30) as client:
        response = client.post(
            "/v1/auth/login", json={"username": "sam", "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        yield client


def impersonate(client: httpx.Client, user_id: str, minutes: int) -> str:
    response = client.post("/v1/impersonations", json=_body(user_id, minutes))
    assert response.status_code == 201, response.text
    impersonation_id: str = response.json()["id"]
    return impersonation_id


def open_window(
    console: Console, qtbot: Any, *, expect_banner: bool = True
) -> tuple[MainWindow, ImpersonationBanner]:
    """A main window on the console's connection, already online: it looks at once."""
    window = MainWindow(console.connection, settings=console.settings)
    qtbot.addWidget(window)
    window.show()
    restore = window.impersonation_restore
    assert isinstance(restore, ImpersonationRestore)
    if expect_banner:
        console.wait(lambda: restore.banner.state is BannerState.ACTIVE, "banner restored")
    else:
        console.run(restore.check())  # the look it started, or a new one: either way, done
    return window, restore.banner


@pytest.fixture
def restarted(support: Console, qtbot: Any) -> Iterator[tuple[Console, MainWindow]]:
    """The console started again, as `main` does it: the window first, then connect, log in."""
    connection, settings, _ = make_connection(support.server, name="restarted")
    connection.set_step_up_prompt(password_step_up)
    console = Console(support.server, connection, settings, support.loop, support.clients)
    window = MainWindow(connection, settings=settings)
    qtbot.addWidget(window)
    window.show()

    async def log_in() -> None:
        await connection.start()
        await until(lambda: connection.status.state is ConnectionState.SESSION_EXPIRED)
        await connection.login("sam", DEFAULT_PASSWORD)

    try:
        console.run(log_in())
        yield console, window
    finally:
        console.run(connection.close())


def test_a_restarted_console_shows_the_impersonation_and_ends_it(
    support: Console, users: list[str], earlier_session: httpx.Client, qtbot: Any, request: Any
) -> None:
    impersonate(earlier_session, "ivy", minutes=10)
    # Another operator's impersonation, expiring later: never this operator's banner.
    other = impersonate(support.operator_client("otto", Role.SUPPORT), "kim", minutes=30)

    console, window = request.getfixturevalue("restarted")  # after those were started
    banner = window.pane("users").banner
    console.wait(lambda: banner.state is BannerState.ACTIVE, "banner restored after login")
    assert banner.restored
    assert banner.isVisible()
    text = banner.text.text()
    assert "Impersonating Ivy · ivy@example.org (ivy)" in text
    assert "read only" in text
    assert "9:5" in text or "10:00" in text
    assert "started in an earlier session" in text
    assert "more" not in text, "otto's impersonation is not sam's"
    assert banner.close_button.isHidden(), "no dismissing an active impersonation"
    assert banner.end_button.text() == "End now"
    assert not banner.open_button.isVisible(), "the profile knows no app URL"
    assert banner.test_button.isEnabled(), "the dry run needs the user id, not the token"
    decision = console.run(window.pane("users").test_as_user())
    assert decision is not None and decision.allow
    assert "As the gate sees ivy (tier premium, active)" in banner.gate_view.text()

    console.server.clock.advance(timedelta(seconds=119))  # two minutes pass on the server
    console.tick()
    console.wait(lambda: "7:5" in banner.text.text() or "8:00" in banner.text.text(), "8 min")

    banner.end_button.click()
    console.wait(lambda: banner.state is BannerState.ENDED, "ended")
    assert "ended by you" in banner.text.text()
    assert [item["id"] for item in active_on_server(support)] == [other]
    banner.close_button.click()
    assert banner.isHidden()


def test_several_show_the_last_to_expire_and_end_now_ends_them_all(
    support: Console, users: list[str], earlier_session: httpx.Client, qtbot: Any
) -> None:
    connection = support.connection
    connection.profile = Profile(
        name=connection.profile.name,
        url=connection.profile.url,
        pinned_pem=connection.profile.pinned_pem,
        impersonation_url="https://app.example.com/?impersonate={token}",
    )
    for user_id, minutes in (("ivy", 10), ("jo", 45), ("kim", 20)):
        impersonate(earlier_session, user_id, minutes)

    _, banner = open_window(support, qtbot)
    text = banner.text.text()
    assert "Impersonating Jo · jo@example.org (jo)" in text
    assert "44:5" in text or "45:00" in text
    assert "and 2 more" in text
    assert banner.end_button.text() == "End all 3 now"
    assert banner.open_button.isVisible() and not banner.open_button.isEnabled()
    assert banner.open_button.toolTip() == CANNOT_OPEN_RESTORED
    assert "token is not kept" in CANNOT_OPEN_RESTORED

    # ivy's runs out on the server: one fewer to mention.
    support.server.clock.advance(timedelta(minutes=10))
    support.tick()
    support.wait(lambda: "and 1 more" in banner.text.text(), "ivy's expired")
    assert banner.end_button.text() == "End all 2 now"

    banner.end_button.click()
    support.wait(lambda: banner.state is BannerState.ENDED, "ended")
    assert active_on_server(support) == []
    assert "Impersonation of Jo · jo@example.org (jo) and 1 more ended by you." in (
        banner.text.text()
    )


def test_an_admin_sees_only_their_own(admin: Console, users: list[str], qtbot: Any) -> None:
    """The list answers an admin with everyone's; the banner is the admin's own only."""
    impersonate(admin.operator_client("sam", Role.SUPPORT), "jo", minutes=40)
    impersonate(admin.operator_client("otto", Role.SUPPORT), "kim", minutes=50)
    own = admin.run(
        admin.connection.send(
            "POST", "/v1/impersonations", json=_body("ivy", 5), model=ImpersonationStarted
        )
    )
    assert isinstance(own, ImpersonationStarted)  # ada's own, from an earlier session

    _, banner = open_window(admin, qtbot)
    assert banner.state is BannerState.ACTIVE
    assert "Impersonating Ivy · ivy@example.org (ivy)" in banner.text.text()
    assert "more" not in banner.text.text()
    assert len(active_on_server(admin)) == 3


def test_a_reconnect_finds_one_started_and_one_ended_elsewhere(
    support: Console, users: list[str], earlier_session: httpx.Client, qtbot: Any
) -> None:
    _, banner = open_window(support, qtbot, expect_banner=False)
    assert banner.state is BannerState.IDLE and banner.isHidden()

    started = impersonate(earlier_session, "kim", minutes=15)
    bounce(support)
    support.wait(lambda: banner.state is BannerState.ACTIVE, "restored on reconnect")
    assert "Impersonating Kim · kim@example.org (kim)" in banner.text.text()

    ended = earlier_session.delete(f"/v1/impersonations/{started}")
    assert ended.status_code == 200, ended.text
    bounce(support)
    support.wait(lambda: banner.state is BannerState.ENDED, "gone on reconnect")
    assert "no longer active: it was ended elsewhere" in banner.text.text()


def test_one_started_in_this_session_keeps_its_token_actions(
    support: Console, users: list[str], earlier_session: httpx.Client, qtbot: Any, app: Any
) -> None:
    ticket = app.post("/v1/tickets", json={"user_id": "ivy", "subject": "Coach", "body": "?"})
    assert ticket.status_code == 201, ticket.text
    impersonate(earlier_session, "jo", minutes=30)
    window, banner = open_window(support, qtbot)
    assert banner.restored

    pane = window.pane("users")
    start(support, pane, "ivy", minutes=10)  # type: ignore[arg-type]
    assert not banner.restored
    restore = window.impersonation_restore
    assert restore is not None
    support.run(restore.check())  # as on a reconnect
    assert not banner.restored, "the live one (with its token) stays"
    assert "Impersonating Ivy" in banner.text.text()

    banner.end_button.click()  # ends ivy's (this session's) only
    support.wait(lambda: banner.state is BannerState.ENDED, "ended")
    assert [item["user_id"] for item in active_on_server(support)] == ["jo"]
    banner.close_button.click()  # then jo's, still active, comes back
    support.wait(lambda: banner.state is BannerState.ACTIVE, "jo's restored")
    assert banner.restored and "Impersonating Jo" in banner.text.text()


def bounce(console: Console) -> None:
    """The server goes away and comes back; the console reconnects."""
    console.stop_server()
    console.wait(lambda: not console.connection.online, "offline")
    console.start_server()
    console.wait(lambda: console.connection.online, "back online", timeout=20)


def _body(user_id: str, minutes: int) -> dict[str, Any]:
    return {"user_id": user_id, "reason": "checking the coach's answers", "minutes": minutes}
