"""The asyncio SDK against a real control plane (each test drives its own loop)."""

from __future__ import annotations

import asyncio
import time

import pytest

from opsconsole.sdk import AsyncGateClient, Decision, DenyReason, GateError, GateUnavailable
from tests.live import LiveServer
from tests.sdk.helpers import (
    admin_of,
    black_hole,
    fake_decision,
    free_port,
    heavy_user,
    report_posts,
    usage_count,
)


def spend(gate: AsyncGateClient, decision: Decision) -> None:
    gate.report(decision, input_tokens=300, output_tokens=120, latency_ms=420.0, cost=0.002)


def test_admit_register_and_ticket(server: LiveServer) -> None:
    async def main() -> None:
        async with AsyncGateClient(server.url, server.app_key()) as gate:
            await gate.register_user("ann", tier="premium")
            allowed = await gate.admit("ann", "coach")
            assert allowed.allow and allowed.reason is DenyReason.OK and allowed.decision_id
            denied = await gate.admit("nobody")
            assert not denied.allow and denied.reason is DenyReason.UNKNOWN_USER
            ticket = await gate.open_ticket("ann", "slow answers", "the coach takes ages")
            assert ticket["user_id"] == "ann"
            with pytest.raises(GateError) as refused:
                await gate.admit("x" * 200)
            assert refused.value.status == 422

    asyncio.run(main())


def test_batches_and_close_durability(server: LiveServer) -> None:
    async def main() -> None:
        # 250 admits at once queue for the pool's 100 connections: allow for that.
        gate = AsyncGateClient(server.url, server.app_key(), batch_size=100, timeout=10)
        await gate.register_user("heavy", tier="unlimited")
        heavy_user(server, admin_of(server), "heavy", 1000)
        decisions = await asyncio.gather(*(gate.admit("heavy") for _ in range(250)))
        assert all(d.allow and not d.degraded for d in decisions)
        for decision in decisions:
            spend(gate, decision)
        spend(gate, decisions[0])  # a duplicate: refused by the server, dropped alone
        await gate.aclose()
        assert usage_count(server) == 250
        assert report_posts(server) == {"200": 3, "422": 1}
        stats = gate.stats
        assert (stats["reports_sent"], stats["reports_dropped"], stats["reports_pending"]) == (
            250,
            1,
            0,
        )

    asyncio.run(main())


@pytest.mark.parametrize(
    ("fail_mode", "expected"),
    [
        ("open", Decision(True, "fallback", None, DenyReason.OK, degraded=True)),
        ("closed", Decision(False, None, None, DenyReason.NO_PROVIDER, degraded=True)),
    ],
)
def test_fail_mode_against_a_hung_server(fail_mode: str, expected: Decision) -> None:
    async def main(url: str) -> None:
        async with AsyncGateClient(url, "k", timeout=0.3, fail_mode=fail_mode) as gate:
            started = time.monotonic()
            decisions = await asyncio.gather(*(gate.admit(f"u{n}") for n in range(20)))
            elapsed = time.monotonic() - started
            assert decisions == [expected] * 20
            assert 0.27 <= elapsed < 0.3 + 0.25
            assert gate.stats["degraded"] == 20

    with black_hole() as url:
        asyncio.run(main(url))


def test_nothing_listening_and_fail_mode_raise() -> None:
    async def main() -> None:
        url = f"http://127.0.0.1:{free_port()}"
        async with AsyncGateClient(url, "k", fail_mode="raise") as gate:
            with pytest.raises(GateUnavailable):
                await gate.admit("ann")
            with pytest.raises(GateUnavailable):
                await gate.register_user("ann")
        gate = AsyncGateClient(url, "k", flush_interval=0.01)
        spend(gate, fake_decision())
        await gate.flush(timeout=0.3)  # gives up: nobody answers
        assert gate.stats["reports_pending"] == 1 and gate.stats["report_errors"] >= 1
        await gate.aclose(timeout=0.1)
        assert gate.stats["reports_dropped"] == 1 and gate.stats["reports_pending"] == 0

    asyncio.run(main())
