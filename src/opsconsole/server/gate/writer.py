"""Group commit: rows from many requests written in one transaction by one background thread.

A usage report is acknowledged only once its rows are committed, so callers await the future
`submit` returns; decisions are written the same way without anyone waiting. Batching turns
thousands of small fsyncs per second into a few dozen.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from opsconsole.server.db import Base, Database

log = logging.getLogger("opsconsole.gate.writer")


class _Marker(Base):
    """Not a table anyone writes: the type of the flush marker job."""

    __abstract__ = True


@dataclass
class _Job:
    table: type[Base]
    rows: list[dict[str, Any]]
    done: Future[None] = field(default_factory=Future)


class GroupCommitWriter:
    def __init__(self, db: Database, *, max_delay_s: float = 0.005, max_rows: int = 5000) -> None:
        self.db = db
        self.max_delay_s = max_delay_s
        self.max_rows = max_rows
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="opsconsole-writer", daemon=True)
        self._thread.start()
        self.batches = 0
        self.rows_written = 0

    def submit(self, table: type[Base], rows: list[dict[str, Any]]) -> Future[None]:
        job = _Job(table, rows)
        if rows:
            self._jobs.put(job)
        else:
            job.done.set_result(None)
        return job.done

    def flush(self, timeout: float = 30) -> None:
        """Block until everything submitted before this call is committed."""
        self.submit_marker().result(timeout)

    def submit_marker(self) -> Future[None]:
        # An empty insert is a no-op that still goes through the queue in order.
        job = _Job(_Marker, [])
        self._jobs.put(job)
        return job.done

    def close(self, timeout: float = 30) -> None:
        """Write everything submitted so far, then stop."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                break
            batch = [first]
            count = len(first.rows)
            # Gather what arrives within a few milliseconds into the same transaction.
            while count < self.max_rows:
                try:
                    job = self._jobs.get(timeout=self.max_delay_s)
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
                count += len(job.rows)
            self._write(batch)

    def _write(self, batch: list[_Job]) -> None:
        by_table: dict[type[Base], list[dict[str, Any]]] = {}
        for job in batch:
            if job.rows:
                by_table.setdefault(job.table, []).extend(job.rows)
        try:
            with self.db.writing() as session:
                for table, rows in by_table.items():
                    session.execute(insert(table), rows)
        except Exception as error:
            log.exception("group commit of %d jobs failed", len(batch))
            for job in batch:
                job.done.set_exception(error)
            return
        self.batches += 1
        self.rows_written += sum(len(job.rows) for job in batch)
        for job in batch:
            job.done.set_result(None)
