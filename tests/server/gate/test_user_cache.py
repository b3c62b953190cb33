"""The gate's copy of each user: answered from memory, re-read in the background once old."""

from __future__ import annotations

import dataclasses
import time

import httpx
import pytest
from sqlalchemy import text

from tests.live import LiveServer

pytestmark = pytest.mark.store


def admit(app: httpx.Client, user_id: str) -> dict[str, object]:
    response = app.post("/v1/gate/admit", json={"user_id": user_id, "feature": "chat"})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_an_old_copy_answers_at_once_and_is_refreshed_behind(server: LiveServer) -> None:
    app = server.client(server.app_key())
    assert app.put("/v1/users/ann", json={"tier": "premium"}).status_code in (200, 201)
    assert admit(app, "ann")["allow"] is True
    runtime = server.app.state.gate
    # An edit behind the API's back (no invalidation), and a copy past its time to live.
    with server.db.engine.begin() as connection:
        connection.execute(text("UPDATE users SET status = 'suspended' WHERE id = 'ann'"))
    old = runtime.users["ann"]
    runtime.users["ann"] = dataclasses.replace(
        old, loaded_at=time.monotonic() - old.time_to_live - 1
    )

    # The old copy answers this admit without waiting for the database...
    assert admit(app, "ann")["allow"] is True
    # ...and the re-read it started lands shortly after.
    deadline = time.monotonic() + 10
    while runtime.users["ann"].status != "suspended":
        assert time.monotonic() < deadline, "the background re-read never replaced the copy"
        time.sleep(0.02)
    assert admit(app, "ann")["reason"] == "user_suspended"
