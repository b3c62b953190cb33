"""Writing, reading and verifying the audit log.

:func:`record` is the one helper every state change goes through: it adds the audit row to the
caller's transaction, so the change and its record commit together or not at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from opsconsole.server.audit.models import AuditRow
from opsconsole.server.db import emit
from opsconsole.server.pagination import bad_cursor, decode_cursor, encode_cursor
from opsconsole.wire.audit import AuditEntry, AuditVerifyResult, ChainBreak

GENESIS_HASH = "0" * 64
# Keys whose values never enter the log, whatever a caller passes in a summary.
_SECRET_MARKERS = ("password", "token", "totp", "secret", "key_hash", "api_key")
_CHAIN_LOCK_ID = 0x6F707363  # "opsc": serialises audit appends across PostgreSQL replicas


@dataclass(frozen=True)
class Actor:
    """Who caused a change, as the audit log names them."""

    type: str  # operator, app, automation, system
    name: str
    client_addr: str | None = None
    impersonated_user: str | None = None

    @property
    def label(self) -> str:
        return f"{self.type}:{self.name}"


SYSTEM = Actor("system", "opsconsole")
AUTOMATION = Actor("automation", "automation")


def scrub(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The summary without anything that looks like a secret."""
    if summary is None:
        return None
    clean: dict[str, Any] = {}
    for key, value in summary.items():
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            continue
        clean[key] = scrub(value) if isinstance(value, dict) else value
    return clean


def _dump(summary: dict[str, Any] | None) -> str | None:
    if summary is None:
        return None
    return json.dumps(scrub(summary), sort_keys=True, separators=(",", ":"), default=str)


def row_hash(row: AuditRow) -> str:
    """SHA-256 over the previous hash and this row's content.

    The sequence number is left out on purpose: a row moved to another place still hashes
    the same, so verification can tell a reordering from an edit.
    """
    payload = {
        "at": row.at.isoformat(),
        "actor_type": row.actor_type,
        "actor": row.actor,
        "impersonated_user": row.impersonated_user,
        "action": row.action,
        "target": row.target,
        "before": row.before,
        "after": row.after,
        "client_addr": row.client_addr,
    }
    content = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((row.prev_hash + content).encode()).hexdigest()


def _lock_chain(session: Session) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CHAIN_LOCK_ID})
    elif connection.dialect.name == "sqlite" and not connection.get_execution_options().get(
        "write"
    ):
        # A deferred SQLite transaction could read a stale chain head; writes must begin
        # with the write lock held (Database.write_session).
        raise RuntimeError("audit rows must be written in a write session")


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    target: str,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRow:
    """Add an audit row to the session's transaction, chained to the current head."""
    _lock_chain(session)
    head = session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    row = AuditRow(
        seq=seq,
        at=at,
        actor_type=actor.type,
        actor=actor.name,
        impersonated_user=actor.impersonated_user,
        action=action,
        target=target,
        before=_dump(before),
        after=_dump(after),
        client_addr=actor.client_addr,
        prev_hash=prev_hash,
    )
    row.hash = row_hash(row)
    session.add(row)
    session.flush()
    emit(session, row)
    return row


def to_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor_type=row.actor_type,
        actor=row.actor,
        impersonated_user=row.impersonated_user,
        action=row.action,
        target=row.target,
        before=json.loads(row.before) if row.before else None,
        after=json.loads(row.after) if row.after else None,
        client_addr=row.client_addr,
        hash=row.hash,
    )


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[AuditRow]) -> Select[AuditRow]:
        if self.actor:
            query = query.where(AuditRow.actor == self.actor)
        if self.action:
            # "users." matches every user action; a full name matches one.
            if self.action.endswith("."):
                query = query.where(AuditRow.action.startswith(self.action, autoescape=True))
            else:
                query = query.where(AuditRow.action == self.action)
        if self.target:
            query = query.where(AuditRow.target == self.target)
        if self.since:
            query = query.where(AuditRow.at >= self.since)
        if self.until:
            query = query.where(AuditRow.at < self.until)
        return query


def list_entries(
    *, session: Session, filters: AuditFilter, cursor: str | None, limit: int
) -> tuple[list[AuditEntry], str | None]:
    """Newest first, one page."""
    query = filters.apply(select(AuditRow))
    key = decode_cursor(cursor, "seq")
    if key is not None:
        if not isinstance(key["seq"], int):
            raise bad_cursor()
        query = query.where(AuditRow.seq < key["seq"])
    rows = list(session.scalars(query.order_by(AuditRow.seq.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(seq=rows[limit - 1].seq) if len(rows) > limit else None
    return [to_entry(row) for row in rows[:limit]], next_cursor


EXPORT_COLUMNS = [
    "seq",
    "at",
    "actor_type",
    "actor",
    "impersonated_user",
    "action",
    "target",
    "before",
    "after",
    "client_addr",
    "hash",
]


def export_lines(
    *, session: Session, filters: AuditFilter, fmt: str, batch: int = 1000
) -> Iterator[str]:
    """The filtered log, oldest first, as CSV or JSON Lines, read in batches."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        yield buffer.getvalue()
    last = 0
    while True:
        query = filters.apply(select(AuditRow)).where(AuditRow.seq > last)
        rows = list(session.scalars(query.order_by(AuditRow.seq).limit(batch)))
        if not rows:
            return
        for row in rows:
            entry = to_entry(row).model_dump(mode="json")
            if fmt == "csv":
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow(
                    json.dumps(entry[c], sort_keys=True)
                    if isinstance(entry[c], dict)
                    else ("" if entry[c] is None else entry[c])
                    for c in EXPORT_COLUMNS
                )
                yield buffer.getvalue()
            else:
                yield json.dumps(entry, sort_keys=True) + "\n"
        last = rows[-1].seq


def verify_chain(*, session: Session, batch: int = 5000) -> AuditVerifyResult:
    """Walk the chain in sequence order and name the first row that breaks it.

    A row whose content no longer matches its hash was edited. A gap in the sequence, or a
    link to a row that exists nowhere, means rows were removed; a link to a row that exists
    elsewhere in the log means rows were reordered. Rows cut from the end leave no trace
    inside the log: compare ``head_seq`` and ``head_hash`` with a copy kept elsewhere.
    """
    first_break: ChainBreak | None = None
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    head: tuple[int, str] | None = None
    while True:
        rows = list(
            session.scalars(
                select(AuditRow)
                .where(AuditRow.seq >= expected_seq)
                .order_by(AuditRow.seq)
                .limit(batch)
            )
        )
        if not rows:
            break
        for row in rows:
            checked += 1
            if first_break is None:
                first_break = _check_row(session, row, expected_seq, prev_hash)
            expected_seq, prev_hash = row.seq + 1, row.hash
            head = (row.seq, row.hash)
        session.expunge_all()
    return AuditVerifyResult(
        ok=first_break is None,
        rows_checked=checked,
        head_seq=head[0] if head else None,
        head_hash=head[1] if head else None,
        first_break=first_break,
    )


def _check_row(
    session: Session, row: AuditRow, expected_seq: int, prev_hash: str
) -> ChainBreak | None:
    if row_hash(row) != row.hash:
        return ChainBreak(
            seq=row.seq,
            kind="edited",
            detail=f"row {row.seq} does not match its hash: its content was changed",
        )
    if row.seq != expected_seq:
        return ChainBreak(
            seq=expected_seq,
            kind="removed",
            detail=f"rows {expected_seq} to {row.seq - 1} are missing",
        )
    if row.prev_hash == prev_hash:
        return None
    predecessor = session.scalar(select(AuditRow.seq).where(AuditRow.hash == row.prev_hash))
    if predecessor is None:
        return ChainBreak(
            seq=row.seq,
            kind="removed",
            detail=f"the row written before row {row.seq} is gone and the rest renumbered",
        )
    return ChainBreak(
        seq=row.seq,
        kind="reordered",
        detail=f"row {row.seq} was written after row {predecessor}, not after row "
        f"{row.seq - 1}: rows were reordered",
    )
