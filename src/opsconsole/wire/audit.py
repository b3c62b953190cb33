"""Audit log rows and the result of verifying their hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class AuditEntry(BaseModel):
    seq: int
    at: datetime
    actor_type: str
    actor: str
    impersonated_user: str | None
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    client_addr: str | None
    hash: str


class ChainBreak(BaseModel):
    seq: int
    kind: Literal["edited", "removed", "reordered"]
    detail: str


class AuditVerifyResult(BaseModel):
    ok: bool
    rows_checked: int
    head_seq: int | None
    head_hash: str | None
    first_break: ChainBreak | None = None
