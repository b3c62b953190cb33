"""Shapes shared by every part of the API: pages, problems, roles."""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


class WireModel(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None = None


class ProblemDetails(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class Role(StrEnum):
    ADMIN = "admin"
    ONCALL = "oncall"
    SUPPORT = "support"
    BILLING = "billing"
    VIEWER = "viewer"


class Reason(WireModel):
    reason: str = Field(min_length=3, max_length=500, description="Why; kept in the audit log.")
