"""The synchronous SDK against a real control plane on loopback."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from opsconsole.sdk import (
    Decision,
    DenyReason,
    FailMode,
    GateClient,
    GateError,
    GateUnavailable,
)
from opsconsole.wire.common import Role
from tests.live import LiveServer, start_server
from tests.sdk.helpers import (
    admin_of,
    black_hole,
    fake_decision,
    free_port,
    heavy_user,
    report_posts,
    serve_at,
    usage_count,
    wait_until,
)

REASON = "incident 7: testing the sdk"


@pytest.fixture
def gate(server: LiveServer) -> Iterator[GateClient]:
    client = GateClient(server.url, server.app_key())
    yield client
    client.close(timeout=2)


def spend(gate: GateClient, decision: Decision) -> None:
    gate.report(decision, input_tokens=300, output_tokens=120, latency_ms=420.0)


def test_admit_allows_and_denies_with_reasons(server: LiveServer, gate: GateClient) -> None:
    created = gate.register_user("ann", email="ann@example.com", tier="premium", country="de")
    assert created["id"] == "ann" and created["country"] == "DE"
    allowed = gate.admit("ann", "coach", estimated_tokens=500)
    assert allowed.allow and allowed.reason is DenyReason.OK and not allowed.degraded
    assert (allowed.provider, allowed.model) == ("gemini-flash", "gemini-1.5-flash")
    assert allowed.decision_id and allowed.remaining and allowed.remaining.requests_today == 99
    unknown = gate.admit("nobody")
    assert not unknown.allow and unknown.reason is DenyReason.UNKNOWN_USER
    assert unknown.decision_id is None and not unknown.degraded
    dry = gate.admit("ann", dry_run=True)
    assert dry.allow and dry.decision_id is None
    oncall = server.operator("olga", Role.ONCALL)
    server.step_up(oncall)
    paused = oncall.put("/v1/controls/pause_all", json={"value": True, "reason": REASON})
    assert paused.status_code == 200, paused.text
    assert gate.admit("ann").reason is DenyReason.PAUSED_ALL
    assert gate.stats["admits"] == 4 and gate.stats["degraded"] == 0


def test_programming_errors_raise_instead_of_failing_open(server: LiveServer) -> None:
    with GateClient(server.url, "not-a-key", fail_mode="open") as wrong_key:
        with pytest.raises(GateError) as refused:
            wrong_key.admit("ann")
        assert refused.value.status == 401 and refused.value.detail
    with GateClient(server.url, server.app_key()) as gate:
        with pytest.raises(GateError) as invalid:
            gate.admit("")
        assert invalid.value.status == 422
        assert invalid.value.problem_type.endswith("validation-error")
        with pytest.raises(GateError, match="tier"):
            gate.register_user("bob", tier="platinum")
        gate.register_user("bob")
        ticket = gate.open_ticket("bob", "it refuses me", "since this morning", "high")
        assert ticket["priority"] == "high"
        assert gate.stats["degraded"] == 0
    with pytest.raises(ValueError, match="fail_mode"):
        GateClient(server.url, "k", fail_mode="sideways")


def test_reports_go_in_batches_and_are_durable(server: LiveServer, gate: GateClient) -> None:
    gate.register_user("heavy", tier="unlimited")
    heavy_user(server, admin_of(server), "heavy", 1000)
    decisions = [gate.admit("heavy", "coach") for _ in range(250)]
    assert all(d.allow and not d.degraded for d in decisions)
    started = time.monotonic()
    for decision in decisions:
        spend(gate, decision)
    assert time.monotonic() - started < 0.5, "report() must only queue"
    gate.flush()
    assert report_posts(server) == {"200": 3}
    assert usage_count(server) == 250
    stats = gate.stats
    assert stats["reports_sent"] == 250 and stats["reports_pending"] == 0
    assert stats["reports_dropped"] == stats["report_errors"] == 0


def test_a_lone_report_is_sent_within_the_flush_interval(server: LiveServer) -> None:
    with GateClient(server.url, server.app_key(), flush_interval=0.1) as gate:
        gate.register_user("ann")
        spend(gate, gate.admit("ann"))
        wait_until(lambda: gate.stats["reports_sent"] == 1, timeout=2)
        assert usage_count(server) == 1


def test_close_delivers_everything_queued(server: LiveServer) -> None:
    gate = GateClient(server.url, server.app_key(), batch_size=1000, flush_interval=60)
    gate.register_user("ann", tier="premium")
    decisions = [gate.admit("ann") for _ in range(30)]
    for decision in decisions:
        spend(gate, decision)
    assert usage_count(server) == 0 and gate.stats["reports_pending"] == 30
    gate.close()
    assert usage_count(server) == 30 and report_posts(server) == {"200": 1}
    assert gate.stats["reports_sent"] == 30
    spend(gate, decisions[0])  # after close: counted, not sent, no exception
    assert gate.stats["reports_dropped"] == 1
    gate.close()  # twice is harmless


def test_bad_reports_are_dropped_and_the_rest_resent(
    server: LiveServer, gate: GateClient, caplog: pytest.LogCaptureFixture
) -> None:
    gate.register_user("ann", tier="premium")
    first, second, third = (gate.admit("ann") for _ in range(3))
    spend(gate, first)
    gate.flush()
    for decision in (second, first, third, fake_decision()):  # first again: reported already
        spend(gate, decision)
    with caplog.at_level(logging.WARNING, logger="opsconsole.sdk"):
        gate.flush()
    assert usage_count(server) == 3
    stats = gate.stats
    assert (stats["reports_sent"], stats["reports_dropped"], stats["report_errors"]) == (3, 2, 1)
    assert report_posts(server) == {"200": 2, "422": 1}
    assert "refused 2 reports" in caplog.text and str(first.decision_id) in caplog.text


def test_reports_without_a_decision_id_are_skipped(server: LiveServer, gate: GateClient) -> None:
    spend(gate, gate.admit("nobody"))
    gate.flush()
    assert gate.stats["reports_skipped"] == 1 and report_posts(server) == {}
    with pytest.raises(ValueError, match="input_tokens"):
        gate.report(fake_decision(), input_tokens=-1, output_tokens=0, latency_ms=1.0)
    with pytest.raises(ValueError):
        gate.report(fake_decision(), input_tokens=1, output_tokens=0, latency_ms=1.0, status="meh")


@pytest.mark.parametrize(
    ("fail_mode", "allow", "provider", "reason"),
    [
        ("open", True, "backup", DenyReason.OK),
        (FailMode.CLOSED, False, None, DenyReason.NO_PROVIDER),
    ],
)
@pytest.mark.parametrize("endpoint", ["refused", "hung"])
def test_fail_mode_decides_within_the_timeout(
    fail_mode: str, allow: bool, provider: str | None, reason: DenyReason, endpoint: str
) -> None:
    timeout = 0.3
    with black_hole() as hung:
        url = hung if endpoint == "hung" else f"http://127.0.0.1:{free_port()}"
        with GateClient(
            url, "k", timeout=timeout, fail_mode=fail_mode, fallback_provider="backup"
        ) as gate:
            started = time.monotonic()
            decision = gate.admit("ann")
            elapsed = time.monotonic() - started
            assert decision == Decision(allow, provider, None, reason, degraded=True)
            assert elapsed < timeout + 0.25
            if endpoint == "hung":
                assert elapsed >= timeout * 0.9  # it did wait for an answer
            assert gate.stats["degraded"] == 1
            if endpoint == "refused":  # (a hung one takes the 5 s user-call timeout)
                with pytest.raises(GateUnavailable):
                    gate.register_user("ann")
            gate.close(timeout=0.1)


def test_fail_mode_raise_and_a_stopped_server(db_url: str, tmp_path: Path) -> None:
    with start_server(db_url, tmp_path / "a") as live:
        key = live.app_key()
        strict = GateClient(live.url, key, fail_mode="raise")
        lenient = GateClient(live.url, key)
        strict.register_user("ann")
        assert strict.admit("ann").allow and lenient.admit("ann").allow
    # The kept-alive connections now point at a server that is gone.
    with pytest.raises(GateUnavailable):
        strict.admit("ann")
    assert lenient.admit("ann").degraded
    assert strict.stats["degraded"] == 0 and lenient.stats["degraded"] == 1
    strict.close(timeout=0.1)
    lenient.close(timeout=0.1)


def test_reports_wait_for_a_server_that_comes_back(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    with serve_at(db_url, tmp_path / "a", port) as first:
        key = first.app_key()
        gate = GateClient(first.url, key, flush_interval=0.05)
        gate.register_user("ann", tier="premium")
        decisions = [gate.admit("ann") for _ in range(5)]
        first.gate_flush()
    for decision in decisions:
        spend(gate, decision)
    wait_until(lambda: gate.stats["report_errors"] >= 2)
    assert gate.stats["reports_pending"] == 5
    with serve_at(db_url, tmp_path / "b", port) as second:
        gate.flush(timeout=10)
        assert usage_count(second) == 5
        assert gate.stats["reports_sent"] == 5 and gate.stats["reports_dropped"] == 0
        gate.close()


def test_a_full_buffer_drops_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    gate = GateClient(url, "k", batch_size=10, max_buffer=10, flush_interval=60)
    with caplog.at_level(logging.WARNING, logger="opsconsole.sdk"):
        for n in range(15):
            spend(gate, fake_decision(f"d{n}"))
    assert gate.stats["reports_dropped"] >= 5 and "buffer full" in caplog.text
    gate.close(timeout=0.2)
    stats = gate.stats
    assert stats["reports_dropped"] == 15 and stats["reports_pending"] == 0
    assert stats["reports_sent"] == 0


def test_refused_batch_is_dropped_not_retried(server: LiveServer) -> None:
    with GateClient(server.url, "not-a-key") as gate:
        spend(gate, fake_decision())
        gate.flush(timeout=5)
        assert gate.stats["reports_dropped"] == 1 and gate.stats["report_errors"] == 1
    assert report_posts(server) == {"401": 1}


def test_fifty_threads_share_one_client(server: LiveServer) -> None:
    # A generous timeout: this is about correctness under concurrency, not latency.
    gate = GateClient(server.url, server.app_key(), timeout=5)
    gate.register_user("heavy", tier="unlimited")
    heavy_user(server, admin_of(server), "heavy", 100)

    def burst(_: int) -> int:
        admitted = 0
        for _ in range(4):
            decision = gate.admit("heavy", "voice")
            if decision.allow:
                spend(gate, decision)
                admitted += 1
        return admitted

    with ThreadPoolExecutor(max_workers=50) as pool:
        assert sum(pool.map(burst, range(50))) == 100
    gate.close()
    stats = gate.stats
    assert stats["admits"] == 200 and stats["degraded"] == 0
    assert stats["reports_sent"] == 100 and usage_count(server) == 100


def test_reports_are_flushed_at_interpreter_exit(server: LiveServer) -> None:
    script = f"""
from opsconsole.sdk import GateClient
gate = GateClient({server.url!r}, {server.app_key()!r}, flush_interval=60, batch_size=1000)
gate.register_user("ann", tier="premium")
for _ in range(7):
    gate.report(gate.admit("ann"), input_tokens=10, output_tokens=5, latency_ms=100.0)
assert gate.stats["reports_pending"] == 7
# no close(): the atexit hook must deliver them
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert usage_count(server) == 7


def test_register_users_in_one_batch(server: LiveServer, gate: GateClient) -> None:
    users = [{"id": f"b{i}", "tier": "premium", "email": None} for i in range(1000)]
    assert gate.register_users(users) == {"created": 1000, "updated": 0, "unchanged": 0}
    assert gate.admit("b999").provider == "gemini-flash"
    again = gate.register_users([{"id": "b1", "tier": "unlimited"}, {"id": "b2"}])
    assert again == {"created": 0, "updated": 1, "unchanged": 1}
    with pytest.raises(GateError) as refused:
        gate.register_users([{"id": "b3", "tier": "platinum"}])
    assert refused.value.status == 422
    with pytest.raises(ValueError, match="1 to 1000"):
        gate.register_users([{"id": f"c{i}"} for i in range(1001)])
