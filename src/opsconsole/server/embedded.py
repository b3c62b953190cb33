"""Serving the control plane with uvicorn: `ControlPlaneServer` (graceful shutdown that says
goodbye to open streams), and `serve_in_thread` for the demo, benches and tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class ControlPlaneServer(uvicorn.Server):
    """uvicorn's server, which on shutdown (SIGTERM, Ctrl+C) first tells the consoles on the
    stream that the server is restarting, then stops taking requests, lets those in flight
    finish, and runs the app's shutdown (which writes the decisions still queued)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        hub = _find_state(self.config.loaded_app, "stream")
        if hub is not None:
            await hub.say_goodbye()
        await super().shutdown(sockets)


def _find_state(app: Any, name: str) -> Any:
    """The FastAPI app's `state.<name>`, through the middleware uvicorn wraps around it."""
    for _ in range(16):
        state = getattr(app, "state", None)
        if state is not None and hasattr(state, name):
            return getattr(state, name)
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


@contextmanager
def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, **config: Any
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a daemon thread; yields its base URL.

    Port 0 picks a free port. Extra keyword arguments go to ``uvicorn.Config`` (TLS files,
    log level). The server stops when the block exits.
    """
    config.setdefault("log_level", "warning")
    server = ControlPlaneServer(uvicorn.Config(app, host=host, port=port, lifespan="on", **config))
    thread = threading.Thread(target=server.run, name="opsconsole-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the control plane did not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if config.get("ssl_certfile") else "http"
    try:
        yield f"{scheme}://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
