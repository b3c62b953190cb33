"""Run the control plane inside this process on a background thread (demo, benches, tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, **config: Any
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a daemon thread; yields its base URL.

    Port 0 picks a free port. Extra keyword arguments go to ``uvicorn.Config`` (TLS files,
    log level). The server stops when the block exits.
    """
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="on", **config))
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
