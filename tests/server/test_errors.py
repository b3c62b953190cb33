"""Errors are RFC 9457 problem details a person can act on; probes and metrics answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from opsconsole.server.auth import service
from tests.live import DEFAULT_PASSWORD, LiveServer
from tests.server.problems import assert_problem

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": 42, "password": "x"}, "body.username"),  # wrong type
        ({"username": "alice", "password": ["x"]}, "body.password"),
        ({"password": "x"}, "body.username"),  # missing field
        ({"username": "alice", "password": "x", "role": "admin"}, "body.role"),  # unknown field
        ({"username": "alice", "password": "x", "totp": "12345"}, "body.totp"),  # bad pattern
    ],
)
def test_invalid_bodies_name_the_field(server: LiveServer, body: Any, field: str) -> None:
    problem = assert_problem(
        server.client().post("/v1/auth/login", json=body), 422, "validation-error"
    )
    assert [error["field"] for error in problem["errors"]] == [field]
    assert field in problem["detail"]


def test_a_body_that_is_not_json_is_a_422(server: LiveServer) -> None:
    response = server.client().post(
        "/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation-error")


def test_an_unknown_field_is_refused_on_authenticated_routes_too(server: LiveServer) -> None:
    admin = server.operator("alice")
    server.create_operator("bob")
    server.step_up(admin)
    response = admin.patch("/v1/operators/bob", json={"role": "viewer", "is_root": True})
    problem = assert_problem(response, 422, "validation-error")
    assert "is_root" in problem["detail"]


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("path", ["/v1/auth/login", "/v1/operators"])
def test_a_body_over_one_mib_is_a_413(server: LiveServer, chunked: bool, path: str) -> None:
    size = MIB + 1
    content: Any = chunks(size) if chunked else b" " * size
    response = server.client().post(
        path, content=content, headers={"content-type": "application/json"}
    )
    if chunked:
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
    problem = assert_problem(response, 413, "body-too-large")
    assert str(MIB) in problem["detail"]


def test_a_body_of_exactly_one_mib_is_not_refused_for_size(server: LiveServer) -> None:
    body = b'{"username":"alice","password":"' + b"x" * (MIB - 60) + b'"}'
    assert len(body) < MIB
    response = server.client().post(
        "/v1/auth/login", content=body, headers={"content-type": "application/json"}
    )
    # Too long for the password field, but read in full and judged on its content.
    assert_problem(response, 422, "validation-error")


def test_an_unknown_route_is_a_404_problem(server: LiveServer) -> None:
    problem = assert_problem(server.client().get("/v1/nowhere"), 404, "not-found")
    assert "/v1/nowhere" in problem["detail"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/auth/login"), ("PUT", "/healthz")])
def test_a_wrong_method_is_a_405_problem(server: LiveServer, method: str, path: str) -> None:
    response = server.client().request(method, path)
    problem = assert_problem(response, 405, "method-not-allowed")
    assert method in problem["detail"]
    assert response.headers["allow"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer oct_not-a-token",
        "Bearer",
        "Basic YWxpY2U6cHc=",
        "garbage",
        "Bearer a b c",
        "bearer " + "A" * 4000,
    ],
)
def test_garbage_authorization_is_401(server: LiveServer, header: str) -> None:
    client = server.client()
    response = client.get("/v1/auth/me", headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("body", [{}, {"password": "x", "totp": "123456"}])
def test_step_up_needs_exactly_one_factor(server: LiveServer, body: dict[str, str]) -> None:
    client = server.operator("alice")
    assert_problem(client.post("/v1/auth/step-up", json=body), 422, "validation-error")


def test_missing_token_is_a_401_problem(server: LiveServer) -> None:
    response = server.client().get("/v1/auth/me")
    problem = assert_problem(response, 401, "unauthenticated")
    assert "Authorization: Bearer" in problem["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unhandled_error_is_a_500_problem_and_the_connection_stays_usable(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = server.operator("alice")

    def explode(**_: object) -> object:
        raise RuntimeError("boom: secret internals")

    monkeypatch.setattr(service, "list_operators", explode)
    problem = assert_problem(client.get("/v1/operators"), 500, "internal-error")
    assert "boom" not in problem["detail"]
    # The next requests on the same keep-alive connection still work.
    for _ in range(3):
        assert client.get("/v1/auth/me").status_code == 200


def test_probes(server: LiveServer) -> None:
    client = server.client()
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_readyz_is_a_503_problem_when_the_database_does_not_answer(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> object:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(server.db.engine, "connect", refuse)
    assert_problem(server.client().get("/readyz"), 503, "not-ready")


def samples(server: LiveServer) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = server.client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_metrics_count_and_time_requests_by_route_template(server: LiveServer) -> None:
    client = server.operator("alice")
    for _ in range(3):
        assert client.get("/v1/auth/me").status_code == 200
    for session_id in ("a1", "b2"):
        assert client.delete(f"/v1/auth/sessions/{session_id}").status_code == 404
    server.client().get("/v1/nowhere/123")
    found = samples(server)
    counts = found["opsconsole_http_requests_total"]

    def count(route: str, method: str, status: str) -> float:
        return counts.get((("method", method), ("route", route), ("status", status)), 0.0)

    assert count("/v1/auth/me", "GET", "200") == 3
    assert count("/v1/auth/sessions/{session_id}", "DELETE", "404") == 2
    assert count("/v1/auth/login", "POST", "200") == 1
    assert count("unmatched", "GET", "404") == 1
    # No series carries a concrete id: routes are labelled by template.
    assert not any(re.search(r"a1|b2|123", dict(key)["route"]) for key in counts)
    latency = found["opsconsole_http_request_duration_seconds_count"]
    assert latency[(("method", "GET"), ("route", "/v1/auth/me"))] == 3
    assert (
        found["opsconsole_http_request_duration_seconds_sum"][
            (("method", "GET"), ("route", "/v1/auth/me"))
        ]
        > 0
    )
    assert DEFAULT_PASSWORD not in str(found)
