"""Search as you type, stale answers, paging as the operator scrolls, and the model itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from opsconsole.console.models.users import EMAIL, ID, UserSearchModel
from opsconsole.console.panes import users as users_pane
from opsconsole.console.qt import Qt
from opsconsole.wire.common import Page
from opsconsole.wire.users import UserOverrides, UserPublic
from tests.console.users.conftest import make_pane, register, register_many
from tests.console.views.conftest import Console


def _user(i: int) -> UserPublic:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return UserPublic(
        id=f"u{i}",
        email=f"u{i}@example.org",
        name=f"User {i}",
        tier="free",
        status="suspended" if i % 3 == 0 else "active",
        status_reason="spam" if i % 3 == 0 else None,
        country="DE",
        joined_at=at,
        updated_at=at,
        overrides=UserOverrides(),
    )


def test_the_search_model_passes_the_model_tester(qtmodeltester: Any) -> None:
    model = UserSearchModel()
    generation = model.begin_search()
    assert model.show_first_page(
        generation, Page(items=[_user(i) for i in range(5)], next_cursor="c")
    )
    assert model.canFetchMore()
    qtmodeltester.check(model)
    assert model.append_page(generation, Page(items=[_user(i) for i in range(5, 9)]))
    assert not model.canFetchMore()
    qtmodeltester.check(model)
    assert model.index(3, 4).data(Qt.ItemDataRole.ForegroundRole) is not None  # suspended


def test_a_page_of_an_older_search_is_never_shown() -> None:
    model = UserSearchModel()
    old = model.begin_search()
    new = model.begin_search()
    assert model.show_first_page(new, Page(items=[_user(1)]))
    assert not model.show_first_page(old, Page(items=[_user(2), _user(3)]))
    assert not model.append_page(old, Page(items=[_user(4)]))
    assert [model.row(i).id for i in range(model.rowCount())] == ["u1"]


def test_results_appear_while_typing(support: Console, app: httpx.Client, qtbot: Any) -> None:
    register(app, "alice-1", email="alice.wonder@example.org", name="Alice Wonder")
    register(app, "alina-2", email="alina@example.org", name="Alina Gray")
    register(app, "bob-3", email="bob@example.org", name="Bob Stone")
    pane = make_pane(support, qtbot)
    assert pane.model.rowCount() == 3, "all users before anything is typed"

    qtbot.keyClicks(pane.search_edit, "ali")
    support.wait(
        lambda: (
            {pane.model.row(i).id for i in range(pane.model.rowCount())} == {"alice-1", "alina-2"}
        ),
        "the users matching 'ali'",
    )
    qtbot.keyClicks(pane.search_edit, "ce")
    support.wait(
        lambda: [pane.model.row(i).id for i in range(pane.model.rowCount())] == ["alice-1"],
        "only alice",
    )
    assert pane.last_search_ms is not None and pane.last_search_ms > 0
    assert pane.status_label.text() == "1 user"
    assert pane.model.index(0, EMAIL).data() == "alice.wonder@example.org"


def test_a_newer_search_wins_over_an_older_one(
    support: Console, app: httpx.Client, qtbot: Any
) -> None:
    register(app, "carol-1", name="Carol")
    register(app, "dave-2", name="Dave")
    pane = make_pane(support, qtbot)
    pane.search_edit.setText("carol")
    first = pane.search()  # started, then overtaken at once
    pane.search_edit.setText("dave")
    second = pane.search()
    support.wait(second.done, "the newer search")
    support.wait(first.done, "the older search (cancelled)")
    assert first.cancelled()
    assert [pane.model.row(i).id for i in range(pane.model.rowCount())] == ["dave-2"]


def test_filters_by_tier_and_status(support: Console, app: httpx.Client, qtbot: Any) -> None:
    register(app, "p1", tier="premium")
    register(app, "p2", tier="premium")
    register(app, "f1", tier="free")
    support.operator_client("boss").post("/v1/users/p2/suspend", json={"reason": "abuse report"})
    pane = make_pane(support, qtbot)
    pane.tier_combo.setCurrentIndex(pane.tier_combo.findData("premium"))
    support.wait(lambda: pane.model.rowCount() == 2, "premium users")
    pane.status_combo.setCurrentIndex(pane.status_combo.findData("suspended"))
    support.wait(
        lambda: [pane.model.row(i).id for i in range(pane.model.rowCount())] == ["p2"],
        "suspended premium users",
    )
    assert pane.model.index(0, ID).data(Qt.ItemDataRole.ToolTipRole) is None
    assert pane.query()["status"] == "suspended" and pane.query()["tier"] == "premium"


def test_pages_arrive_as_the_operator_scrolls(
    support: Console, app: httpx.Client, qtbot: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(users_pane, "PAGE_SIZE", 40)
    register_many(app, [f"user-{i:03d}" for i in range(100)])
    pane = make_pane(support, qtbot)
    support.wait(lambda: pane.model.rowCount() >= 40, "the first page")
    assert pane.model.next_cursor is not None
    seen = pane.model.rowCount()
    while pane.model.next_cursor is not None:
        pane.table.scrollToBottom()
        support.wait(lambda s=seen: pane.model.rowCount() > s, "the next page")
        seen = pane.model.rowCount()
    assert seen == 100
    ids = [pane.model.row(i).id for i in range(seen)]
    assert len(set(ids)) == 100
    assert not pane.model.canFetchMore()
