"""Opaque cursors for keyset pagination: the client passes back what the last page gave it."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, TypeVar

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


Id = TypeVar("Id", int, str)


def decode_time_cursor(
    cursor: str | None, time_field: str, id_type: type[Id]
) -> tuple[datetime, Id] | None:
    """The (time, id) position a cursor holds, for lists ordered by a time and then an id;
    None for the first page, a 400 for a cursor that is not such a position."""
    key = decode_cursor(cursor, time_field, "id")
    if key is None:
        return None
    try:
        moment = datetime.fromisoformat(str(key[time_field]))
    except ValueError:
        raise bad_cursor() from None
    row_id = key["id"]
    # bool is an int to isinstance, and never an id.
    if moment.tzinfo is None or type(row_id) is not id_type:
        # Well-formed but not a position in this list: the same answer as any foreign cursor.
        raise bad_cursor()
    return moment, row_id


def bad_cursor() -> Problem:
    return Problem(
        400,
        "bad-cursor",
        "Invalid cursor",
        "The cursor was not issued by this list; start again without a cursor.",
    )
