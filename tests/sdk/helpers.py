"""What the SDK tests share: dead endpoints, a restartable server, counting on the server."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from opsconsole.sdk import Decision, DenyReason
from opsconsole.server.app import create_app
from opsconsole.server.clock import ManualClock
from opsconsole.server.db import Database
from opsconsole.server.embedded import serve_in_thread
from opsconsole.server.gate.models import UsageEvent
from opsconsole.server.settings import Settings
from opsconsole.wire.common import Role
from tests.live import LiveServer


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def black_hole() -> Iterator[str]:
    """A URL whose listener completes TCP handshakes but never answers (a hung server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serve_at(db_url: str, data_dir: Path, port: int) -> Iterator[LiveServer]:
    """Like tests.live.start_server, on a fixed port, so a restarted server has the same URL."""
    settings = Settings(data_dir=data_dir, db=db_url, insecure_http=True)
    db = Database(db_url)
    clock = ManualClock()
    app = create_app(settings, clock=clock, db=db)
    with serve_in_thread(app, port=port) as url:
        yield LiveServer(url=url, app=app, db=db, clock=clock, settings=settings)
    db.dispose()


def usage_count(server: LiveServer) -> int:
    with server.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(UsageEvent)) or 0)


def report_posts(server: LiveServer) -> dict[str, float]:
    """POST /v1/gate/report requests the server handled, by status, from its /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "opsconsole_http_requests_total"
                and labels.get("route") == "/v1/gate/report"
                and labels.get("method") == "POST"
            ):
                counts[labels["status"]] = sample.value
    return counts


def heavy_user(server: LiveServer, admin: httpx.Client, user_id: str, daily: int) -> None:
    """Let an (already registered) user make ``daily`` requests a day at any rate."""
    response = admin.patch(
        f"/v1/users/{user_id}", json={"quota_daily_requests": daily, "rate_per_minute": 100_000}
    )
    assert response.status_code == 200, response.text


def admin_of(server: LiveServer) -> httpx.Client:
    return server.operator("root", Role.ADMIN)


def fake_decision(decision_id: str = "made-up") -> Decision:
    return Decision(True, "gpt-4o", "gpt-4o", DenyReason.OK, decision_id=decision_id)


def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
