"""The business endpoints' contract: who may read them, and clear 422s for bad parameters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsconsole.sim.history import HistoryConfig, write_history
from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server
from tests.server.problems import assert_problem

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
ENDPOINTS = ["/v1/business", "/v1/business/forecast", "/v1/business/recommendations"]


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Reading changes nothing, so one server with a little history serves the whole module.
    data = tmp_path_factory.mktemp("business-api")
    db_file = data / "opsconsole.db"
    db_file.write_bytes(sqlite_template.read_bytes())
    with start_server(f"sqlite:///{db_file}", data / "server") as server:
        write_history(server.db, HistoryConfig(days=20, users=80, seed=2, end=NOW))
        server.clock.set(NOW)
        yield server


@pytest.fixture(scope="module")
def clients(live: LiveServer) -> dict[str, httpx.Client]:
    return {role.value: live.operator(f"op-{role.value}", role) for role in Role}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    ("role", "allowed"),
    [("admin", True), ("billing", True), ("oncall", True), ("viewer", True), ("support", False)],
)
def test_roles(clients: dict[str, httpx.Client], path: str, role: str, allowed: bool) -> None:
    response = clients[role].get(path)
    if allowed:
        assert response.status_code == 200, response.text
    else:
        body = assert_problem(response, 403, "forbidden")
        assert "business:read" in body["detail"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_app_keys_and_strangers_are_refused(live: LiveServer, path: str) -> None:
    assert_problem(live.client(live.app_key(f"key-{path.count('/')}{len(path)}")).get(path), 403)
    assert_problem(live.client().get(path), 401)


@pytest.mark.parametrize(
    ("role", "named"), [("admin", True), ("billing", True), ("oncall", True), ("viewer", False)]
)
def test_heavy_users_named_only_for_roles_that_read_users(
    clients: dict[str, httpx.Client], role: str, named: bool
) -> None:
    top = clients[role].get("/v1/business").json()["heavy_users"]["top"]
    assert top
    assert all((user["user_id"] is not None) == named for user in top)
    assert all(
        user["requests"] > 0 and user["tier"] in {"free", "premium", "unlimited"} for user in top
    )


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"month": "2026-13"}, "is not a month"),
        ({"month": "April"}, "give it as YYYY-MM"),
        ({"month": "2026-4-1"}, "query.month"),
        ({"month": "2026-05"}, "has not started yet"),
        ({"month": "9999-12"}, "has not started yet"),
        ({"month": "0000-01"}, "is not a month"),
        ({"month": ""}, "is not a month"),
    ],
)
def test_bad_month(clients: dict[str, httpx.Client], params: dict[str, Any], says: str) -> None:
    body = assert_problem(
        clients["billing"].get("/v1/business", params=params), 422, "validation-error"
    )
    assert says in body["detail"], body
    assert body["errors"][0]["field"] == "query.month"


def test_month_parameter(clients: dict[str, httpx.Client]) -> None:
    body = clients["billing"].get("/v1/business", params={"month": "2026-03"}).json()
    assert body["month"] == "2026-03" and body["complete"] is True
    assert body["totals"]["ai_cost"] > 0
    current = clients["billing"].get("/v1/business").json()
    assert current["month"] == "2026-04" and current["complete"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "query.days"),
        ({"days": 91}, "query.days"),
        ({"days": "week"}, "query.days"),
        ({"quota": 5}, "query.quota_tier"),
        ({"quota_tier": "free"}, "query.quota"),
        ({"quota_tier": "gold", "quota": 5}, "query.quota_tier"),
        ({"quota_tier": "unlimited", "quota": 5}, "query.quota_tier"),
        ({"quota_tier": "free", "quota": 10}, "query.quota"),
        ({"quota_tier": "free", "quota": -1}, "query.quota"),
    ],
)
def test_bad_recommendation_parameters(
    clients: dict[str, httpx.Client], params: dict[str, Any], field: str
) -> None:
    body = assert_problem(
        clients["billing"].get("/v1/business/recommendations", params=params),
        422,
        "validation-error",
    )
    assert field in body["detail"], body
    assert [e["field"] for e in body["errors"]] == [field]
