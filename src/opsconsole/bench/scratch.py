"""Scratch databases for benches: a temporary SQLite file, or a new database on a PostgreSQL
server that is dropped afterwards (so a bench never touches real data)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsconsole.server import migrate
from opsconsole.server.db import Database


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[Database]:
    """A migrated, empty database; ``server_url`` names a PostgreSQL server, None is SQLite."""
    if server_url is None or server_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="opsconsole-bench-") as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            migrate.upgrade(db.engine)
            try:
                yield db
            finally:
                db.dispose()
        return
    name = f"opsconsole_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(server_url).set(database=name).render_as_string(hide_password=False))
    try:
        migrate.upgrade(db.engine)
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
