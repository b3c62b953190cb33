"""Opaque cursors for keyset pagination: the client passes back what the last page gave it."""

from __future__ import annotations

import base64
import json
from typing import Any

from opsconsole.server.errors import Problem


def encode_cursor(**key: Any) -> str:
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *fields: str) -> dict[str, Any] | None:
    """The key a cursor holds, or None for the first page; a 400 for a cursor not ours."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, dict) or any(field not in key for field in fields):
        raise bad_cursor()
    return key


def bad_cursor() -> Problem:
    return Problem(
        400,
        "bad-cursor",
        "Invalid cursor",
        "The cursor was not issued by this list; start again without a cursor.",
    )
