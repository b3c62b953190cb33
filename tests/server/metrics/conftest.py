"""A live control plane whose metrics tick only when a test says so (`tick_once`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.live import LiveServer, start_server


@pytest.fixture
def live(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(db_url, tmp_path_factory.mktemp("data"), metrics_tick_s=0) as server:
        yield server


@pytest.fixture
def app(live: LiveServer) -> httpx.Client:
    return live.client(live.app_key())
