"""The console's local cache: what the operator saw, kept for offline review.

One SQLite file per profile (mode 0600) in the user data directory. Synchronous SQLAlchemy:
the connection calls it from one worker thread (never the Qt thread), so SQLite sees one
writer. It holds no credentials: tokens live in the keyring only.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import create_engine, delete, event, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from opsconsole.console.cache import folding
from opsconsole.console.cache.models import (
    Base,
    Document,
    MetricMinute,
    SeriesPointRow,
    SwitchEvent,
)
from opsconsole.wire.alerts import Alert, AlertState
from opsconsole.wire.audit import AuditEntry
from opsconsole.wire.gate import ProviderPublic, SwitchName, SwitchPublic
from opsconsole.wire.metrics import (
    MetricsSnapshot,
    ProviderHealth,
    Series,
    SeriesPoint,
    SeriesStep,
    Summary,
)
from opsconsole.wire.stream import SwitchChange
from opsconsole.wire.tickets import TicketPublic
from opsconsole.wire.users import UserPublic

log = logging.getLogger("opsconsole.console.cache")

M = TypeVar("M", bound=BaseModel)
DEFAULT_RETENTION_DAYS = 30


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only, before SQLite opens it.

    SQLite gives its journal and WAL files the database file's permissions, so they are
    private too.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    path.chmod(0o600)


class Cache:
    """Per-profile SQLite cache of metrics, alerts, switches, audit rows, tickets and users."""

    def __init__(self, path: Path, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self.path = path
        self.retention_days = retention_days
        _create_private(path)
        self._engine: Engine = create_engine(
            f"sqlite:///{path}", connect_args={"check_same_thread": False}
        )
        event.listen(self._engine, "connect", _pragmas)
        Base.metadata.create_all(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._lock = threading.Lock()  # one writer at a time, whichever thread calls

    def close(self) -> None:
        self._engine.dispose()

    # --- metrics --------------------------------------------------------------------------

    def put_snapshot(self, snapshot: MetricsSnapshot, *, now: datetime | None = None) -> None:
        """Fold one stream snapshot into its minute (per total, provider and tier)."""
        minute = folding.bucket(snapshot.at, SeriesStep.MINUTE)
        fetched = now or _utcnow()
        total = snapshot.total.model_dump(mode="json")
        total["active_users_5m"] = snapshot.active_users_5m
        total["active_users_today"] = snapshot.active_users_today
        total["gate_us"] = snapshot.gate_us.model_dump(mode="json")
        scopes = {"total": total}
        scopes.update(
            {f"provider:{n}": c.model_dump(mode="json") for n, c in snapshot.providers.items()}
        )
        scopes.update({f"tier:{n}": c.model_dump(mode="json") for n, c in snapshot.tiers.items()})
        with self._writing() as session:
            for scope, counts in scopes.items():
                row = session.get(MetricMinute, (scope, minute))
                if row is None:
                    session.add(
                        MetricMinute(
                            scope=scope,
                            minute=minute,
                            data=folding.fold(folding.empty(), counts),
                            updated_at=fetched,
                        )
                    )
                else:
                    row.data = folding.fold(row.data, counts)
                    row.updated_at = fetched
            for health in snapshot.health:
                self._put(session, "health", health.name, health, snapshot.at, fetched=fetched)

    def put_series(self, series: Series, *, now: datetime | None = None) -> None:
        fetched = now or _utcnow()
        provider, tier = series.provider or "", series.tier or ""
        rows = [
            {
                "metric": series.metric,
                "step": series.step.value,
                "provider": provider,
                "tier": tier,
                "at": point.at,
                "value": point.value,
                "fetched_at": fetched,
            }
            for point in series.points
        ]
        if not rows:
            return
        # One statement for the whole series (a day of minutes is 1,440 points): an upsert
        # per point made switching a chart to 24 h stall for seconds.
        statement = sqlite_insert(SeriesPointRow)
        statement = statement.on_conflict_do_update(
            index_elements=["metric", "step", "provider", "tier", "at"],
            set_={"value": statement.excluded.value, "fetched_at": statement.excluded.fetched_at},
        )
        with self._writing() as session:
            session.execute(statement, rows)

    def series(
        self,
        metric: str,
        step: SeriesStep,
        start: datetime,
        end: datetime,
        *,
        provider: str | None = None,
        tier: str | None = None,
    ) -> Series:
        """Fetched points, then (after the newest of them) what the folded minutes give."""
        with self._sessions() as session:
            rows = session.scalars(
                select(SeriesPointRow)
                .where(
                    SeriesPointRow.metric == metric,
                    SeriesPointRow.step == step.value,
                    SeriesPointRow.provider == (provider or ""),
                    SeriesPointRow.tier == (tier or ""),
                    SeriesPointRow.at >= start,
                    SeriesPointRow.at <= end,
                )
                .order_by(SeriesPointRow.at)
            ).all()
            points = {row.at: row.value for row in rows}
            if metric in folding.COUNT_METRICS | folding.DERIVED_METRICS:
                after = max(points) if points else None
                derived = self._from_minutes(
                    session, metric, step, start=start, end=end, provider=provider, tier=tier
                )
                for at, value in derived:
                    if after is None or at > after:
                        points[at] = value
        return Series(
            metric=metric,
            step=step,
            provider=provider,
            tier=tier,
            points=[SeriesPoint(at=at, value=v) for at, v in sorted(points.items())],
        )

    def _from_minutes(
        self,
        session: Session,
        metric: str,
        step: SeriesStep,
        *,
        start: datetime,
        end: datetime,
        provider: str | None,
        tier: str | None,
    ) -> list[tuple[datetime, float | None]]:
        scope = f"provider:{provider}" if provider else f"tier:{tier}" if tier else "total"
        rows = session.scalars(
            select(MetricMinute)
            .where(
                MetricMinute.scope == scope,
                MetricMinute.minute >= folding.bucket(start, step),
                MetricMinute.minute <= end,
            )
            .order_by(MetricMinute.minute)
        ).all()
        buckets: dict[datetime, dict[str, Any]] = {}
        for row in rows:
            key = folding.bucket(row.minute, step)
            buckets[key] = folding.fold(buckets.get(key, folding.empty()), row.data)
        return [(at, folding.value(metric, data)) for at, data in buckets.items()]

    # --- documents ------------------------------------------------------------------------

    def put_summary(self, summary: Summary) -> None:
        with self._writing() as session:
            self._put(session, "summary", "summary", summary, summary.at)
            for health in summary.health:
                self._put(session, "health", health.name, health, summary.at)

    def summary(self) -> Summary | None:
        found = self._all("summary", Summary)
        return found[0] if found else None

    def put_providers(self, providers: Sequence[ProviderPublic]) -> None:
        with self._writing() as session:
            for provider in providers:
                self._put(session, "provider", provider.name, provider)

    def providers(self) -> list[ProviderPublic]:
        return sorted(self._all("provider", ProviderPublic), key=lambda p: p.name)

    def put_health(self, health: Sequence[ProviderHealth]) -> None:
        with self._writing() as session:
            for item in health:
                self._put(session, "health", item.name, item)

    def health(self) -> list[ProviderHealth]:
        return sorted(self._all("health", ProviderHealth), key=lambda h: h.name)

    def put_controls(self, switches: Sequence[SwitchPublic]) -> None:
        with self._writing() as session:
            for switch in switches:
                self._put(session, "switch", switch.name.value, switch, switch.set_at)

    def controls(self) -> list[SwitchPublic]:
        order = list(SwitchName)  # as the server lists them
        return sorted(self._all("switch", SwitchPublic), key=lambda s: order.index(s.name))

    def record_switch(self, change: SwitchChange, *, at: datetime | None = None) -> None:
        """A switch change from the stream: its new state and a row of history."""
        when = at or change.switch.set_at or _utcnow()
        with self._writing() as session:
            self._put(session, "switch", change.switch.name.value, change.switch, when)
            session.add(
                SwitchEvent(
                    at=when,
                    name=change.switch.name.value,
                    actor=change.actor,
                    reason=change.reason,
                    body=change.model_dump(mode="json"),
                )
            )

    def switch_history(self, limit: int = 200) -> list[SwitchChange]:
        with self._sessions() as session:
            rows = session.scalars(
                select(SwitchEvent).order_by(SwitchEvent.at.desc()).limit(limit)
            ).all()
            return [SwitchChange.model_validate(row.body) for row in rows]

    def put_alerts(self, alerts: Iterable[Alert]) -> None:
        with self._writing() as session:
            for alert in alerts:
                when = alert.resolved_at or alert.firing_since or alert.pending_since
                self._put(session, "alert", str(alert.id), alert, when)

    def alerts(self, *, state: AlertState | None = None) -> list[Alert]:
        found = self._all("alert", Alert)
        if state is not None:
            found = [a for a in found if a.state == state]
        return sorted(found, key=lambda a: a.id, reverse=True)

    def put_audit(self, entries: Iterable[AuditEntry]) -> None:
        with self._writing() as session:
            for entry in entries:
                self._put(session, "audit", f"{entry.seq:012d}", entry, entry.at)

    def audit(self, limit: int = 500) -> list[AuditEntry]:
        return sorted(self._all("audit", AuditEntry), key=lambda e: e.seq, reverse=True)[:limit]

    def put_ticket(self, ticket: TicketPublic) -> None:
        with self._writing() as session:
            self._put(session, "ticket", str(ticket.id), ticket)

    def update_ticket_if_viewed(self, ticket: TicketPublic) -> None:
        """A ticket change from the stream is kept only for tickets the operator viewed."""
        with self._writing() as session:
            if session.get(Document, ("ticket", str(ticket.id))) is not None:
                self._put(session, "ticket", str(ticket.id), ticket)

    def tickets(self) -> list[TicketPublic]:
        return self._all("ticket", TicketPublic)

    def put_user(self, user: UserPublic) -> None:
        with self._writing() as session:
            self._put(session, "user", user.id, user)

    def users(self) -> list[UserPublic]:
        return self._all("user", UserPublic)

    def forget_user(self, user_id: str) -> None:
        """Drop what is cached about an erased user (the user and the answers about them)."""
        prefix = f"/v1/users/{user_id}"
        with self._writing() as session:
            session.execute(
                delete(Document).where(Document.kind == "user", Document.key == user_id)
            )
            session.execute(
                delete(Document).where(
                    Document.kind == "get",
                    (Document.key == prefix)
                    | Document.key.startswith(prefix + "/")
                    | Document.key.startswith(prefix + "?"),
                )
            )

    def put_model(self, kind: str, key: str, model: BaseModel) -> None:
        """Anything else the operator viewed, by kind and key (generic reads and writes)."""
        with self._writing() as session:
            self._put(session, kind, key, model)

    def get_model(self, kind: str, key: str, model: type[M]) -> M | None:
        with self._sessions() as session:
            row = session.get(Document, (kind, key))
            return model.model_validate(row.body) if row is not None else None

    def put_response(self, key: str, data: Any) -> None:
        """A REST answer the operator viewed (a user, a ticket, a page of audit rows), by URL."""
        with self._writing() as session:
            now = _utcnow()
            session.merge(
                Document(kind="get", key=key[:128], body={"json": data}, at=now, fetched_at=now)
            )

    def response(self, key: str) -> Any | None:
        with self._sessions() as session:
            row = session.get(Document, ("get", key[:128]))
            return row.body["json"] if row is not None else None

    # --- housekeeping ---------------------------------------------------------------------

    def data_as_of(self) -> datetime | None:
        """When the newest cached data was received: the "offline, data as of" time."""
        with self._sessions() as session:
            times = [
                session.scalar(select(func.max(MetricMinute.updated_at))),
                session.scalar(select(func.max(Document.fetched_at))),
                session.scalar(select(func.max(SeriesPointRow.fetched_at))),
            ]
        known = [t for t in times if t is not None]
        # Results of max() bypass the column type: make them aware UTC here.
        return max(t if t.tzinfo else t.replace(tzinfo=UTC) for t in known) if known else None

    def prune(self, *, now: datetime | None = None) -> int:
        """Drop what is older than the retention; returns the rows removed."""
        cutoff = (now or _utcnow()) - timedelta(days=self.retention_days)
        removed = 0
        with self._writing() as session:
            for statement in (
                delete(MetricMinute).where(MetricMinute.minute < cutoff),
                delete(SeriesPointRow).where(SeriesPointRow.at < cutoff),
                delete(Document).where(Document.at < cutoff),
                delete(SwitchEvent).where(SwitchEvent.at < cutoff),
            ):
                removed += session.execute(statement).rowcount  # type: ignore[attr-defined]
        return removed

    def clear(self) -> None:
        """Empty the cache ("clear cache"): every table, then give the space back."""
        with self._writing() as session:
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(table.delete())
        with self._lock, self._engine.connect() as connection:
            connection.execute(text("VACUUM"))

    # --- helpers --------------------------------------------------------------------------

    def _writing(self) -> _Writing:
        return _Writing(self._sessions, self._lock)

    def _put(
        self,
        session: Session,
        kind: str,
        key: str,
        model: BaseModel,
        at: datetime | None = None,
        *,
        fetched: datetime | None = None,
    ) -> None:
        now = fetched or _utcnow()
        session.merge(
            Document(
                kind=kind,
                key=key,
                body=model.model_dump(mode="json"),
                at=at or now,
                fetched_at=now,
            )
        )

    def _all(self, kind: str, model: type[M]) -> list[M]:
        with self._sessions() as session:
            rows = session.scalars(select(Document).where(Document.kind == kind)).all()
            return [model.model_validate(row.body) for row in rows]


class _Writing:
    """A transaction under the cache's writer lock, committed on a clean exit."""

    def __init__(self, sessions: sessionmaker[Session], lock: threading.Lock) -> None:
        self._sessions = sessions
        self._lock = lock
        self._session: Session | None = None

    def __enter__(self) -> Session:
        self._lock.acquire()
        self._session = self._sessions()
        return self._session

    def __exit__(self, kind: object, *_: object) -> None:
        assert self._session is not None
        try:
            if kind is None:
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._session.close()
            self._lock.release()


def _pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    # A cache: losing the last second on a crash is fine, stalling the UI thread's peer is not.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
