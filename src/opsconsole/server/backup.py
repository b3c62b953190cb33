"""Online backup of a SQLite control-plane database while the server keeps serving.

SQLite's backup API copies the database page by page in short steps, so writers are only
paused for a step at a time; the copy is a consistent snapshot, checked before it is kept.
PostgreSQL is backed up with its own tools (`pg_dump`), as the deployment guide says.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PAGES_PER_STEP = 1024


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    pages: int
    seconds: float


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database:
        raise BackupError(
            "`db backup` copies SQLite databases; back up PostgreSQL with pg_dump "
            "(see the deployment guide)"
        )
    return Path(url.database)


def backup_sqlite(
    database_url: str,
    destination: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> BackupResult:
    """Copy the live database to `destination` (which must not exist) and verify the copy.

    `progress(copied_pages, total_pages)` is called after every step.
    """
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"there is no database at {source_path}")
    if destination.exists():
        raise BackupError(f"{destination} exists already; choose a new file name")
    partial = destination.with_name(destination.name + ".partial")
    started = time.perf_counter()
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(partial)
    try:

        def step(status: int, remaining: int, total: int) -> None:
            del status
            if progress is not None:
                progress(total - remaining, total)

        source.backup(target, pages=PAGES_PER_STEP, progress=step)
        # A backup of a WAL database is a standalone file: no -wal or -shm beside it.
        target.execute("PRAGMA journal_mode=DELETE")
        check = target.execute("PRAGMA integrity_check").fetchone()
        pages = int(target.execute("PRAGMA page_count").fetchone()[0])
    finally:
        target.close()
        source.close()
    if check is None or check[0] != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {check}")
    partial.rename(destination)
    return BackupResult(
        path=destination,
        bytes=destination.stat().st_size,
        pages=pages,
        seconds=time.perf_counter() - started,
    )
