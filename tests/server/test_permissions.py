"""Walk every route of the app against the permission table, for every kind of caller.

Driven by the app's OpenAPI document and :data:`ROUTE_ACCESS` only: a new route is covered
the moment it exists, and fails here until it has an entry in the table.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from opsconsole.server.app import create_app
from opsconsole.server.permissions import ROLE_PERMISSIONS, ROUTE_ACCESS, Access, Permission
from opsconsole.server.settings import Settings
from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def build_app() -> FastAPI:
    data = Path(tempfile.mkdtemp(prefix="opsconsole-routes-"))
    return create_app(Settings(data_dir=data, db=f"sqlite:///{data / 'routes.db'}"))


def openapi_routes(app: FastAPI) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method.upper() in HTTP_METHODS
    }


APP = build_app()
ROUTES = sorted(openapi_routes(APP) | set(ROUTE_ACCESS))
CALLERS = ["anonymous", "app", *(role.value for role in Role)]


def test_every_api_route_is_in_the_openapi_document() -> None:
    documented = openapi_routes(APP)
    api_routes = {
        (method, route.path)
        for route in APP.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method in HTTP_METHODS
    }
    assert api_routes - documented == set()


def test_every_route_has_an_access_rule() -> None:
    missing = openapi_routes(APP) - set(ROUTE_ACCESS)
    assert missing == set(), f"routes without an entry in permissions.ROUTE_ACCESS: {missing}"


def test_every_access_rule_names_a_route() -> None:
    stale = set(ROUTE_ACCESS) - openapi_routes(APP)
    assert stale == set(), f"ROUTE_ACCESS entries for routes that do not exist: {stale}"


@pytest.mark.parametrize("access", sorted(set(ROUTE_ACCESS.values()), key=repr))
def test_every_rule_grants_something_to_someone(access: Access) -> None:
    assert access.public or access.operator or access.app_key
    if access.public:
        assert not (access.operator or access.app_key or access.permission or access.step_up)
    if access.step_up:
        assert access.operator


def test_viewer_only_reads_gate_state_and_admin_has_all() -> None:
    # The wall display: tiers, providers and switch states, live metrics, business figures and
    # alerts; nothing personal, nothing to change.
    assert ROLE_PERMISSIONS[Role.VIEWER] == frozenset(
        {
            Permission.GATE_READ,
            Permission.ALERTS_READ,
            Permission.METRICS_READ,
            Permission.BUSINESS_READ,
        }
    )
    assert all(ROLE_PERMISSIONS[Role.ADMIN] >= perms for perms in ROLE_PERMISSIONS.values())


# --- the walk ------------------------------------------------------------------------------


class Callers:
    """A token per kind of caller, stepped up, renewed when a request ended its session."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.tokens: dict[str, str] = {"app": server.app_key()}
        for role in Role:
            server.create_operator(f"walk-{role.value}", role)

    def client(self, caller: str) -> httpx.Client:
        if caller == "anonymous":
            return self.server.client()
        if caller not in self.tokens:
            self.tokens[caller] = self.server.login(f"walk-{caller}")
            self.server.step_up(self.server.client(self.tokens[caller]))
        return self.server.client(self.tokens[caller])

    def renew_if_ended(self, caller: str) -> None:
        if (
            caller in set(Role)
            and caller in self.tokens
            and self.client(caller).get("/v1/auth/me").status_code != 200
        ):
            del self.tokens[caller]


@pytest.fixture(scope="module")
def callers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callers]:
    # Authorization does not depend on the store: one SQLite server serves the whole walk.
    data = tmp_path_factory.mktemp("walk")
    with start_server(f"sqlite:///{data / 'walk.db'}", data / "server") as server:
        yield Callers(server)


def concrete(path: str) -> str:
    # Ids that exist nowhere: a request that passes authorization ends in a 404 or a 422,
    # never in a change to data the walk relies on.
    return re.sub(r"\{[^}]+\}", "walk-missing-0", path)


def allowed(access: Access, caller: str) -> bool:
    if access.public:
        return True
    if caller == "anonymous":
        return False
    if caller == "app":
        return access.app_key
    if not access.operator:
        return False
    return access.allows(Role(caller))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_route_against_caller(callers: Callers, method: str, path: str, caller: str) -> None:
    access = ROUTE_ACCESS.get((method, path))
    assert access is not None, f"{method} {path} has no entry in permissions.ROUTE_ACCESS"
    assert (method, path) in openapi_routes(APP), f"{method} {path} is not a route of the app"
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    response = callers.client(caller).request(method, concrete(path), json=body)
    if method in MUTATING and response.is_success:
        callers.renew_if_ended(caller)  # it may have ended the caller's own session
    status, text = response.status_code, response.text
    assert status < 500, text
    if caller == "anonymous" and not access.public:
        assert status == 401, f"{method} {path} without a token: {status} {text}"
        return
    if not allowed(access, caller):
        assert status == 403, f"{method} {path} as {caller}: {status} {text}"
        assert response.json()["type"].endswith("/forbidden"), text
        return
    # Allowed: authorization lets it through (to a 2xx, a 404 for the missing id, or a 422
    # for the empty body), and never asks for a step-up the caller has done.
    assert status not in (401, 403), f"{method} {path} as {caller}: {status} {text}"
    assert status != 405 and "no endpoint" not in text


def self_service(access: Access | None) -> bool:
    """Any signed-in operator may do it, to their own session (log out, step up, TOTP)."""
    return access is not None and access.operator and access.permission is None


MUTATIONS = [
    (method, path)
    for method, path in ROUTES
    if method in MUTATING
    and not self_service(access := ROUTE_ACCESS.get((method, path)))
    and not (access and access.public)
]


@pytest.mark.parametrize(("method", "path"), MUTATIONS)
def test_viewer_mutates_nothing(callers: Callers, method: str, path: str) -> None:
    response = callers.client(Role.VIEWER.value).request(
        method, concrete(path), json={} if method != "DELETE" else None
    )
    callers.renew_if_ended(Role.VIEWER.value)
    assert not 200 <= response.status_code < 300, response.text
    assert response.status_code == 403, response.text
