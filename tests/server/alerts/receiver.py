"""A webhook receiver on a loopback port: records what it is sent, can fail at first."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []  # accepted messages, in order
        self.attempts: list[float] = []  # monotonic time of every request, failed or not
        self.fail_first = 0  # answer 503 to this many requests before accepting
        self.url = ""
        self._lock = threading.Lock()

    def handle(self, body: dict[str, Any]) -> int:
        with self._lock:
            self.attempts.append(time.monotonic())
            if len(self.attempts) <= self.fail_first:
                return 503
            self.bodies.append(body)
            return 200


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            status = receiver.handle(json.loads(self.rfile.read(length)))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
