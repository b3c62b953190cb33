import pytest

from tests.live import LiveServer

pytestmark = pytest.mark.store


def test_login_and_me(server: LiveServer) -> None:
    client = server.operator("alice")
    response = client.get("/v1/auth/me")
    assert response.status_code == 200, response.text
    assert response.json()["operator"]["username"] == "alice"
