"""Assertions shared by the server tests: RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

import httpx

from opsconsole.server.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE


def assert_problem(response: httpx.Response, status: int, kind: str | None = None) -> Any:
    """Check that the response is a problem of this status (and kind); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE)
    if kind is not None:
        assert body["type"].endswith("/" + kind), body
    # A person must be able to act on it: a title and a sentence, not a bare code.
    assert body["title"]
    assert isinstance(body["detail"], str) and len(body["detail"]) > 15, body
    return body
