"""HTTP routes to read, export and verify the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from opsconsole.server.audit import service
from opsconsole.server.deps import DatabaseDep, SessionDep
from opsconsole.wire.audit import AuditEntry, AuditVerifyResult
from opsconsole.wire.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def _filters(
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
) -> service.AuditFilter:
    return service.AuditFilter(
        actor=actor, action=action, target=target, since=_utc(since), until=_utc(until)
    )


def _utc(moment: datetime | None) -> datetime | None:
    # A time without a zone is read as UTC, the zone every time in the API is given in.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


Filters = Annotated[service.AuditFilter, Depends(_filters)]


@router.get("")
def list_audit(
    session: SessionDep,
    filters: Filters,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page[AuditEntry]:
    """Newest first; `action` ending in a dot (`users.`) matches a whole family."""
    items, next_cursor = service.list_entries(
        session=session, filters=filters, cursor=cursor, limit=limit
    )
    return Page[AuditEntry](items=items, next_cursor=next_cursor)


@router.get("/export")
def export_audit(
    db: DatabaseDep, filters: Filters, format: Literal["csv", "jsonl"] = "jsonl"
) -> StreamingResponse:
    """The filtered log, oldest first, streamed as CSV or JSON Lines."""

    def lines() -> Iterator[str]:
        with db.reading() as session:
            yield from service.export_lines(session=session, filters=filters, fmt=format)

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        lines(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
    )


@router.get("/verify")
def verify_audit(session: SessionDep) -> AuditVerifyResult:
    return service.verify_chain(session=session)
