"""Who may open `WS /v1/stream`: operators of every role with their token in the header;
nobody without one, no app key, and never a token in the URL."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from opsconsole.server.errors import PROBLEM_BASE
from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.stream.console import console, stream_url


async def refused(url: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, additional_headers=headers, open_timeout=10):
            pass
    response = caught.value.response
    body = json.loads(response.body or b"{}")
    assert str(body.get("type", "")).startswith(PROBLEM_BASE), body
    assert len(str(body.get("detail", ""))) > 15, body
    return response.status_code, body


def test_handshake_without_a_valid_operator_token_is_refused(server: LiveServer) -> None:
    server.create_operator("alice", Role.ONCALL)
    token = server.login("alice")
    key = server.app_key()
    url = stream_url(server.url)

    async def scenario() -> None:
        status, body = await refused(url, {})
        assert (status, body["type"]) == (401, PROBLEM_BASE + "unauthenticated")
        status, body = await refused(url, {"Authorization": "Bearer oct_not-a-real-token"})
        assert (status, body["type"]) == (401, PROBLEM_BASE + "invalid-token")
        status, body = await refused(url, {"Authorization": f"Basic {token}"})
        assert status == 401
        status, body = await refused(url, {"Authorization": f"Bearer {key}"})
        assert status == 403
        assert "App keys" in str(body["detail"])
        # A token in the URL is refused even with a good header: proxies log URLs.
        for params in ({"token": token}, {"access_token": token}, {"x": token}):
            status, body = await refused(
                stream_url(server.url, **params), {"Authorization": f"Bearer {token}"}
            )
            assert status == 400
            assert "URL" in str(body["detail"])
            status, _ = await refused(stream_url(server.url, **params), {})
            assert status == 400

    asyncio.run(scenario())


def test_a_logged_out_token_is_refused(server: LiveServer) -> None:
    server.create_operator("alice", Role.ONCALL)
    token = server.login("alice")
    assert server.client(token).post("/v1/auth/logout").status_code == 204

    async def scenario() -> None:
        status, body = await refused(stream_url(server.url), {"Authorization": f"Bearer {token}"})
        assert (status, body["type"]) == (401, PROBLEM_BASE + "session-revoked")

    asyncio.run(scenario())


def test_bad_resume_point_is_refused(server: LiveServer) -> None:
    server.create_operator("alice", Role.ONCALL)
    headers = {"Authorization": f"Bearer {server.login('alice')}"}

    async def scenario() -> None:
        for since in ("yesterday", "-3"):
            status, body = await refused(stream_url(server.url, since=since), headers)
            assert status == 400
            assert "since" in str(body["detail"])

    asyncio.run(scenario())


@pytest.mark.parametrize("role", list(Role))
def test_every_operator_role_gets_hello(server: LiveServer, role: Role) -> None:
    server.create_operator("op", role)
    token = server.login("op")
    hub = server.app.state.stream

    async def scenario() -> None:
        async with console(server.url, token) as client:
            hello = client.received[0]
            assert hello.data["operator"] == "op"
            assert hello.data["role"] == role.value
            assert hello.data["epoch"] == hub.epoch
            assert hello.data["resumed"] is False
            assert hello.seq == hub.last_seq

    asyncio.run(scenario())


def test_an_impersonation_token_never_opens_the_stream(server: LiveServer) -> None:
    key = server.app_key()
    assert server.client(key).put("/v1/users/u-1", json={}).status_code in (200, 201)
    support = server.operator("sam", Role.SUPPORT)
    started = support.post(
        "/v1/impersonations", json={"user_id": "u-1", "reason": "ticket 12: cannot log in"}
    )
    assert started.status_code == 201, started.text
    token = started.json()["token"]

    async def scenario() -> None:
        status, body = await refused(stream_url(server.url), {"Authorization": f"Bearer {token}"})
        assert (status, body["type"]) == (403, PROBLEM_BASE + "impersonation-token-refused")
        status, body = await refused(stream_url(server.url, x=token), {})
        assert status == 400
        assert "URL" in str(body["detail"])

    asyncio.run(scenario())
