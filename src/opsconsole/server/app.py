"""The control plane's FastAPI application, assembled by :func:`create_app`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.types import Receive, Scope, Send

import opsconsole
from opsconsole.server import migrate
from opsconsole.server.alerts import routes as alerts_routes
from opsconsole.server.alerts.inputs import LiveFigures
from opsconsole.server.alerts.leader import RedisLease
from opsconsole.server.alerts.runtime import AlertsRuntime
from opsconsole.server.audit.routes import router as audit_router
from opsconsole.server.auth.app_keys import router as app_keys_router
from opsconsole.server.auth.routes import operators_router
from opsconsole.server.auth.routes import router as auth_router
from opsconsole.server.business.routes import router as business_router
from opsconsole.server.clock import Clock, make_clock
from opsconsole.server.db import Database
from opsconsole.server.deps import authorize
from opsconsole.server.errors import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    UnhandledErrors,
    install_error_handlers,
)
from opsconsole.server.gate import routes as gate_routes
from opsconsole.server.gate.factory import build_gate
from opsconsole.server.gate.fastpath import GateFastPath
from opsconsole.server.gate.redis_counters import RedisCounters
from opsconsole.server.impersonation.routes import router as impersonation_router
from opsconsole.server.limits import BodySizeLimit
from opsconsole.server.metrics import routes as metrics_routes
from opsconsole.server.metrics.service import MetricsRuntime
from opsconsole.server.observability import HttpMetrics, MetricsMiddleware
from opsconsole.server.permissions import ROUTE_ACCESS
from opsconsole.server.settings import Settings
from opsconsole.server.stream.runtime import StreamRuntime
from opsconsole.server.tickets.routes import router as tickets_router
from opsconsole.server.users.activity import router as user_activity_router
from opsconsole.server.users.routes import router as users_router

log = logging.getLogger("opsconsole.server")


class StaleDatabaseError(RuntimeError):
    pass


class ControlPlaneApp(FastAPI):
    """FastAPI with the gate's hot path in front of its whole middleware stack (see
    `GateFastPath`); every request the fast path does not answer goes through the stack."""

    fast_path: GateFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is not None:
            await self.fast_path(scope, receive, send)
        else:
            await self.full_stack(scope, receive, send)

    async def full_stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def prepare_database(db: Database) -> None:
    """Bring SQLite up to date; refuse to start on a PostgreSQL that was not upgraded."""
    head = migrate.head_revision()
    if db.dialect == "sqlite":
        migrate.upgrade(db.engine)
        return
    current = migrate.current_revision(db.engine)
    if current != head:
        raise StaleDatabaseError(
            f"the database is at revision {current or 'none'} but this version needs {head}; "
            f"run `opsconsole db upgrade --db URL` first"
        )


def create_app(
    settings: Settings, *, clock: Clock | None = None, db: Database | None = None
) -> FastAPI:
    """Build the control plane. The database is prepared at once, before serving starts."""
    database = db or Database(settings.database_url)
    prepare_database(database)

    the_clock = clock or make_clock(settings.clock_speedup, settings.clock_start)
    gate = build_gate(settings, database, the_clock)
    stream = StreamRuntime(settings=settings, db=database, clock=the_clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sync = asyncio.create_task(gate.sync_forever(), name="gate-sync")
        evaluating = asyncio.create_task(alerts.run_forever(), name="alerts")
        ticking = asyncio.create_task(metrics.run_forever(), name="metrics")
        stream.start()
        try:
            yield
        finally:
            await stream.stop()
            sync.cancel()
            evaluating.cancel()
            ticking.cancel()
            await asyncio.gather(sync, evaluating, ticking, return_exceptions=True)
            await asyncio.to_thread(metrics.close)  # writes the open minute and hour
            alerts.close()
            gate.close()  # writes the decisions still queued
            if db is None:
                database.dispose()

    app = ControlPlaneApp(
        title="opsconsole control plane",
        version=opsconsole.__version__,
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
        responses={
            "4XX": {
                "description": "Problem details (RFC 9457)",
                "content": {PROBLEM_MEDIA_TYPE: {}},
            }
        },
    )
    app.state.settings = settings
    app.state.clock = the_clock
    app.state.db = database
    app.state.gate = gate
    alerts = AlertsRuntime(
        db=database, gate=gate.gate, clock=the_clock, settings=settings, live=lambda: _live(app)
    )
    app.state.alerts = alerts
    if isinstance(gate.gate.counters, RedisCounters):
        alerts.lease = RedisLease(
            gate.gate.counters.redis,
            f"{settings.redis_prefix}alerts-leader",
            ttl_s=max(15.0, 3 * settings.alerts_interval_s),
        )
    app.state.app_key_cache = {}
    registry = CollectorRegistry()
    app.state.registry = registry
    metrics = MetricsRuntime(
        db=database, gate=gate, clock=the_clock, settings=settings, registry=registry
    )
    metrics.load()
    gate.observers.append(metrics.aggregator)
    app.state.metrics = metrics

    _install_http_layers(app, settings, registry)

    for router in (
        auth_router,
        operators_router,
        app_keys_router,
        users_router,
        tickets_router,
        audit_router,
        gate_routes.router,
        gate_routes.tiers_router,
        gate_routes.providers_router,
        gate_routes.controls_router,
        alerts_routes.rules_router,
        alerts_routes.alerts_router,
        alerts_routes.silences_router,
        metrics_routes.router,
        business_router,
        impersonation_router,
        user_activity_router,
    ):
        app.include_router(router)
    _add_probes(app, database, registry)
    _document_security(app)
    stream.install(app)  # last: it subscribes to the services created above
    return app


def _install_http_layers(
    app: ControlPlaneApp, settings: Settings, registry: CollectorRegistry
) -> None:
    install_error_handlers(app)
    http_metrics = HttpMetrics(registry)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=http_metrics)
    app.add_middleware(UnhandledErrors)  # outermost of ours: it sees every error
    app.fast_path = GateFastPath(app.full_stack, app.state, http_metrics, settings.max_body_bytes)


def _live(app: FastAPI) -> LiveFigures | None:
    """The metrics aggregator when this process runs one (the alerts read its live figures)."""
    metrics = getattr(app.state, "metrics", None)
    aggregator: LiveFigures | None = getattr(metrics, "aggregator", None)
    return aggregator


def _document_security(app: FastAPI) -> None:
    """Declare the bearer token in the OpenAPI document on every operation that needs one.

    `authorize` reads the header itself, so FastAPI cannot know; clients, generated SDKs and
    the API fuzzer learn from this which operations refuse callers without a credential.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An operator's session token (POST /v1/auth/login) or an app key.",
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                access = ROUTE_ACCESS.get((method.upper(), path))
                if access is not None and not access.public:
                    operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_probes(app: FastAPI, database: Database, registry: CollectorRegistry) -> None:
    @app.get("/healthz", tags=["probes"])
    def healthz() -> dict[str, Any]:
        """The process is up; also its clock (the simulator follows a demo's faster one)."""
        return {
            "status": "ok",
            "version": opsconsole.__version__,
            "time": app.state.clock.now().isoformat(),
            "clock_speedup": app.state.settings.clock_speedup,
        }

    @app.get("/readyz", tags=["probes"])
    def readyz() -> Response:
        """The database answers."""
        try:
            with database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # any driver error means "not ready"
            log.warning("readiness check failed: %s", error)
            problem = Problem(
                503,
                "not-ready",
                "Not ready",
                "The database does not answer; check that it is running and reachable.",
            )
            return JSONResponse(problem.body(), status_code=503, media_type=PROBLEM_MEDIA_TYPE)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["probes"], response_class=PlainTextResponse)
    def metrics(request: Request) -> Response:
        """Prometheus exposition format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_app_from_environment() -> FastAPI:
    """For `opsconsole serve --workers N`: each worker process builds its own application
    from the OPSCONSOLE_* variables the parent process set."""
    from opsconsole.server.gate.factory import settle_heap  # noqa: PLC0415 - workers only

    app = create_app(Settings())
    settle_heap()  # as `serve` does: no full collections stalling the gate
    return app
