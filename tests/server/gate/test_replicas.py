"""Two replicas sharing PostgreSQL and Redis enforce one truth."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsconsole.server.gate.state import SwitchState
from opsconsole.wire.common import Role
from opsconsole.wire.gate import SwitchName
from tests.conftest import POSTGRES_ENV, postgres_clone
from tests.live import LiveServer, start_server
from tests.server.gate.test_gate_http import admit, register, usage

REDIS_ENV = "OPSCONSOLE_TEST_REDIS_URL"


@pytest.fixture
def replicas(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[LiveServer, LiveServer]]:
    redis_url = os.environ.get(REDIS_ENV)
    if not os.environ.get(POSTGRES_ENV) or not redis_url:
        pytest.skip(f"needs both {POSTGRES_ENV} and {REDIS_ENV}: replicas share both")
    prefix = f"opsconsole-test-{uuid.uuid4().hex[:8]}:"
    with ExitStack() as stack:
        db_url = stack.enter_context(postgres_clone(request.getfixturevalue("postgres_template")))
        servers = [
            stack.enter_context(
                start_server(db_url, tmp_path / name, redis=redis_url, redis_prefix=prefix)
            )
            for name in ("a", "b")
        ]
        yield servers[0], servers[1]
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_quota_of_100_gives_exactly_100_admits_across_two_replicas(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    first, second = replicas
    key = first.app_key()
    register(first.client(key), "heavy", "unlimited")
    admin = first.operator("root", Role.ADMIN)
    override = admin.patch(
        "/v1/users/heavy", json={"quota_daily_requests": 100, "rate_per_minute": 100_000}
    )
    assert override.status_code == 200, override.text
    clients = [(first if i % 2 else second).client(key) for i in range(50)]

    def burst(client: httpx.Client) -> list[bool]:
        return [admit(client, "heavy")["allow"] for _ in range(4)]

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = [allowed for burst_result in pool.map(burst, clients) for allowed in burst_result]
    assert sum(results) == 100
    assert len(results) == 200


def test_report_reaches_any_replica_once(replicas: tuple[LiveServer, LiveServer]) -> None:
    first, second = replicas
    key = first.app_key()
    register(first.client(key), "ann", "premium")
    decision = admit(first.client(key), "ann")
    assert second.client(key).post("/v1/gate/report", json=usage(decision)).status_code == 200
    again = first.client(key).post("/v1/gate/report", json=usage(decision))
    assert again.status_code == 422 and "reported already" in again.text


def test_switch_reaches_the_other_replica_within_a_second(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    first, second = replicas
    key = first.app_key()
    register(first.client(key), "ann", "unlimited")
    oncall = first.operator("olga", Role.ONCALL)
    first.step_up(oncall)
    response = oncall.put("/v1/controls/pause_all", json={"value": True, "reason": "drill 7"})
    assert response.status_code == 200, response.text
    flipped = time.monotonic()
    other = second.client(key)
    while admit(other, "ann")["reason"] != "paused_all":
        assert time.monotonic() - flipped < 1.0, "the other replica still admits after 1 s"
        time.sleep(0.02)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.01)


def test_switch_is_broadcast_through_redis(replicas: tuple[LiveServer, LiveServer]) -> None:
    first, second = replicas
    key = first.app_key()
    register(first.client(key), "ann", "unlimited")
    heard: list[SwitchState] = []
    # Called only for switch changes that arrive as broadcasts (not by the database poll).
    second.app.state.gate.remote_switch_listeners.append(heard.append)
    oncall = first.operator("olga", Role.ONCALL)
    first.step_up(oncall)
    body = {"value": ["free"], "reason": "drill 8"}
    assert oncall.put("/v1/controls/pause_tiers", json=body).status_code == 200
    wait_for(
        lambda: any(state.name == SwitchName.PAUSE_TIERS for state in heard),
        "the other replica heard the switch",
    )
    assert second.app.state.gate.gate.switches[SwitchName.PAUSE_TIERS].value == ["free"]


def test_breaker_opened_on_one_replica_is_open_on_the_other(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    first, second = replicas
    key = first.app_key()
    app_a, app_b = first.client(key), second.client(key)
    register(app_a, "ann", "unlimited")
    reports = [usage(admit(app_a, "ann"), status="error") for _ in range(10)]
    assert app_a.post("/v1/gate/report", json={"reports": reports}).status_code == 200
    admin = second.operator("root", Role.ADMIN)

    def breaker_on_second() -> dict[str, Any]:
        providers = {p["name"]: p for p in admin.get("/v1/providers").json()}
        return dict(providers["gpt-4o"]["breaker"])

    wait_for(lambda: breaker_on_second()["state"] == "open", "the breaker opened on replica b")
    opened = first.app.state.gate.gate.providers["gpt-4o"].breaker
    seen = breaker_on_second()
    assert seen["retry_at"] is not None
    assert datetime.fromisoformat(seen["retry_at"]) == opened.retry_at
    assert admit(app_b, "ann")["provider"] == "gemini-pro"

    # After the recovery time, probes through replica a succeed: closed on both.
    for server in (first, second):
        server.clock.advance(timedelta(seconds=301))
    probes = [usage(admit(app_a, "ann")) for _ in range(3)]
    assert {p["provider"] for p in probes} == {"gpt-4o"}
    assert app_a.post("/v1/gate/report", json={"reports": probes}).status_code == 200
    wait_for(lambda: breaker_on_second()["state"] == "closed", "the breaker closed on replica b")
    assert admit(app_b, "ann")["provider"] == "gpt-4o"


def test_a_replica_started_later_finds_the_open_breaker(
    replicas: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    first, _ = replicas
    key = first.app_key()
    app = first.client(key)
    register(app, "ann", "unlimited")
    reports = [usage(admit(app, "ann"), status="error") for _ in range(10)]
    assert app.post("/v1/gate/report", json={"reports": reports}).status_code == 200
    settings = first.settings
    with start_server(
        settings.database_url,
        tmp_path / "c",
        redis=settings.redis,
        redis_prefix=settings.redis_prefix,
    ) as third:
        breaker = third.app.state.gate.gate.providers["gpt-4o"].breaker
        assert breaker.state.value == "open"


def test_a_console_on_the_other_replica_sees_the_switch_change(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    import asyncio

    from tests.server.stream.console import console

    first, second = replicas
    oncall = first.operator("olga", Role.ONCALL)
    first.step_up(oncall)
    watcher = second.login("olga")  # the same operator, on the other replica's stream

    async def scenario() -> None:
        async with console(second.url, watcher) as screen:
            body = {"value": True, "reason": "provider incident 7"}
            changed = await asyncio.to_thread(oncall.put, "/v1/controls/fallback_only", json=body)
            assert changed.status_code == 200, changed.text
            message = await screen.expect("switch", timeout=5.0)
            assert message.data.switch.name == SwitchName.FALLBACK_ONLY
            assert message.data.actor == "olga"
            assert message.data.reason == "provider incident 7"

    asyncio.run(scenario())


def test_one_replica_at_a_time_evaluates_alerts(replicas: tuple[LiveServer, LiveServer]) -> None:
    first, second = replicas
    a, b = first.app.state.alerts.lease, second.app.state.alerts.lease
    assert a is not None and b is not None
    holders = [lease.hold() for lease in (a, b, a, b)]
    assert holders in ([True, False, True, False], [False, True, False, True])
    # The holder stops (shutdown releases it): the other takes over at its next round.
    current, other = (a, b) if holders[0] else (b, a)
    current.release()
    assert other.hold()
    assert not current.hold()
