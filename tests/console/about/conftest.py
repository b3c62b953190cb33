"""The About tests use the views' logged-in console (a real server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opsconsole.console import logs
from tests.console.views.conftest import console  # noqa: F401 - a fixture, used by name


@pytest.fixture(autouse=True)
def no_log_file_left() -> Iterator[None]:
    """Each test starts without the console's file handler and leaves none behind."""
    logs.shutdown()
    yield
    logs.shutdown()
