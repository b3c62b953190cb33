"""`opsconsole serve` in a child process for the benches that measure over HTTP.

The server gets its own interpreter, as in production, so the load generator and the server do
not share a GIL; both share this machine's cores, which the benches' figures state.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_S = 60


@dataclass(frozen=True)
class ServerProcess:
    url: str
    pid: int  # for reading its CPU time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(
    db_url: str, data_dir: Path, *, env: Mapping[str, str]
) -> Iterator[ServerProcess]:
    """A plain-HTTP server on a free loopback port, with ``env`` added to this environment;
    stopped (SIGTERM, then waited for) on leaving."""
    port = free_port()
    command = [
        sys.executable, "-m", "opsconsole.cli", "serve", "--insecure-http",
        "--db", db_url, "--data-dir", str(data_dir), "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, url)
        yield ServerProcess(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the server did not start: {error[-2000:]}")
        time.sleep(0.1)
