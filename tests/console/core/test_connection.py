"""The connection against a real control plane with a self-signed certificate on loopback."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from opsconsole.console.connection import (
    ApiError,
    Connection,
    ConnectionState,
    ConnectionStatus,
    OfflineError,
)
from opsconsole.console.trust import pinned_context
from opsconsole.wire.auth import StepUpRequest
from opsconsole.wire.gate import SwitchName, SwitchUpdate
from opsconsole.wire.metrics import MetricsSnapshot
from tests.console.conftest import MemoryKeyring, TlsServer, until
from tests.console.core.helpers import drive, make_connection
from tests.live import DEFAULT_PASSWORD

pytestmark = pytest.mark.usefixtures("memory_keyring")


async def _logged_in(connection: Connection, username: str = "alice") -> None:
    await connection.start()
    await until(lambda: connection.status.state is ConnectionState.SESSION_EXPIRED, what="login")
    await connection.login(username, DEFAULT_PASSWORD)
    await until(lambda: connection._stream.last_seq is not None, what="the stream's hello")


@contextmanager
def _operator_client(server: TlsServer, username: str) -> Iterator[httpx.Client]:
    client = httpx.Client(
        base_url=server.url, verify=pinned_context(server.cert.cert_path.read_text()), timeout=10
    )
    token = client.post(
        "/v1/auth/login", json={"username": username, "password": DEFAULT_PASSWORD}
    ).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    client.post("/v1/auth/step-up", json={"password": DEFAULT_PASSWORD}).raise_for_status()
    try:
        yield client
    finally:
        client.close()


def _pause_all(client: httpx.Client, reason: str) -> None:
    response = client.put("/v1/controls/pause_all", json={"value": True, "reason": reason})
    assert response.status_code == 200, response.text


def test_reconnects_after_the_server_restarts_and_catches_up(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    tls_server.create_operator("alice")
    tls_server.create_operator("bob")
    connection, _, _ = make_connection(tls_server)
    statuses: list[ConnectionStatus] = []
    reloads: list[bool] = []
    switches: list[object] = []
    connection.status_changed.connect(statuses.append)
    connection.reload_required.connect(lambda: reloads.append(True))
    connection.switch_changed.connect(switches.append)

    async def scenario() -> None:
        await _logged_in(connection)
        online_controls = await connection.controls()
        tls_server.stop()
        # The next read finds the server gone: it is served from the cache instead.
        assert await connection.controls() == online_controls
        assert not connection.online
        await until(lambda: connection.status.state is ConnectionState.RECONNECTING)
        assert connection.status.offline_since is not None
        assert "offline since" in connection.status.describe()
        with pytest.raises(OfflineError, match="never queued"):
            await connection.set_switch(
                SwitchName.PAUSE_ALL, SwitchUpdate(value=True, reason="while offline")
            )
        waits = [s.retry_in_s for s in statuses if s.retry_in_s is not None]
        await until(lambda: len([s for s in statuses if s.retry_in_s]) > len(waits) + 2)
        tls_server.start()  # same port, same database, a new process epoch
        await until(lambda: connection.online and connection._stream.epoch is not None, what="back")
        await until(lambda: connection.status.state is ConnectionState.CONNECTED)
        await until(lambda: bool(reloads), what="reload_required after the restart")
        # Live again: another operator's change arrives on the stream.
        with _operator_client(tls_server, "bob") as bob:
            await asyncio.to_thread(_pause_all, bob, "after restart")
        await until(lambda: bool(switches), what="bob's switch change")

    drive(loop, scenario, connection)
    assert switches[-1].actor == "bob"  # type: ignore[attr-defined]
    # Every wait respected the cap (0.5 s in this test), rounded up to whole seconds shown.
    assert all(0 < (s.retry_in_s or 1) <= 1 for s in statuses)


def test_offline_times_are_shown_on_the_servers_clock(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    """Charts and alerts show the server's times; so do "offline since" and "data as of". The
    test server's clock stands months away from this machine's, like the demo's simulated day."""
    tls_server.create_operator("alice")
    connection, _, _ = make_connection(tls_server)
    snapshots: list[MetricsSnapshot] = []
    connection.snapshot_received.connect(snapshots.append)

    async def scenario() -> None:
        await _logged_in(connection)
        tls_server.clock.advance(timedelta(seconds=5))
        await until(lambda: bool(snapshots), what="a metrics snapshot")
        tls_server.stop()
        await until(lambda: connection.status.state is ConnectionState.RECONNECTING)

    drive(loop, scenario, connection)
    status = connection.status
    assert status.offline_since is not None and status.data_as_of is not None
    server_now = snapshots[-1].at + timedelta(seconds=snapshots[-1].interval_s)
    assert abs(server_now - datetime.now(UTC)) > timedelta(days=1)  # the clocks do differ
    for moment in (status.offline_since, status.data_as_of):
        assert abs(status.on_server_clock(moment) - server_now) < timedelta(seconds=30)
    shown = status.on_server_clock(status.offline_since).astimezone()
    assert f"offline since {shown:%H:%M}" in status.describe()


def test_resumes_the_stream_from_its_last_sequence_number(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    tls_server.create_operator("alice")
    tls_server.create_operator("bob")
    connection, _, _ = make_connection(tls_server, rng=random.Random(1))
    reloads: list[bool] = []
    switches: list[object] = []
    connection.reload_required.connect(lambda: reloads.append(True))
    connection.switch_changed.connect(switches.append)

    async def scenario() -> None:
        await _logged_in(connection)
        reloads.clear()  # the one after the first hello (see the test below)
        seq_before = connection._stream.last_seq
        # Drop the stream and hold the reconnect back while bob changes a switch.
        connection.backoff_base_s = connection.backoff_cap_s = 60.0
        assert connection._stream.ws is not None
        await connection._stream.ws.close()
        await until(lambda: connection.status.state is ConnectionState.RECONNECTING)
        with _operator_client(tls_server, "bob") as bob:
            await asyncio.to_thread(_pause_all, bob, "missed while away")
        assert not switches
        connection._wake.set()  # reconnect now
        await until(lambda: bool(switches), what="the missed switch change, replayed")
        assert connection._stream.last_seq is not None and seq_before is not None
        assert connection._stream.last_seq > seq_before

    drive(loop, scenario, connection)
    assert switches[0].reason == "missed while away"  # type: ignore[attr-defined]
    assert not reloads  # resumed, so nothing needed refetching


def test_a_change_between_the_first_load_and_the_streams_hello_is_caught_up(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    """A first subscription replays nothing: what changes after the panes loaded over REST
    and before the stream opened is fetched by one more reload when the hello arrives."""
    tls_server.create_operator("alice")
    connection, _, _ = make_connection(tls_server)
    events: list[str] = []
    connection.reload_required.connect(lambda: events.append("reload"))
    connection.status_changed.connect(
        lambda status: (
            events.append("connected")
            if status.state is ConnectionState.CONNECTED and "connected" not in events
            else None
        )
    )

    async def scenario() -> None:
        await _logged_in(connection)
        await until(lambda: "reload" in events, what="the reload after the first hello")

    drive(loop, scenario, connection)
    # Online (the panes load), then the stream's hello (load again): once, not on every hello.
    assert events == ["connected", "reload"]


def test_backoff_is_full_jitter_and_capped(tls_server: TlsServer) -> None:
    connection, _, _ = make_connection(
        tls_server, rng=random.Random(7), backoff_base_s=0.5, backoff_cap_s=30.0
    )
    waits = [[connection.backoff(attempt) for _ in range(200)] for attempt in range(12)]
    for attempt, samples in enumerate(waits):
        bound = min(30.0, 0.5 * 2**attempt)
        assert all(0 <= w <= bound for w in samples)
        # Full jitter: spread over the whole range, not clustered at the bound.
        assert min(samples) < bound * 0.1 and max(samples) > bound * 0.9


def test_an_expired_session_asks_for_the_password_again(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    tls_server.create_operator("alice")
    connection, _, _ = make_connection(tls_server)
    expired: list[ConnectionStatus] = []
    connection.status_changed.connect(
        lambda s: expired.append(s) if s.state is ConnectionState.SESSION_EXPIRED else None
    )

    async def scenario() -> None:
        await _logged_in(connection)
        expired.clear()
        tls_server.clock.advance(timedelta(hours=13))  # past the session's lifetime
        with pytest.raises(ApiError) as raised:
            await connection.controls()
        assert raised.value.status == 401
        assert connection.status.state is ConnectionState.SESSION_EXPIRED
        assert connection.token is None
        # The app asks for the password; logging in again brings the same connection back.
        await connection.login("alice", DEFAULT_PASSWORD)
        await until(lambda: connection.status.state is ConnectionState.CONNECTED)
        assert len(await connection.controls()) == len(SwitchName)

    drive(loop, scenario, connection)
    assert len(expired) == 1


def test_step_up_prompts_then_retries_once(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    tls_server.create_operator("alice")
    connection, _, _ = make_connection(tls_server)
    asked: list[tuple[str, bool]] = []
    answers: list[StepUpRequest | None] = [
        None,  # the operator cancels
        StepUpRequest(password="wrong password!"),
        StepUpRequest(password=DEFAULT_PASSWORD),
    ]

    async def prompt(detail: str, totp_enrolled: bool) -> StepUpRequest | None:
        asked.append((detail, totp_enrolled))
        return answers.pop(0)

    connection.set_step_up_prompt(prompt)
    update = SwitchUpdate(value=True, reason="provider meltdown")

    async def scenario() -> None:
        await _logged_in(connection)
        with pytest.raises(ApiError) as cancelled:
            await connection.set_switch(SwitchName.PAUSE_ALL, update)
        assert cancelled.value.kind == "step-up-cancelled"
        assert not (await connection.controls())[0].active  # nothing changed
        with pytest.raises(ApiError) as wrong:
            await connection.set_switch(SwitchName.PAUSE_ALL, update)
        assert wrong.value.kind == "step-up-failed"
        switch = await connection.set_switch(SwitchName.PAUSE_ALL, update)
        assert switch.active and "alice" in (switch.set_by or "")
        # Stepped up now: the next sensitive action goes through without asking.
        await connection.set_switch(
            SwitchName.PAUSE_ALL, SwitchUpdate(value=None, reason="resolved")
        )

    drive(loop, scenario, connection)
    assert len(asked) == 3
    assert "step-up" in asked[0][0].lower() and asked[0][1] is False


def test_a_saved_token_from_the_keyring_connects_without_login(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, memory_keyring: MemoryKeyring
) -> None:
    tls_server.create_operator("alice")
    first, _, _ = make_connection(tls_server)

    async def login_once() -> None:
        await _logged_in(first)

    drive(loop, login_once, first)
    assert list(memory_keyring.passwords.values()) == [first.token]
    pin = first.profile.pinned_pem
    second, _, recorder = make_connection(tls_server, pin=pin)

    async def reopen() -> None:
        await second.start()
        await until(lambda: second.status.state is ConnectionState.CONNECTED)
        assert second.operator is not None and second.operator.username == "alice"

    drive(loop, reopen, second)
    assert recorder.shown == []  # the pinned certificate is not asked about again
