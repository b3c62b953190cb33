"""Keyset cursors: what a list issued comes back as its position; anything else is a 400."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsconsole.server.errors import Problem
from opsconsole.server.pagination import decode_time_cursor, encode_cursor

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_a_cursor_a_list_issued_is_its_position() -> None:
    assert decode_time_cursor(None, "at", int) is None
    assert decode_time_cursor(encode_cursor(at=AT.isoformat(), id=7), "at", int) == (AT, 7)
    assert decode_time_cursor(encode_cursor(due=AT.isoformat(), id="imp-1"), "due", str) == (
        AT,
        "imp-1",
    )


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        encode_cursor(id=7),  # no time
        encode_cursor(at="yesterday", id=7),  # not a time
        encode_cursor(at="2026-01-05T09:00:00", id=7),  # a time without its zone
        encode_cursor(at=AT.isoformat(), id="7"),  # an id of the wrong type
        encode_cursor(at=AT.isoformat(), id=True),  # a bool is not an id
        encode_cursor(at=AT.isoformat()),  # no id
    ],
)
def test_anything_else_is_a_bad_cursor(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        decode_time_cursor(cursor, "at", int)
    assert refused.value.status == 400
    assert "start again without a cursor" in refused.value.detail
