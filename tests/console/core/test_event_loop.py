"""The asyncio loop on Qt (qt.QEventLoop) between two runs: Qt events processed while it is
stopped (pytest-qt's waits, a modal dialog, qasync's own last processEvents) must neither run
asyncio work without a running loop, which kills the task, nor lose it."""

from __future__ import annotations

import asyncio
import random

import pytest
from pytestqt.qtbot import QtBot

from opsconsole.console.connection import ConnectionState
from opsconsole.wire.stream import SwitchChange
from tests.console.conftest import TlsServer, until
from tests.console.core.helpers import make_connection
from tests.console.core.test_connection import _logged_in, _operator_client, _pause_all

pytestmark = pytest.mark.usefixtures("memory_keyring")


def test_a_task_waits_while_the_loop_is_stopped_and_goes_on_at_the_next_run(
    loop: asyncio.AbstractEventLoop, qtbot: QtBot
) -> None:
    steps: list[int] = []

    async def ticking() -> None:
        for step in range(1000):
            await asyncio.sleep(0.001)  # asks for the running loop at every step
            steps.append(step)

    task = loop.create_task(ticking())
    loop.run_until_complete(asyncio.sleep(0.05))
    stopped_at = len(steps)
    qtbot.wait(300)  # Qt events while the asyncio loop is stopped
    assert len(steps) == stopped_at, "asyncio work ran while its loop was stopped"
    assert not task.done(), f"the task died between two runs: {task.exception()!r}"
    loop.run_until_complete(asyncio.wait_for(task, 30))
    assert steps == list(range(1000))


def test_the_stream_comes_back_after_qt_events_between_two_runs(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, qtbot: QtBot
) -> None:
    """A test (or a dialog) that processes Qt events while the stream reconnects: before the
    loop kept such work for its next run, the connection's task died in there and the
    console got no live update again."""
    tls_server.create_operator("alice")
    tls_server.create_operator("bob")
    connection, _, _ = make_connection(tls_server, rng=random.Random(3))
    switches: list[SwitchChange] = []
    connection.switch_changed.connect(switches.append)

    async def drop_stream() -> None:
        await _logged_in(connection)
        assert connection._stream.ws is not None
        await connection._stream.ws.close()  # the connection reconnects at once (backoff <= 0.05 s)

    try:
        loop.run_until_complete(asyncio.wait_for(drop_stream(), 30))
        # The loop is stopped in the middle of the reconnect; Qt goes on meanwhile, and
        # another operator changes a switch.
        qtbot.wait(500)
        with _operator_client(tls_server, "bob") as bob:
            _pause_all(bob, "while the console's loop was stopped")
        qtbot.wait(500)

        async def catch_up() -> None:
            await until(lambda: bool(switches), what="the switch change, replayed on resume")
            assert connection.status.state is ConnectionState.CONNECTED

        loop.run_until_complete(asyncio.wait_for(catch_up(), 30))
    finally:
        loop.run_until_complete(connection.close())
    assert switches[0].reason == "while the console's loop was stopped"
