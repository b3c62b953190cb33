"""`opsconsole bench foundation`: login latency and audit-write latency on a real store."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from opsconsole.bench.scratch import scratch_database
from opsconsole.bench.stats import summary, timed
from opsconsole.server.app import create_app
from opsconsole.server.audit.service import SYSTEM, record
from opsconsole.server.auth.service import create_operator
from opsconsole.server.clock import SystemClock
from opsconsole.server.embedded import serve_in_thread
from opsconsole.server.settings import Settings
from opsconsole.wire.common import Role

PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway bench operator


def run(*, db_url: str | None, repeat: int, out: Callable[[str], None]) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="opsconsole-bench-") as tmp,
        scratch_database(db_url) as db,
    ):
        settings = Settings(data_dir=Path(tmp), db=db.url, insecure_http=True)
        app = create_app(settings, db=db)
        clock = SystemClock()
        with db.writing() as session:
            for name in ("bench-admin", "bench-target"):
                create_operator(
                    session=session,
                    username=name,
                    role=Role.ADMIN if name == "bench-admin" else Role.VIEWER,
                    password=PASSWORD,
                    actor=SYSTEM,
                    now=clock.now(),
                )
        out(f"store: {db.url.split('@')[-1]}")

        def write_audit_row() -> None:
            with db.writing() as session:
                record(
                    session=session,
                    actor=SYSTEM,
                    action="bench.write",
                    target="bench",
                    at=clock.now(),
                    after={"n": 1},
                )

        out(summary("audit row, in process (commit, durable)", timed(write_audit_row, repeat)))
        with serve_in_thread(app) as base, httpx.Client(base_url=base) as client:
            body = {"username": "bench-admin", "password": PASSWORD}

            def login() -> None:
                client.post("/v1/auth/login", json=body).raise_for_status()

            out(summary("login over HTTP (argon2id m=19 MiB t=2)", timed(login, repeat)))
            token = client.post("/v1/auth/login", json=body).json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            client.post("/v1/auth/step-up", json={"password": PASSWORD}).raise_for_status()
            roles = iter(["oncall", "viewer"] * repeat)

            def audited_change() -> None:
                patch = {"role": next(roles)}
                client.patch("/v1/operators/bench-target", json=patch).raise_for_status()

            out(summary("audited operator change over HTTP", timed(audited_change, repeat)))
