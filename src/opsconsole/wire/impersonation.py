"""Impersonation: an operator sees the app as one end user, for a limited time, audited.

The control plane issues an opaque token; the AI app's backend asks what it means
(`POST /v1/impersonations/introspect`, in the spirit of RFC 7662) and lets the operator act
as the user within the mode it names. The operator is named as RFC 8693's `act` claim.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from opsconsole.wire.common import WireModel
from opsconsole.wire.users import USER_ID_PATTERN

DEFAULT_MINUTES = 15
MAX_MINUTES = 60


class ImpersonationMode(StrEnum):
    """What the app lets the operator do as the user.

    ``read_only``: look, never change anything of the user's. ``full``: act as the user
    (needs its own permission and a recent step-up). Neither ever reaches the control plane's
    operator API: tiers, quotas, billing, operators and switches stay out of reach.
    """

    READ_ONLY = "read_only"
    FULL = "full"


class ImpersonationCreate(WireModel):
    user_id: str = Field(pattern=USER_ID_PATTERN, description="The app's id of the end user.")
    reason: str = Field(min_length=3, max_length=500, description="Why; kept in the audit log.")
    ticket_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The user's ticket this is for."
    )
    minutes: int = Field(
        default=DEFAULT_MINUTES,
        ge=1,
        le=MAX_MINUTES,
        description=f"How long the token lives; at most {MAX_MINUTES}.",
    )
    mode: ImpersonationMode = ImpersonationMode.READ_ONLY


class ImpersonationStarted(BaseModel):
    """The answer to a start: the token is shown this once and stored only as a hash."""

    id: str
    token: str
    expires_at: datetime
    user_id: str
    mode: ImpersonationMode


class ImpersonationPublic(BaseModel):
    id: str
    user_id: str
    operator: str
    mode: ImpersonationMode
    reason: str
    ticket_id: int | None
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    ended_by: str | None
    active: bool  # at the time of the answer
    uses: int  # introspections that answered "active"
    last_used_at: datetime | None


class IntrospectRequest(WireModel):
    token: str = Field(min_length=1, max_length=200)


class ActClaim(BaseModel):
    """RFC 8693 section 4.1: the party acting on behalf of the subject."""

    sub: str = Field(description="The operator's username.")


class IntrospectResponse(BaseModel):
    """RFC 7662-style: an inactive, unknown, ended or expired token is just `{active: false}`."""

    active: bool
    sub: str | None = Field(default=None, description="The end user's id in the app.")
    act: ActClaim | None = None
    mode: ImpersonationMode | None = None
    scope: str | None = Field(default=None, description="`impersonation:read_only` or `:full`.")
    token_type: str | None = None
    exp: int | None = Field(default=None, description="Expiry, seconds since the epoch.")
    iat: int | None = Field(default=None, description="Issued at, seconds since the epoch.")
    expires_at: datetime | None = None
    jti: str | None = Field(default=None, description="The impersonation's id.")
    ticket_id: int | None = None
