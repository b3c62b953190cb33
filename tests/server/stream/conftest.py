"""Fixtures for the stream tests: a live server whose streams check their sessions often."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveServer, start_server

FAST_CHECKS = {"stream_session_check_s": 0.1}


@pytest.fixture
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(db_url, tmp_path_factory.mktemp("data"), **FAST_CHECKS) as live:
        yield live
