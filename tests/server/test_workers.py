"""`opsconsole serve --workers N`: several processes on one machine, one truth in Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_ENV, postgres_clone
from tests.live import DEFAULT_PASSWORD
from tests.sdk.helpers import free_port

REDIS_ENV = "OPSCONSOLE_TEST_REDIS_URL"

pytestmark = pytest.mark.slow


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsconsole.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if not os.environ.get(POSTGRES_ENV) or not os.environ.get(REDIS_ENV):
        pytest.skip(f"needs both {POSTGRES_ENV} and {REDIS_ENV}: workers share both")
    with postgres_clone(request.getfixturevalue("postgres_template")) as url:
        yield url


def test_workers_without_redis_are_refused_with_the_reason(tmp_path: Path) -> None:
    result = cli("serve", "--workers", "2", "--insecure-http", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--workers needs --redis" in result.stderr


def test_two_workers_share_one_quota_through_redis(pg_url: str, tmp_path: Path) -> None:
    redis_url = os.environ[REDIS_ENV]
    prefix = f"opsconsole-workers-{uuid.uuid4().hex[:8]}:"
    key = cli("admin", "create-app-key", "backend", "--db", pg_url).stdout.strip().splitlines()[-1]
    made = cli(
        "admin", "create-operator", "root", "--role", "admin", "--password-stdin", "--db", pg_url,
        stdin=DEFAULT_PASSWORD + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opsconsole.cli",
            "serve",
            "--insecure-http",
            "--workers",
            "2",
            "--db",
            pg_url,
            "--redis",
            redis_url,
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "OPSCONSOLE_REDIS_PREFIX": prefix},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)

        app = {"Authorization": f"Bearer {key}"}
        assert httpx.put(f"{url}/v1/users/heavy", json={"tier": "unlimited"}, headers=app)
        token = httpx.post(
            f"{url}/v1/auth/login", json={"username": "root", "password": DEFAULT_PASSWORD}
        ).json()["token"]
        override = httpx.patch(
            f"{url}/v1/users/heavy",
            json={"quota_daily_requests": 30, "rate_per_minute": 100_000},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert override.status_code == 200, override.text

        def one(_: int) -> bool:
            # A new connection each time, so the kernel spreads them over both workers.
            answer = httpx.post(
                f"{url}/v1/gate/admit", json={"user_id": "heavy", "feature": "x"}, headers=app
            )
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["allow"])

        with ThreadPoolExecutor(16) as pool:
            allowed = sum(pool.map(one, range(80)))
        assert allowed == 30
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
