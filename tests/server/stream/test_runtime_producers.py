"""Metrics snapshots and alerts on the stream, as each role may see them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from opsconsole.server.stream.producers import alert_items
from opsconsole.wire.alerts import Alert, AlertState, RuleKind, Severity
from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.stream.console import console


def test_a_metrics_snapshot_reaches_consoles_of_every_role(server: LiveServer) -> None:
    server.create_operator("viewer", Role.VIEWER)
    token = server.login("viewer")

    async def scenario() -> None:
        async with console(server.url, token) as client:
            server.clock.advance(timedelta(seconds=2))  # closes seconds: the next tick sends
            snapshot = await client.expect("snapshot")
            assert snapshot.data.interval_s >= 1
            assert snapshot.data.total.requests == 0

    asyncio.run(scenario())


def heavy_user_alert(server: LiveServer) -> Alert:
    return Alert(
        id=7,
        rule="heavy_user",
        kind=RuleKind.HEAVY_USER,
        severity=Severity.WARNING,
        subject="u-42",
        state=AlertState.FIRING,
        summary="u-42 spent 40% of today's cost",
        pending_since=server.clock.now(),
        labels={"user": "u-42", "share": 0.4},
    )


def test_a_heavy_user_alert_names_the_user_only_to_roles_that_read_users(
    server: LiveServer,
) -> None:
    tokens = {}
    for role in (Role.ONCALL, Role.VIEWER):
        server.create_operator(role.value, role)
        tokens[role] = server.login(role.value)
    hub = server.app.state.stream

    async def scenario() -> None:
        async with (
            console(server.url, tokens[Role.ONCALL]) as oncall,
            console(server.url, tokens[Role.VIEWER]) as viewer,
        ):
            hub.publish_many(alert_items(heavy_user_alert(server)))
            full = await oncall.expect("alert")
            assert (full.data.subject, full.data.labels["user"]) == ("u-42", "u-42")
            shown = await viewer.expect("alert")
            assert shown.data.subject == "a user"
            assert "u-42" not in shown.model_dump_json()
            # Each got one copy: the other is the next seq, meant for the other role only.
            assert abs(full.seq - shown.seq) == 1
            hub.publish_many(alert_items(heavy_user_alert(server)))
            assert (await oncall.expect("alert")).data.subject == "u-42"
            assert (await viewer.expect("alert")).data.subject == "a user"

    asyncio.run(scenario())
