""" "Why is this user refused?": the gate's dry run in plain words, for the usual causes."""

from __future__ import annotations

from typing import Any

import httpx

from opsconsole.wire.gate import DenyReason
from tests.console.users.conftest import make_pane, register
from tests.console.views.conftest import Console


def ask(console: Console, pane: Any, user_id: str) -> str:
    console.run(pane.open_user(user_id))
    console.wait(lambda: pane.details.user is not None, "the user")
    decision = console.run(pane.details.why_refused())
    assert decision is not None
    pane.last_decision = decision
    text: str = pane.details.tabs.why_text.text()
    return text


def test_a_suspended_user(support: Console, app: httpx.Client, qtbot: Any) -> None:
    register(app, "sue", tier="premium")
    boss = support.operator_client("boss")
    boss.post("/v1/users/sue/suspend", json={"reason": "payment failed"}).raise_for_status()
    pane = make_pane(support, qtbot)
    text = ask(support, pane, "sue")
    assert pane.last_decision.reason is DenyReason.USER_SUSPENDED
    assert "Refused: the user is suspended" in text
    assert "payment failed" in text
    assert "activating the user" in text
    assert pane.details.tabs.currentIndex() == 2


def test_a_user_out_of_daily_requests(support: Console, app: httpx.Client, qtbot: Any) -> None:
    register(app, "quinn", tier="free")
    boss = support.operator_client("boss")
    response = boss.patch(
        "/v1/users/quinn", json={"quota_daily_requests": 2, "reason": "trial account"}
    )
    assert response.status_code == 200, response.text
    for _ in range(2):
        admitted = app.post("/v1/gate/admit", json={"user_id": "quinn"}).json()
        assert admitted["allow"] is True
    pane = make_pane(support, qtbot)
    text = ask(support, pane, "quinn")
    assert pane.last_decision.reason is DenyReason.DAILY_QUOTA
    assert "Requests today: <b>2</b> of <b>2</b> (the user's own override)" in text
    assert "the day resets at" in text and "(in 15 h 0 min)" in text  # 09:00 → midnight UTC
    assert "a quota override above 2" in text
    assert pane.details.usage_box.bars["today"].format() == "2 of 2 (100%)"


def test_an_allowed_user(support: Console, app: httpx.Client, qtbot: Any) -> None:
    register(app, "amy", tier="premium")
    pane = make_pane(support, qtbot)
    text = ask(support, pane, "amy")
    assert pane.last_decision.allow
    assert text.startswith("<p><b>Allowed.</b> A request now would go to <b>")
    assert "Left: 100 requests today" in text
