"""Group commit: rows from many requests written in one transaction by one background thread.

A usage report is acknowledged only once its rows are committed, so callers await the future
`submit` returns; decisions are written the same way without anyone waiting (`submit_nowait`).
Batching turns thousands of small fsyncs per second into a few dozen: whatever queued up while
the last commit waited for the disk goes into the next one.

Rows travel as tuples in a table's column order and are written with the driver's own
`executemany` on the transaction's connection: SQLAlchemy's ORM bulk insert spent more time in
Python per row (building parameter dicts, running bind processors) than SQLite spent storing
it, and all of that held the GIL the event loop needs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table

from opsconsole.server.db import Database, UtcDateTime

log = logging.getLogger("opsconsole.gate.writer")

Row = tuple[Any, ...]


@dataclass(frozen=True)
class TableSpec:
    """A table the writer inserts into, and the order of the values in each row tuple."""

    table: Table
    columns: tuple[str, ...]


@dataclass(slots=True)
class _Job:
    spec: TableSpec | None  # None: a flush marker, written as nothing but kept in order
    rows: Sequence[Row]
    done: Future[None] | None


@dataclass(frozen=True)
class _Statement:
    sql: str
    # (position, conversion) for the columns the driver cannot take as they are: aware
    # datetimes, stored as naive UTC (text on SQLite) the way `UtcDateTime` does.
    convert: tuple[tuple[int, Callable[[Any], Any]], ...]


class GroupCommitWriter:
    def __init__(self, db: Database, *, max_delay_s: float = 0.02, max_rows: int = 5000) -> None:
        self.db = db
        self.max_delay_s = max_delay_s
        self.max_rows = max_rows
        self._engine = db.engine.execution_options(write=True)
        self._statements: dict[TableSpec, _Statement] = {}
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="opsconsole-writer", daemon=True)
        self._thread.start()
        self.batches = 0
        self.rows_written = 0

    def submit(self, spec: TableSpec, rows: Sequence[Row]) -> Future[None]:
        """Queue ``rows``; the future completes once they are committed (or fails with why)."""
        done: Future[None] = Future()
        if rows:
            self._jobs.put(_Job(spec, rows, done))
        else:
            done.set_result(None)
        return done

    def submit_nowait(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        """Queue ``rows`` that nobody waits for (a failure is logged)."""
        if rows:
            self._jobs.put(_Job(spec, rows, None))

    def flush(self, timeout: float = 30) -> None:
        """Block until everything submitted before this call is committed."""
        self.submit_marker().result(timeout)

    def submit_marker(self) -> Future[None]:
        done: Future[None] = Future()
        self._jobs.put(_Job(None, (), done))
        return done

    def close(self, timeout: float = 30) -> None:
        """Write everything submitted so far, then stop."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                break
            batch, stopping = self._gather(first)
            self._write(batch)
            if stopping:
                break

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """``first`` and what else is queued, for one transaction.

        While a commit waits for the disk, the next requests queue up, so taking whatever is
        there is enough to batch under load. Only when nobody waits for the rows (decisions)
        does it linger a little, to save transactions when traffic is light.
        """
        batch = [first]
        count = len(first.rows)
        waited = first.done is not None
        deadline = time.monotonic() + self.max_delay_s
        while count < self.max_rows:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if waited or remaining <= 0:
                    break
                try:
                    job = self._jobs.get(timeout=remaining)
                except queue.Empty:
                    break
            if job is None:
                return batch, True
            batch.append(job)
            count += len(job.rows)
            waited = waited or job.done is not None
        return batch, False

    def _write(self, batch: list[_Job]) -> None:
        by_table: dict[TableSpec, list[Row]] = {}
        for job in batch:
            if job.spec is not None and job.rows:
                by_table.setdefault(job.spec, []).extend(job.rows)
        try:
            if by_table:
                with self._engine.begin() as connection:
                    cursor = connection.connection.cursor()
                    try:
                        for spec, rows in by_table.items():
                            statement = self._statement(spec)
                            cursor.executemany(statement.sql, _converted(rows, statement))
                    finally:
                        cursor.close()
        except Exception as error:
            log.exception("group commit of %d jobs failed", len(batch))
            for job in batch:
                if job.done is not None:
                    job.done.set_exception(error)
            return
        self.batches += 1
        self.rows_written += sum(len(rows) for rows in by_table.values())
        for job in batch:
            if job.done is not None:
                job.done.set_result(None)

    def _statement(self, spec: TableSpec) -> _Statement:
        statement = self._statements.get(spec)
        if statement is None:
            statement = self._statements[spec] = _prepare(spec, self._engine.dialect)
        return statement


def _prepare(spec: TableSpec, dialect: Any) -> _Statement:
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if marker is None:
        raise RuntimeError(f"the gate's writer does not know paramstyle {dialect.paramstyle}")
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(name) for name in spec.columns)
    values = ", ".join([marker] * len(spec.columns))
    # Names come from our table definitions, quoted by the dialect; values are bound.
    sql = f"INSERT INTO {preparer.format_table(spec.table)} ({names}) VALUES ({values})"  # noqa: S608
    # Only the aware datetimes need converting: the drivers take str, int, float and bool.
    to_db = _sqlite_text if dialect.name == "sqlite" else _naive_utc
    convert = tuple(
        (position, to_db)
        for position, name in enumerate(spec.columns)
        if isinstance(spec.table.c[name].type, UtcDateTime)
    )
    return _Statement(sql, convert)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_text(value: datetime) -> str:
    """What SQLAlchemy's SQLite DATETIME stores (and `UtcDateTime` reads back as UTC)."""
    if value.tzinfo is UTC:  # the gate's clocks give UTC: skip the conversion
        return value.isoformat(" ", "microseconds")[:26]
    return _naive_utc(value).isoformat(" ", "microseconds")


def _converted(rows: list[Row], statement: _Statement) -> list[Row] | list[list[Any]]:
    if not statement.convert:
        return rows
    out = []
    # The rows of one report batch share their `at`: convert each distinct object once.
    last: dict[int, tuple[Any, Any]] = {}
    for row in rows:
        values = list(row)
        for position, convert in statement.convert:
            value = values[position]
            if value is None:
                continue
            seen = last.get(position)
            if seen is not None and seen[0] is value:
                values[position] = seen[1]
            else:
                values[position] = converted = convert(value)
                last[position] = (value, converted)
        out.append(values)
    return out
