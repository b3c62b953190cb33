"""Graceful shutdown of `opsconsole serve`: on SIGTERM nothing the server acknowledged is lost.

The server runs as a real process; the test sends it admits and usage reports from several
threads, stops it with SIGTERM in the middle of the traffic, and then reads the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from opsconsole.server.db import Database
from opsconsole.server.gate.models import DecisionRow, UsageEvent
from tests.sdk.helpers import free_port

pytestmark = pytest.mark.slow


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "opsconsole.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def start(db_url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opsconsole.cli",
            "serve",
            "--insecure-http",
            "--db",
            db_url,
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "OPSCONSOLE_GATE_GLOBAL_RPM": "1000000"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("the server did not start")


def test_sigterm_mid_traffic_loses_no_acknowledged_decision_or_report(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'ops.db'}"
    data_dir = tmp_path / "data"
    cli("db", "upgrade", "--db", db_url)
    key = cli("admin", "create-app-key", "backend", "--db", db_url).strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(db_url, data_dir, port)

    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers) as setup:
        for n in range(8):
            response = setup.put(f"/v1/users/u-{n}", json={"tier": "unlimited"})
            assert response.status_code in (200, 201), response.text

    admitted: list[str] = []
    reported: list[str] = []
    sent: dict[str, dict[str, object]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def traffic(n: int) -> None:
        client = httpx.Client(base_url=url, headers=headers, timeout=10)
        while not stop.is_set():
            try:
                answer = client.post("/v1/gate/admit", json={"user_id": f"u-{n}", "feature": "x"})
                if answer.status_code != 200 or not answer.json()["allow"]:
                    continue
                decision = answer.json()
                with lock:
                    admitted.append(decision["decision_id"])
                report = {
                    "decision_id": decision["decision_id"],
                    "provider": decision["provider"],
                    "model": decision["model"],
                    "input_tokens": 100,
                    "output_tokens": 50,
                    "latency_ms": 300,
                    "status": "ok",
                }
                if client.post("/v1/gate/report", json=report).status_code == 200:
                    with lock:
                        reported.append(decision["decision_id"])
                        sent[decision["decision_id"]] = report
            except httpx.HTTPError:
                return  # the server is going away: stop like an app would, keep what was acked
        client.close()

    threads = [threading.Thread(target=traffic, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(reported) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why
    # it stopped (systemd counts an exit by SIGTERM as clean).
    status = server.wait(timeout=30)
    assert status in (0, -signal.SIGTERM), server.stderr.read().decode() if server.stderr else ""
    stop.set()
    for thread in threads:
        thread.join()
    assert len(reported) >= 200

    db = Database(db_url)
    with db.reading() as session:
        decisions = set(session.scalars(select(DecisionRow.decision_id)))
        usage = set(session.scalars(select(UsageEvent.decision_id)))
    db.dispose()
    assert set(admitted) <= decisions, f"{len(set(admitted) - decisions)} acked admits lost"
    assert set(reported) <= usage, f"{len(set(reported) - usage)} acked reports lost"

    # And the restarted server still knows them: a duplicate report is refused.
    server = start(db_url, data_dir, port)
    try:
        with httpx.Client(base_url=url, headers=headers) as client:
            duplicate = client.post("/v1/gate/report", json=sent[reported[0]])
            assert duplicate.status_code == 422, duplicate.text
            assert reported[0] in duplicate.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sigterm_tells_open_consoles_the_server_is_restarting(tmp_path: Path) -> None:
    import asyncio
    import json

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from tests.live import DEFAULT_PASSWORD

    db_url = f"sqlite:///{tmp_path / 'ops.db'}"
    cli("db", "upgrade", "--db", db_url)
    subprocess.run(
        [sys.executable, "-m", "opsconsole.cli", "admin", "create-operator", "alice",
         "--role", "viewer", "--password-stdin", "--db", db_url],
        input=DEFAULT_PASSWORD + "\n", text=True, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    server = start(db_url, tmp_path / "data", port)
    token = httpx.post(
        f"http://127.0.0.1:{port}/v1/auth/login",
        json={"username": "alice", "password": DEFAULT_PASSWORD},
    ).json()["token"]

    async def console() -> tuple[list[dict[str, object]], int | None]:
        seen: list[dict[str, object]] = []
        async with connect(
            f"ws://127.0.0.1:{port}/v1/stream",
            additional_headers={"Authorization": f"Bearer {token}"},
        ) as ws:
            seen.append(json.loads(await ws.recv()))  # hello
            server.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    async for raw in ws:
                        seen.append(json.loads(raw))
            except ConnectionClosed:
                pass
            return seen, ws.close_code

    seen, code = asyncio.run(console())
    assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    assert seen[0]["type"] == "hello"
    bye = seen[-1]
    assert bye["type"] == "bye", seen
    assert bye["data"]["kind"] == "server-restarting"  # type: ignore[index]
    assert code == 1012  # "service restart": reconnect later
