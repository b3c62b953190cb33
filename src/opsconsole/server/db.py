"""The store: SQLAlchemy engine and sessions for SQLite (WAL) and PostgreSQL.

Two kinds of session share one engine. Read sessions are plain transactions. Write sessions
take the database's write lock when they begin (SQLite `BEGIN IMMEDIATE`), so a transaction
that reads and then writes never fails half way because another writer got in between; on
PostgreSQL, ordinary transactions plus the audit chain's advisory lock do the same job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger("opsconsole.db")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL makes every commit durable when acknowledged: audit rows and operator actions
        # must survive a power cut; usage events amortise the fsync by committing in batches.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


EVENTS_KEY = "opsconsole.events"


def emit(session: Session, item: object) -> None:
    """Queue ``item`` for the database's commit listeners; dropped if the session rolls back."""
    session.info.setdefault(EVENTS_KEY, []).append(item)


class Database:
    """An engine with its read and write session factories.

    Things a transaction emits (`emit`) reach the `on_commit` listeners only once it has
    committed: the audit row of a change, for example, is what tells the gate to reload a user
    and (later) what the live stream shows.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(write=True), expire_on_commit=False
        )
        self._listeners: list[Callable[[list[object]], None]] = []
        event.listen(self._write, "after_commit", self._after_commit)
        event.listen(self._write, "after_soft_rollback", self._after_rollback)

    def on_commit(self, listener: Callable[[list[object]], None]) -> None:
        self._listeners.append(listener)

    def _after_commit(self, session: Session) -> None:
        items = session.info.pop(EVENTS_KEY, None)
        if not items:
            return
        for listener in self._listeners:
            try:
                listener(items)
            except Exception:  # a listener's bug must not fail the committed request
                log.exception("commit listener failed")

    def _after_rollback(self, session: Session, _previous: object) -> None:
        session.info.pop(EVENTS_KEY, None)

    def read_session(self) -> Session:
        return self._read()

    def write_session(self) -> Session:
        return self._write()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction that commits on success and rolls back on any error."""
        with self.write_session() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.read_session() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
