"""`opsconsole db backup`: a consistent copy of a live SQLite database that a server can
start from, taken while the server keeps accepting writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.live import LiveServer, start_server


def opsconsole(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsconsole.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def sqlite_server(sqlite_template: Path, tmp_path: Path) -> LiveServer:  # type: ignore[misc]
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    with start_server(f"sqlite:///{path}", tmp_path / "data") as live:
        yield live


def test_backup_under_writes_is_consistent_and_a_server_starts_from_it(
    sqlite_server: LiveServer, tmp_path: Path
) -> None:
    live = sqlite_server
    key = live.app_key()
    app = live.client(key)
    for n in range(50):
        assert app.put(f"/v1/users/before-{n}", json={"tier": "premium"}).status_code in (200, 201)

    stop = threading.Event()
    written: list[str] = []

    def keep_writing() -> None:
        writer = live.client(key)
        n = 0
        while not stop.is_set():
            if writer.put(f"/v1/users/during-{n}", json={}).status_code in (200, 201):
                written.append(f"during-{n}")
            n += 1

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        backup = tmp_path / "backup.db"
        result = opsconsole("db", "backup", "--db", live.settings.database_url, str(backup))
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    assert "integrity check ok" in result.stdout
    assert written, "the server kept serving writes during the backup"
    assert not backup.with_name("backup.db-wal").exists()

    with start_server(f"sqlite:///{backup}", tmp_path / "restored") as restored:
        admin = restored.operator("restorer")
        users = {u["id"] for u in admin.get("/v1/users", params={"limit": 500}).json()["items"]}
        assert {f"before-{n}" for n in range(50)} <= users
        # Whatever the copy holds of the writes during it is whole: the audit chain verifies.
        verify = admin.get("/v1/audit/verify").json()
        assert verify["ok"], verify
    audit = opsconsole("audit", "verify", "--db", f"sqlite:///{backup}")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_backup_refuses_to_overwrite_and_explains_postgresql(tmp_path: Path) -> None:
    existing = tmp_path / "taken.db"
    existing.write_bytes(b"keep me")
    db = tmp_path / "x.db"
    db.write_bytes(b"")
    result = opsconsole("db", "backup", "--db", f"sqlite:///{db}", str(existing))
    assert result.returncode == 2
    assert "exists already" in result.stderr
    assert existing.read_bytes() == b"keep me"

    pg = opsconsole(
        "db", "backup", "--db", "postgresql+psycopg://u@127.0.0.1/x", str(tmp_path / "p")
    )
    assert pg.returncode == 2
    assert "pg_dump" in pg.stderr
