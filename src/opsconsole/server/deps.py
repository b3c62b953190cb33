"""FastAPI dependencies: the database session, the clock, and who is calling.

`authorize` runs before every route. It finds the route's entry in the permission table and
checks the caller's credential against it; the aliases below hand the result to the routes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from opsconsole.server.audit.service import Actor
from opsconsole.server.auth import credentials, service
from opsconsole.server.clock import Clock
from opsconsole.server.db import Database
from opsconsole.server.errors import Problem
from opsconsole.server.impersonation.tokens import is_impersonation_token
from opsconsole.server.permissions import ROUTE_ACCESS, Permission, role_allows
from opsconsole.server.settings import Settings
from opsconsole.wire.common import Role


@dataclass(frozen=True)
class OperatorPrincipal:
    session_id: str
    operator_id: int
    username: str
    role: Role
    step_up_until: datetime | None

    def can(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)


@dataclass(frozen=True)
class AppPrincipal:
    key_id: int
    name: str


Principal = OperatorPrincipal | AppPrincipal


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_now(request: Request) -> datetime:
    return get_clock(request).now()


def read_session(request: Request) -> Iterator[Session]:
    with get_db(request).reading() as session:
        yield session


def write_session(request: Request) -> Iterator[Session]:
    """A transaction that commits before the response is sent, so a 2xx means it is durable."""
    with get_db(request).writing() as session:
        yield session


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def forbidden(detail: str, kind: str = "forbidden") -> Problem:
    return Problem(403, kind, "Forbidden", detail)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authorize(request: Request) -> None:
    """Check the caller against the route's entry in the permission table (deny by default)."""
    route = request.scope.get("route")
    access = ROUTE_ACCESS.get((request.method, getattr(route, "path", "")))
    if access is None:
        raise forbidden("No access rule covers this endpoint, so it is closed.", "no-access-rule")
    if access.public:
        return
    token = _bearer(request)
    if token is None:
        raise service.unauthenticated(
            "Send a bearer token: `Authorization: Bearer <token>` (operators log in at "
            "/v1/auth/login; the AI app uses its app key)."
        )
    if is_impersonation_token(token):
        # Refused by its look, on every route: an impersonation token is for the app's backend
        # (which introspects it), never a credential of the control plane, so no path can
        # turn an impersonation into an operator's rights.
        raise Problem(
            403,
            "impersonation-token-refused",
            "Impersonation tokens are refused here",
            "An impersonation token only works in the AI app, whose backend checks it at "
            "POST /v1/impersonations/introspect; the control plane's API needs an operator's "
            "token or the app key.",
        )
    db, now = get_db(request), get_now(request)
    # The credential is checked before the route's rule: a caller without a valid one gets
    # a 401 everywhere, a 403 only tells a known caller that this is not theirs.
    if token.startswith(credentials.APP_KEY_PREFIX):
        app_principal = await _app_key(request, db, token)
        if not access.app_key:
            raise forbidden("App keys may not call the operator API; log in as an operator.")
        request.state.principal = app_principal
        return
    principal, stale = await run_in_threadpool(_operator, db, token, get_settings(request), now)
    if not access.operator:
        raise forbidden("This endpoint is for the AI app's backend: call it with an app key.")
    if not access.allows(principal.role):
        raise forbidden(
            f"Your role ({principal.role}) does not have {access.permission}; "
            "ask an admin if you need it."
        )
    if access.step_up and not (principal.step_up_until and principal.step_up_until > now):
        raise Problem(
            403,
            "step-up-required",
            "Step-up required",
            "This action needs a recent re-authentication: POST /v1/auth/step-up with your "
            "password or TOTP code, then retry.",
        )
    if stale:
        await run_in_threadpool(_touch, db, principal.session_id, now)
    request.state.principal = principal


# App keys are checked on the gate's hot path: a key once verified is trusted from memory for
# this long, so a revoked key may work for up to this many seconds more.
APP_KEY_CACHE_S = 30.0


async def _app_key(request: Request, db: Database, token: str) -> AppPrincipal:
    cache: dict[str, tuple[AppPrincipal, float]] = request.app.state.app_key_cache
    digest = credentials.digest(token)
    hit = cache.get(digest)
    if hit is not None and time.monotonic() - hit[1] < APP_KEY_CACHE_S:
        return hit[0]
    principal = await run_in_threadpool(_load_app_key, db, token)
    cache[digest] = (principal, time.monotonic())
    return principal


def _load_app_key(db: Database, token: str) -> AppPrincipal:
    with db.reading() as session:
        key = service.authenticate_app_key(session=session, secret=token)
        return AppPrincipal(key_id=key.id, name=key.name)


def _operator(
    db: Database, token: str, settings: Settings, now: datetime
) -> tuple[OperatorPrincipal, bool]:
    with db.reading() as session:
        row, operator = service.authenticate(
            session=session, token=token, settings=settings, now=now
        )
        principal = OperatorPrincipal(
            session_id=row.id,
            operator_id=operator.id,
            username=operator.username,
            role=Role(operator.role),
            step_up_until=row.step_up_until,
        )
        return principal, now - row.last_seen_at >= service.TOUCH_INTERVAL


def _touch(db: Database, session_id: str, now: datetime) -> None:
    with db.writing() as session:
        service.touch(session=session, session_id=session_id, now=now)


def current_operator(request: Request) -> OperatorPrincipal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, OperatorPrincipal):
        raise forbidden("This endpoint needs an operator's token.")
    return principal


def current_app(request: Request) -> AppPrincipal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, AppPrincipal):
        raise forbidden("This endpoint needs the app's key.")
    return principal


def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, OperatorPrincipal | AppPrincipal):
        raise forbidden("This endpoint needs a credential.")
    return principal


def current_actor(request: Request) -> Actor:
    principal = current_principal(request)
    if isinstance(principal, OperatorPrincipal):
        return Actor("operator", principal.username, client_addr=client_addr(request))
    return Actor("app", principal.name, client_addr=client_addr(request))


SessionDep = Annotated[Session, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(write_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
CurrentOperator = Annotated[OperatorPrincipal, Depends(current_operator)]
CurrentApp = Annotated[AppPrincipal, Depends(current_app)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
ActorDep = Annotated[Actor, Depends(current_actor)]
ClientAddr = Annotated[str, Depends(client_addr)]
