"""The audit pane on a real control plane: filters, live rows, export to a file (with progress
and cancel) and the server's chain verification, intact and after a row was edited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from opsconsole.console.models.audit import ACTION, ACTOR, AuditModel, AuditQuery
from opsconsole.console.panes.audit import AuditPane
from opsconsole.console.panes.base import ServerClock
from opsconsole.server.audit.service import SYSTEM, record
from opsconsole.wire.common import Role
from tests.console.queues.conftest import database, second_console, tick
from tests.console.views.conftest import Console
from tests.live import DEFAULT_PASSWORD


def make_pane(console: Console, qtbot) -> AuditPane:
    clock = ServerClock(console.connection)
    tick(console)
    pane = AuditPane(console.connection, clock)
    qtbot.addWidget(pane)
    pane.resize(1400, 600)
    pane.show()
    console.run(pane.load())
    return pane


def column(pane: AuditPane, index: int) -> list[str]:
    return [pane.model.index(row, index).data() for row in range(pane.model.rowCount())]


def reload_with(console: Console, pane: AuditPane) -> None:
    console.run(pane.apply_filters())


def act(
    console: Console, who: str, switch: str = "cheapest_only", value: bool | None = True
) -> None:
    client = console.operator_client(who)
    # Switches want a recent step-up, and the tests move the server's clock by hours.
    assert client.post("/v1/auth/step-up", json={"password": DEFAULT_PASSWORD}).status_code == 200
    response = client.put(f"/v1/controls/{switch}", json={"value": value, "reason": "testing"})
    assert response.status_code == 200, response.text


def test_model_passes_the_model_tester(console: Console, qtbot, qtmodeltester) -> None:
    act(console, "amir")
    pane = make_pane(console, qtbot)
    assert pane.model.rowCount() > 0
    qtmodeltester.check(pane.model)
    act(console, "amir", value=None)
    console.wait(lambda: "controls.set" in column(pane, ACTION)[0], "a live row")
    qtmodeltester.check(pane.model)
    qtmodeltester.check(AuditModel())


def test_filters_by_actor_action_target_and_time(console: Console, qtbot) -> None:
    act(console, "amir")
    act(console, "bea", "fallback_only")
    pane = make_pane(console, qtbot)
    everyone = set(column(pane, ACTOR))
    assert {"amir", "bea"} <= everyone

    pane.actor_edit.setText("amir")
    reload_with(console, pane)
    assert set(column(pane, ACTOR)) == {"amir"}
    pane.actor_edit.setText("")
    pane.action_edit.setCurrentText("controls.")
    reload_with(console, pane)
    assert set(column(pane, ACTION)) == {"controls.set"}
    assert len(column(pane, ACTION)) == 2
    pane.target_edit.setText("switch:fallback_only")
    reload_with(console, pane)
    assert [e.actor for e in pane.model.entries()] == ["bea"]

    # Two hours on, the last hour holds nothing of before.
    pane.action_edit.setCurrentText("")
    pane.target_edit.setText("")
    console.server.clock.advance(timedelta(hours=2))
    tick(console)
    pane.range_combo.setCurrentIndex(pane.range_combo.findText("Last hour"))
    reload_with(console, pane)
    assert pane.model.rowCount() == 0
    act(console, "amir", value=None)
    reload_with(console, pane)
    assert set(column(pane, ACTOR)) == {"amir"}
    assert "controls.set" in column(pane, ACTION)
    # A custom range ending before that change shows the earlier rows only.
    pane.range_combo.setCurrentIndex(pane.range_combo.findText("Custom…"))
    assert pane.from_edit.isVisible() and pane.to_edit.isVisible()
    before = console.server.clock.now() - timedelta(minutes=30)
    from opsconsole.console.qt import QDateTime

    pane.from_edit.setDateTime(QDateTime.fromSecsSinceEpoch(0))
    pane.to_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(before.timestamp())))
    reload_with(console, pane)
    assert pane.model.rowCount() >= 2
    assert all(e.at < before for e in pane.model.entries())


def test_a_live_row_after_an_operator_action_and_filters_hold_for_it(
    console: Console, qtbot
) -> None:
    pane = make_pane(console, qtbot)
    resets: list[int] = []
    pane.model.modelReset.connect(lambda: resets.append(1))
    count = pane.model.rowCount()
    act(console, "amir")
    console.wait(lambda: pane.model.entry(0).action == "controls.set", "the new row")
    assert pane.model.rowCount() > count
    top = pane.model.entry(0)
    assert (top.actor, top.action, top.target) == ("amir", "controls.set", "switch:cheapest_only")
    assert "value: null → true" in column(pane, 5)[0]

    pane.actor_edit.setText("bea")
    reload_with(console, pane)
    act(console, "amir", value=None)
    act(console, "bea", "fallback_only")
    console.wait(
        lambda: pane.model.rowCount() and pane.model.entry(0).action == "controls.set",
        "bea's switch",
    )
    assert set(column(pane, ACTOR)) == {"bea"}, "amir's change, live too, is filtered out"
    assert resets == [1], "only the filter change reset the model"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_writes_what_the_server_exports(
    console: Console, qtbot, tmp_path: Path, fmt: str
) -> None:
    act(console, "amir")
    admin = second_console(console.server, console.loop, "ada", Role.ADMIN)
    try:
        pane = make_pane(admin, qtbot)
        pane.action_edit.setCurrentText("controls.")
        target = tmp_path / f"audit.{fmt}"
        admin.run(pane.export_to(target, fmt))
        expected = console.operator_client("amir").get(
            "/v1/audit/export", params={"format": fmt, "action": "controls."}
        )
        assert target.read_bytes() == expected.content
        assert pane.exported_rows == 1
        assert pane.export_label.text().startswith("Exported 1 rows")
        assert not pane.progress.isVisible()
        assert pane.export_button.isEnabled()
    finally:
        admin.close()


def test_a_cancelled_export_leaves_no_file(console: Console, qtbot, tmp_path: Path) -> None:
    db = database(console.server)
    try:
        for batch in range(10):  # short transactions: the server writes too meanwhile
            with db.writing() as session:
                for index in range(batch * 2000, (batch + 1) * 2000):
                    record(
                        session=session,
                        actor=SYSTEM,
                        action="test.row",
                        target=f"row:{index}",
                        at=console.server.clock.now(),
                        after={"index": index, "padding": "x" * 200},
                    )
    finally:
        db.dispose()
    admin = second_console(console.server, console.loop, "ada", Role.ADMIN)
    try:
        pane = make_pane(admin, qtbot)
        (tmp_path / "out").mkdir()
        target = tmp_path / "out" / "audit.jsonl"
        task = pane.export_to(target, "jsonl")
        admin.wait(lambda: pane.exported_rows > 0, "the first rows")
        assert pane.progress.isVisible() and pane.cancel_button.isVisible()
        assert not pane.export_button.isEnabled()
        pane.cancel_button.click()
        admin.wait(task.done, "the export stops")
        assert task.cancelled()
        assert pane.export_label.text() == "Export cancelled; no file written."
        assert list((tmp_path / "out").iterdir()) == []
        assert pane.export_button.isEnabled()
    finally:
        admin.close()


def test_verify_reports_an_intact_chain_then_the_edited_row(console: Console, qtbot) -> None:
    for who in ("amir", "bea", "cy"):
        act(console, who)
    pane = make_pane(console, qtbot)
    result = console.run(pane.verify())
    assert result is not None and result.ok
    assert pane.verify_label.text().startswith("Chain intact: ")
    assert f"head seq {result.head_seq}" in pane.verify_label.text()

    db = database(console.server)
    try:
        with db.engine.begin() as connection:
            connection.execute(
                text("UPDATE audit_log SET target = 'operator:nobody' WHERE seq = 3")
            )
    finally:
        db.dispose()
    notes: list[str] = []
    pane.notified.connect(notes.append)
    pane.verify_button.click()
    console.wait(lambda: "BROKEN" in pane.verify_label.text(), "the break")
    assert pane.verify_label.text().startswith("Chain BROKEN at seq 3 (edited): ")
    assert pane.verify_result is not None and pane.verify_result.first_break is not None
    assert pane.verify_result.first_break.detail in pane.verify_label.text()
    assert notes and "seq 3" in notes[0]


def test_export_needs_the_permission(console: Console, qtbot) -> None:
    pane = make_pane(console, qtbot)  # on-call: may read the log, not export it
    assert pane.verify_button.isEnabled()
    assert not pane.export_button.isEnabled()
    assert "Needs the" in pane.export_button.toolTip()


def test_query_matches_like_the_server() -> None:
    from datetime import UTC, datetime

    from opsconsole.wire.audit import AuditEntry

    entry = AuditEntry(
        seq=1,
        at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        actor_type="operator",
        actor="amir",
        impersonated_user=None,
        action="tickets.update",
        target="ticket:4",
        before=None,
        after=None,
        client_addr=None,
        hash="x",
    )
    assert AuditQuery(action="tickets.").matches(entry)
    assert not AuditQuery(action="tickets").matches(entry)
    assert AuditQuery(action="tickets.update", actor="amir", target="ticket:4").matches(entry)
    assert not AuditQuery(until=entry.at).matches(entry)
    assert AuditQuery(since=entry.at).matches(entry)
