"""Where app keys may go and where operator tokens may not (authorization, not storage)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from opsconsole.server.auth.models import AppKey
from tests.live import LiveServer, start_server
from tests.server.problems import assert_problem


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # One server for the module: these tests read, or change only what they create.
    data = tmp_path_factory.mktemp("keys")
    with start_server(f"sqlite:///{data / 'keys.db'}", data / "server") as live:
        live.create_operator("alice")
        yield live


@pytest.fixture(scope="module")
def app_key(server: LiveServer) -> str:
    return server.app_key()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/auth/me"),
        ("GET", "/v1/auth/sessions"),
        ("POST", "/v1/auth/logout"),
        ("GET", "/v1/operators"),
        ("PATCH", "/v1/operators/alice"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/audit/export"),
    ],
)
def test_app_keys_never_reach_the_operator_api(
    server: LiveServer, app_key: str, method: str, path: str
) -> None:
    app = server.client(app_key)
    response = app.request(method, path, json={"role": "viewer"} if method == "PATCH" else None)
    assert_problem(response, 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/users/u-1", {}),
        ("POST", "/v1/tickets", {}),
        ("POST", "/v1/tickets/1/messages", {}),
    ],
)
def test_app_keys_reach_the_app_endpoints(
    server: LiveServer, app_key: str, method: str, path: str, body: dict[str, object]
) -> None:
    app = server.client(app_key)
    response = app.request(method, path, json=body)
    # The body is deliberately empty: we only care that authorization let it through.
    assert response.status_code not in (401, 403, 405), response.text
    if response.status_code == 404:
        assert "no endpoint" not in response.json()["detail"], "the app endpoint does not exist"


def test_operator_tokens_never_reach_app_only_endpoints(server: LiveServer) -> None:
    admin = server.client(server.login("alice"))
    server.step_up(admin)
    assert_problem(admin.put("/v1/users/u-1", json={}), 403, "forbidden")


def test_a_revoked_app_key_is_rejected(server: LiveServer) -> None:
    secret = server.app_key("revoked")
    with server.db.writing() as session:
        session.execute(
            update(AppKey).where(AppKey.name == "revoked").values(revoked_at=server.clock.now())
        )
    response = server.client(secret).post("/v1/tickets", json={})
    assert_problem(response, 401, "invalid-app-key")


@pytest.mark.parametrize(
    ("method", "path", "token"),
    [
        ("GET", "/v1/operators", "ock_not-a-key"),  # a bad app key on the operator API
        ("PUT", "/v1/users/u-1", "oct_not-a-token"),  # a bad token on an app endpoint
        ("PUT", "/v1/users/u-1", "something"),
    ],
)
def test_an_invalid_credential_is_a_401_wherever_it_is_sent(
    server: LiveServer, method: str, path: str, token: str
) -> None:
    response = server.client(token).request(method, path, json={})
    assert_problem(response, 401)
