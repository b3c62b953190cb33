"""Assembles the stream for the app: the hub on `app.state.stream`, its producers, the session
watch and the route; started and stopped by the app's lifespan."""

from __future__ import annotations

from fastapi import FastAPI

from opsconsole.server.clock import Clock
from opsconsole.server.db import Database
from opsconsole.server.gate.events import SwitchChanged
from opsconsole.server.settings import Settings
from opsconsole.server.stream import routes
from opsconsole.server.stream.hub import StreamHub
from opsconsole.server.stream.producers import CommitNotices, connect_runtime_producers
from opsconsole.server.stream.sessions import SessionWatch


class StreamRuntime:
    def __init__(self, *, settings: Settings, db: Database, clock: Clock) -> None:
        self.hub = StreamHub(
            clock=clock,
            queue_messages=settings.stream_queue_messages,
            heartbeat_s=settings.stream_heartbeat_s,
        )
        self.watch = SessionWatch(
            hub=self.hub,
            db=db,
            clock=clock,
            idle_minutes=settings.session_idle_minutes,
            every_s=settings.stream_session_check_s,
        )
        self.notices = CommitNotices(
            hub=self.hub, db=db, clock=clock, on_session_change=self.watch.poke
        )
        db.on_commit(self.notices)

    def install(self, app: FastAPI) -> None:
        """Call last in `create_app`: the metrics runtime and alerts service must exist."""
        app.state.stream = self.hub
        app.state.stream_sessions = self.watch
        connect_runtime_producers(self.hub, app.state.metrics, app.state.alerts)
        # A switch flipped through another replica reaches this replica's consoles too.
        app.state.gate.remote_switch_listeners.append(
            lambda state: self.notices([SwitchChanged(state)])
        )
        # A plain Starlette route: the app-wide `authorize` dependency is written for HTTP
        # requests; the handshake is authenticated in `routes.stream` against STREAM_ACCESS.
        app.router.add_websocket_route(routes.PATH, routes.stream)

    def start(self) -> None:
        """On the event loop (the app's lifespan)."""
        self.hub.start()
        self.watch.start()

    async def stop(self) -> None:
        await self.watch.stop()
        await self.hub.stop()
        self.notices.close()
