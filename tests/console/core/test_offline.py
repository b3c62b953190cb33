"""Offline: reads come from the cache with their age, writes are refused and never queued;
the token never lands in the cache or the settings file; the keyring fallback."""

from __future__ import annotations

import asyncio
import stat

import httpx
import pytest

from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection, ConnectionState, OfflineError
from opsconsole.console.profiles import ProfileStore
from opsconsole.console.settings import ConsoleSettings
from opsconsole.console.tokens import NO_KEYRING, TokenStore
from opsconsole.console.trust import pinned_context
from opsconsole.wire.gate import BreakerAction, SwitchName, SwitchUpdate
from opsconsole.wire.users import UserPublic
from tests.console.conftest import TlsServer, until
from tests.console.core.helpers import cache_path, drive, make_connection
from tests.live import DEFAULT_PASSWORD


def _fill_cache(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> tuple[str, list[dict[str, object]]]:
    """An online session that views controls, providers and a page of users."""
    tls_server.create_operator("alice")
    connection, _, _ = make_connection(tls_server)
    seen: dict[str, object] = {}

    async def scenario() -> None:
        await connection.login("alice", DEFAULT_PASSWORD)
        await connection.start()
        await until(lambda: connection.status.state is ConnectionState.CONNECTED)
        seen["controls"] = await connection.controls()
        seen["providers"] = await connection.providers()
        seen["users"] = await connection.get("/v1/users", dict, params={"limit": 5})
        seen["token"] = connection.token

    drive(loop, scenario, connection)
    return str(seen.pop("token")), [seen]


@pytest.mark.usefixtures("memory_keyring")
def test_offline_mode_reads_the_cache_and_refuses_writes(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    _, (seen,) = _fill_cache(tls_server, loop)
    settings = ConsoleSettings()
    profile = ProfileStore(settings).get("test")
    assert profile is not None
    connection = Connection(profile, cache=Cache(cache_path(settings)), offline=True)

    async def scenario() -> None:
        await connection.start()  # does nothing offline
        assert connection.status.state is ConnectionState.OFFLINE
        assert connection.status.data_as_of is not None
        assert "data as of" in connection.status.describe()
        assert await connection.controls() == seen["controls"]
        assert await connection.providers() == seen["providers"]
        assert await connection.get("/v1/users", dict, params={"limit": 5}) == seen["users"]
        with pytest.raises(OfflineError, match="never queued") as refused:
            await connection.set_switch(
                SwitchName.PAUSE_ALL, SwitchUpdate(value=True, reason="offline attempt")
            )
        assert refused.value.status == 0
        with pytest.raises(OfflineError):
            await connection.breaker_action(
                "gpt-4o", BreakerAction(action="trip", reason="offline attempt")
            )
        with pytest.raises(OfflineError, match="never fetched"):
            await connection.summary()
        assert not connection.can("controls:write")
        assert connection.why_not("controls:write").startswith("Offline")

    drive(loop, scenario, connection)
    # Nothing was sent: the switch is still off on the server.
    pem = tls_server.cert.cert_path.read_text()
    with httpx.Client(base_url=tls_server.url, verify=pinned_context(pem)) as client:
        token = client.post(
            "/v1/auth/login", json={"username": "alice", "password": DEFAULT_PASSWORD}
        ).json()["token"]
        controls = client.get("/v1/controls", headers={"Authorization": f"Bearer {token}"})
    assert not any(switch["active"] for switch in controls.json())


@pytest.mark.usefixtures("memory_keyring")
def test_a_server_down_at_start_serves_the_cache(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    _, (seen,) = _fill_cache(tls_server, loop)
    tls_server.stop()
    settings = ConsoleSettings()
    profile = ProfileStore(settings).get("test")
    assert profile is not None
    connection = Connection(
        profile, cache=Cache(cache_path(settings)), backoff_base_s=0.05, backoff_cap_s=0.2
    )

    async def scenario() -> None:
        await connection.start()
        await until(lambda: connection.status.offline_since is not None, what="offline")
        assert await connection.controls() == seen["controls"]
        tls_server.start()
        await until(lambda: connection.status.state is ConnectionState.CONNECTED, what="back")
        assert connection.online

    drive(loop, scenario, connection)


@pytest.mark.usefixtures("memory_keyring")
def test_the_token_never_goes_to_the_cache_or_the_settings(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    token, _ = _fill_cache(tls_server, loop)
    settings = ConsoleSettings()
    files = [settings.path, *cache_path(settings).parent.glob("test.sqlite*")]
    assert settings.path.exists() and cache_path(settings).exists()
    for path in files:
        data = path.read_bytes()
        assert token.encode() not in data, path
        assert token.split("_")[-1][:16].encode() not in data, path
    assert stat.S_IMODE(cache_path(settings).stat().st_mode) == 0o600


def test_without_a_keyring_the_token_stays_in_memory_and_it_says_so_once(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, no_keyring: None
) -> None:
    tls_server.create_operator("alice")
    connection, _, _ = make_connection(tls_server)
    tokens = connection.tokens
    assert not tokens.persistent
    assert tokens.take_warning() == NO_KEYRING
    assert tokens.take_warning() is None  # once

    async def scenario() -> None:
        await connection.login("alice", DEFAULT_PASSWORD)

    drive(loop, scenario, connection)
    assert tokens.get("test") == connection.token is not None
    assert TokenStore().get("test") is None  # a new process would not find it


def test_with_a_keyring_the_token_is_stored_there(memory_keyring: object) -> None:
    tokens = TokenStore()
    assert tokens.persistent and tokens.take_warning() is None
    tokens.set("prod", "secret-token")
    assert TokenStore().get("prod") == "secret-token"
    TokenStore().delete("prod")
    assert TokenStore().get("prod") is None


def test_users_viewed_are_kept(tmp_path: object) -> None:
    from datetime import UTC, datetime

    cache = Cache(ConsoleSettings().cache_dir / "x.sqlite")
    user = UserPublic.model_validate(
        {
            "id": "u1",
            "email": None,
            "name": "Ann",
            "tier": "free",
            "status": "active",
            "status_reason": None,
            "country": None,
            "joined_at": datetime.now(UTC),
            "updated_at": datetime.now(UTC),
            "overrides": {},
        }
    )
    cache.put_user(user)
    assert cache.users() == [user]
    cache.clear()
    assert cache.users() == []
    cache.close()
