"""Fixtures for the alert tests: a live server whose alerts are evaluated only when a test
says so (at the ManualClock's time), an app key, and an on-call operator stepped up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server
from tests.server.alerts.receiver import Receiver, webhook_receiver

# Evaluation is driven by the tests (`evaluate`); the background loop waits an hour between
# rounds. Database figures are never reused: each round sees the rows the test just wrote.
# Operator sessions outlive the clock's jumps of hours and days.
QUIET: dict[str, object] = {
    "alerts_interval_s": 3600.0,
    "alerts_history_refresh_s": 0.0,
    "session_idle_minutes": 60 * 24 * 30,
    "session_lifetime_hours": 24 * 30,
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def webhook(receiver: Receiver) -> list[dict[str, Any]]:
    """The messages the server's webhook has accepted so far."""
    return receiver.bodies


@pytest.fixture
def server(
    db_url: str, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> Iterator[LiveServer]:
    settings = {
        **QUIET,
        "alerts_webhooks": [receiver.url],
        "alerts_webhook_backoff_s": 0.05,
    }
    with start_server(db_url, tmp_path_factory.mktemp("data"), **settings) as live:
        yield live


@pytest.fixture
def app(server: LiveServer) -> httpx.Client:
    return server.client(server.app_key())


@pytest.fixture
def oncall(server: LiveServer) -> httpx.Client:
    client = server.operator("olga", Role.ONCALL)
    server.step_up(client)
    return client
