"""The gate's fast path (in front of the middleware stack) keeps what the stack gave: the
HTTP metrics, the body limit, and a 500 problem on an unexpected error, with the connection
still usable afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from tests.live import LiveServer
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store

MIB = 1024 * 1024


@pytest.fixture
def app(server: LiveServer) -> httpx.Client:
    client = server.client(server.app_key())
    assert client.put("/v1/users/u-1", json={"tier": "premium"}).status_code in (200, 201)
    # The first admit warms the app-key cache: from then on admits take the fast path.
    assert (
        client.post("/v1/gate/admit", json={"user_id": "u-1", "feature": "chat"}).status_code == 200
    )
    return client


def http_requests(server: LiveServer, route: str) -> dict[str, float]:
    text_ = server.client().get("/metrics").text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text_):
        for sample in family.samples:
            if sample.name == "opsconsole_http_requests_total" and sample.labels["route"] == route:
                counts[sample.labels["status"]] = sample.value
    return counts


def test_fast_admits_are_counted_like_every_other_request(
    server: LiveServer, app: httpx.Client
) -> None:
    before = http_requests(server, "/v1/gate/admit").get("200", 0.0)
    for _ in range(5):
        assert app.post("/v1/gate/admit", json={"user_id": "u-1", "feature": "chat"}).json()[
            "allow"
        ]
    assert http_requests(server, "/v1/gate/admit")["200"] == before + 5


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_report_is_a_413_with_a_warm_key(
    server: LiveServer, app: httpx.Client, chunked: bool
) -> None:
    size = MIB + 1
    content = chunks(size) if chunked else b" " * size
    response = app.post(
        "/v1/gate/report", content=content, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "body-too-large")


def test_a_bad_body_gets_the_full_validation_problem(app: httpx.Client) -> None:
    problem = assert_problem(
        app.post("/v1/gate/admit", json={"user_id": "", "feature": "chat"}), 422
    )
    assert "user_id" in problem["detail"]


def test_an_unexpected_error_is_a_500_problem_and_the_connection_lives_on(
    server: LiveServer, app: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # A real fault: the users table disappears, so loading a user the gate has not cached
    # fails inside the decision.
    with server.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE users RENAME TO users_gone"))
    try:
        failed = app.post("/v1/gate/admit", json={"user_id": "u-2", "feature": "chat"})
    finally:
        with server.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE users_gone RENAME TO users"))

    problem = assert_problem(failed, 500, "internal-error")
    assert "nothing was changed" in problem["detail"]
    assert "unhandled error on POST /v1/gate/admit" in caplog.text
    assert http_requests(server, "/v1/gate/admit")["500"] == 1
    # Same client, same keep-alive connection: the next admit is answered.
    assert app.post("/v1/gate/admit", json={"user_id": "u-1", "feature": "chat"}).json()["allow"]
