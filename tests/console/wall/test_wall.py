"""The wall display on a real control plane: the role it runs as, page rotation, the stale
banner when the server goes away, and no personal data anywhere on it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opsconsole.console.wall import PAGES, WallWindow
from opsconsole.wire.common import Role
from tests.console.views.conftest import Console
from tests.console.wall.conftest import PEOPLE, app_client, open_ticket, register_people
from tests.server.alerts.helpers import put_rule, traffic


def open_wall(console: Console, qtbot: Any, **options: Any) -> WallWindow:
    wall = WallWindow(console.connection, **options)
    qtbot.addWidget(wall)
    wall.resize(1280, 720)
    wall.show()
    console.run(wall.load())
    return wall


def evaluate_alerts(console: Console) -> None:
    app = console.server.app
    app.state.gate.writer.flush()
    app.state.alerts.evaluate(console.server.clock.now())


def test_it_says_it_runs_as_a_viewer(viewer_console: Console, qtbot) -> None:
    wall = open_wall(viewer_console, qtbot)
    assert wall.role.text() == "viewer login"


def test_another_role_is_warned_about(console: Console, qtbot) -> None:
    wall = open_wall(console, qtbot)
    assert wall.role.text() == "ONCALL login: use a viewer login"


def test_pages_rotate_at_the_interval(viewer_console: Console, qtbot) -> None:
    wall = open_wall(viewer_console, qtbot, page_s=0.1)
    seen: list[int] = []
    wall.page_changed.connect(seen.append)
    viewer_console.wait(lambda: len(seen) >= len(PAGES) + 1, "a full rotation")
    assert set(seen) == set(range(len(PAGES)))
    assert [seen[i + 1] for i in range(len(PAGES))] == [
        (seen[i] + 1) % len(PAGES) for i in range(len(PAGES))
    ]


def test_the_stale_banner_shows_when_the_server_stops(viewer_console: Console, qtbot) -> None:
    console = viewer_console
    wall = open_wall(console, qtbot, stale_after_s=60.0)
    console.tick()
    console.wait(lambda: not wall.stale, "live data")
    assert not wall.stale_banner.isVisible()
    console.stop_server()
    console.wait(lambda: wall.stale, "the stale banner")
    assert wall.stale_banner.isVisible()
    assert "DATA STALE: connection lost; last data" in wall.stale_banner.text()
    console.start_server()
    console.wait(lambda: console.connection.online, "reconnected", timeout=20)
    console.tick()
    console.wait(lambda: not wall.stale, "live again")
    assert not wall.stale_banner.isVisible()


def test_no_personal_data_anywhere_on_it(viewer_console: Console, qtbot) -> None:
    console = viewer_console
    admin = console.operator_client("olga", Role.ADMIN)
    app = app_client(console.server)
    register_people(app)
    open_ticket(app, PEOPLE[1].id, "Refund please")
    put_rule(admin, "heavy_user", threshold=50, floor=1)
    traffic(app, PEOPLE[0].id, 3, cost=1.0)
    traffic(app, PEOPLE[2].id, 1, cost=0.5)
    evaluate_alerts(console)
    console.server.clock.advance(timedelta(seconds=300))
    evaluate_alerts(console)
    firing = admin.get("/v1/alerts", params={"state": "firing"}).json()["items"]
    assert any(a["kind"] == "heavy_user" and a["subject"] == PEOPLE[0].id for a in firing)

    wall = open_wall(console, qtbot)
    console.tick()
    shown = "\n".join(wall.texts())
    assert "A user's spend today is unusually high" in shown
    for person in PEOPLE:
        for value in (person.id, person.email, person.name):
            assert value not in shown
    for operator in ("olga", "victor"):
        assert operator not in shown
    app.close()
