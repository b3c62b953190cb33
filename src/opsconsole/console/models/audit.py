"""The audit log as a table, newest first: pages fetched from the server, older pages added at
the bottom, live rows from the stream added at the top; and the filter the server applies,
repeated here so live rows can be held to it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsconsole.console.models.base import RowsTable
from opsconsole.console.qt import QColor, QModelIndex
from opsconsole.wire.audit import AuditEntry

SEQ, AT, ACTOR, ACTION, TARGET, CHANGE, CLIENT = range(7)
HEADERS = ("Seq", "Time", "Actor", "Action", "Target", "Change", "Client")
SYSTEM_COLOUR = QColor("#6e7781")
CHANGE_MAX = 160  # characters of the change summary in the cell; the tooltip has it all


@dataclass(frozen=True)
class AuditQuery:
    """The server's audit filters (``server/audit/service.py:AuditFilter``): actor, target
    exact; action exact, or a family when it ends in a dot (``users.``); ``[since, until)``."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.actor:
            params["actor"] = self.actor
        if self.action:
            params["action"] = self.action
        if self.target:
            params["target"] = self.target
        if self.since is not None:
            params["from"] = self.since.isoformat()
        if self.until is not None:
            params["to"] = self.until.isoformat()
        return params

    def matches(self, entry: AuditEntry) -> bool:
        if self.actor and entry.actor != self.actor:
            return False
        if self.action:
            family = self.action.endswith(".")
            if (family and not entry.action.startswith(self.action)) or (
                not family and entry.action != self.action
            ):
                return False
        if self.target and entry.target != self.target:
            return False
        if self.since is not None and entry.at < self.since:
            return False
        return self.until is None or entry.at < self.until


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def change_summary(entry: AuditEntry) -> str:
    """``role: support → billing; reason: "…"``: what the row changed, in one line."""
    before, after = entry.before or {}, entry.after or {}
    parts = []
    for key in sorted(set(before) | set(after)):
        if key in before and key in after:
            if before[key] != after[key]:
                parts.append(f"{key}: {_value(before[key])} → {_value(after[key])}")
        elif key in after:
            parts.append(f"{key}: {_value(after[key])}")
        else:
            parts.append(f"{key}: {_value(before[key])} → (removed)")
    return "; ".join(parts)


def _when(at: datetime) -> str:
    return f"{at.astimezone():%Y-%m-%d %H:%M:%S}"


class AuditModel(RowsTable[AuditEntry]):
    """Audit rows in descending sequence order (the server's order)."""

    headers = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(
            self._text, sort_key=self._sort_key, colour=self._colour, tip=self._tip, parent=parent
        )
        self._seqs: set[int] = set()

    def set_entries(self, entries: list[AuditEntry]) -> None:
        self.beginResetModel()
        self._rows = sorted({e.seq: e for e in entries}.values(), key=lambda e: -e.seq)
        self._seqs = {e.seq for e in self._rows}
        self.endResetModel()

    def add_older(self, entries: list[AuditEntry]) -> int:
        """A further page (older rows) at the bottom; returns how many were new."""
        fresh = sorted((e for e in entries if e.seq not in self._seqs), key=lambda e: -e.seq)
        if not fresh:
            return 0
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        self._rows.extend(fresh)
        self._seqs.update(e.seq for e in fresh)
        self.endInsertRows()
        return len(fresh)

    def add_live(self, entry: AuditEntry) -> bool:
        """A row from the stream, in its place by sequence (normally the top); False if known."""
        if entry.seq in self._seqs:
            return False
        row = next((i for i, e in enumerate(self._rows) if e.seq < entry.seq), len(self._rows))
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, entry)
        self._seqs.add(entry.seq)
        self.endInsertRows()
        return True

    def entry(self, row: int) -> AuditEntry:
        return self._rows[row]

    def entries(self) -> list[AuditEntry]:
        return list(self._rows)

    def oldest_seq(self) -> int | None:
        return self._rows[-1].seq if self._rows else None

    # --- private ----------------------------------------------------------------------------

    @staticmethod
    def _text(entry: AuditEntry, column: int) -> str:
        if column == SEQ:
            return str(entry.seq)
        if column == AT:
            return _when(entry.at)
        if column == ACTOR:
            who = (
                entry.actor
                if entry.actor_type == "operator"
                else f"{entry.actor_type}:{entry.actor}"
            )
            if entry.impersonated_user:
                who += f" as {entry.impersonated_user}"
            return who
        if column == ACTION:
            return entry.action
        if column == TARGET:
            return entry.target
        if column == CHANGE:
            summary = change_summary(entry)
            return summary if len(summary) <= CHANGE_MAX else summary[: CHANGE_MAX - 1] + "…"
        return entry.client_addr or ""

    @staticmethod
    def _sort_key(entry: AuditEntry, column: int) -> Any:
        return entry.seq if column == SEQ else AuditModel._text(entry, column)

    @staticmethod
    def _colour(entry: AuditEntry, column: int) -> QColor | None:
        return SYSTEM_COLOUR if column == ACTOR and entry.actor_type == "system" else None

    @staticmethod
    def _tip(entry: AuditEntry, column: int) -> str | None:
        if column == CHANGE:
            return json.dumps(
                {"before": entry.before, "after": entry.after}, indent=2, sort_keys=True
            )
        if column == SEQ:
            return f"hash {entry.hash}"
        return None
