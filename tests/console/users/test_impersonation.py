"""Impersonation from the console: the dialog, the banner's countdown, ending it, expiry, the
test request as the user and opening the app with the token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from opsconsole.console.dialogs.impersonate import ImpersonateDialog
from opsconsole.console.panes.users import UsersPane
from opsconsole.console.profiles import Profile
from opsconsole.console.qt import QDesktopServices, QObject, QUrl, Slot
from opsconsole.console.widgets.impersonation_banner import BannerState
from tests.console.users.conftest import make_pane, register
from tests.console.views.conftest import Console


class UrlCatcher(QObject):
    """Takes the URLs the console would open in the browser."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def handle(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def catcher() -> Any:
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("https", catcher, "handle")
    yield catcher
    QDesktopServices.unsetUrlHandler("https")


def start(console: Console, pane: UsersPane, user_id: str, minutes: int = 15) -> None:
    console.run(pane.open_user(user_id))
    console.wait(lambda: pane.details.user is not None and bool(pane.details.tickets), "loaded")
    pane.details.impersonate_button.click()
    dialog = pane.details.dialog
    assert isinstance(dialog, ImpersonateDialog)
    assert not dialog.ok_button.isEnabled(), "a reason first"
    assert dialog.ticket_combo.currentData() == pane.details.tickets[0].id
    dialog.minutes_spin.setValue(minutes)
    dialog.reason_edit.setText("ticket: the coach answers in the wrong language")
    dialog.ok_button.click()
    task = pane.details.action_task
    assert task is not None
    console.wait(task.done, "impersonation started", timeout=30)
    assert pane.banner.state is BannerState.ACTIVE


def active_on_server(console: Console) -> list[dict[str, Any]]:
    response = console.operator_client("root").get("/v1/impersonations", params={"active": True})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def ticketed(app: httpx.Client) -> str:
    register(app, "ivy", tier="premium")
    response = app.post(
        "/v1/tickets",
        json={"user_id": "ivy", "subject": "Coach speaks French", "body": "Why?"},
    )
    assert response.status_code == 201, response.text
    return "ivy"


def test_banner_counts_down_and_ends_now(support: Console, ticketed: str, qtbot: Any) -> None:
    pane = make_pane(support, qtbot)
    start(support, pane, ticketed, minutes=10)
    banner = pane.banner
    assert banner.isVisible()
    assert banner.close_button.isHidden(), "no dismissing an active impersonation"
    assert "Impersonating Ivy · ivy@example.org (ivy)" in banner.text.text()
    assert "read only" in banner.text.text()
    assert "9:5" in banner.text.text() or "10:00" in banner.text.text()
    [active] = active_on_server(support)
    assert active["user_id"] == "ivy" and active["ticket_id"] is not None

    support.server.clock.advance(timedelta(seconds=119))  # two minutes pass on the server
    support.tick()
    support.wait(lambda: "7:5" in banner.text.text() or "8:00" in banner.text.text(), "8 min")

    decision = support.run(pane.test_as_user())
    assert decision is not None and decision.allow
    assert "As the gate sees ivy (tier premium, active)" in banner.gate_view.text()

    banner.end_button.click()
    support.wait(lambda: banner.state is BannerState.ENDED, "ended")
    assert "ended" in banner.text.text()
    assert active_on_server(support) == []
    banner.close_button.click()
    assert banner.isHidden()


def test_banner_says_when_it_expired(support: Console, ticketed: str, qtbot: Any) -> None:
    pane = make_pane(support, qtbot)
    start(support, pane, ticketed, minutes=5)
    support.server.clock.advance(timedelta(minutes=5))
    support.tick()  # the next snapshot tells the console the server's time
    support.wait(lambda: pane.banner.state is BannerState.EXPIRED, "expired")
    assert "expired at" in pane.banner.text.text()
    assert not pane.banner.end_button.isVisible()
    assert active_on_server(support) == []


def test_open_the_app_as_the_user(
    support: Console, ticketed: str, qtbot: Any, catcher: UrlCatcher
) -> None:
    connection = support.connection
    connection.profile = Profile(
        name=connection.profile.name,
        url=connection.profile.url,
        pinned_pem=connection.profile.pinned_pem,
        impersonation_url="https://app.example.com/?impersonate={token}",
    )
    pane = make_pane(support, qtbot)
    start(support, pane, ticketed)
    assert pane.banner.open_button.isVisible()
    pane.banner.open_button.click()
    assert pane.impersonation is not None
    [url] = catcher.urls
    assert url.toString() == f"https://app.example.com/?impersonate={pane.impersonation.token}"
