"""Operators, sessions, app keys and login."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from opsconsole.wire.common import Role, WireModel


class LoginRequest(WireModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, pattern=r"^\d{6}$")


class OperatorPublic(BaseModel):
    username: str
    role: Role
    disabled: bool
    totp_enrolled: bool
    created_at: datetime
    permissions: list[str] = Field(default_factory=list)


class LoginResponse(BaseModel):
    token: str
    expires_at: datetime
    idle_timeout_s: int
    operator: OperatorPublic


class SessionPublic(BaseModel):
    id: str
    username: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_addr: str | None
    user_agent: str | None
    current: bool = False


class MeResponse(BaseModel):
    operator: OperatorPublic
    session: SessionPublic
    step_up_until: datetime | None


class PasswordChange(WireModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)


class StepUpRequest(WireModel):
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    totp: str | None = Field(default=None, pattern=r"^\d{6}$")

    @model_validator(mode="after")
    def _one_factor(self) -> StepUpRequest:
        if (self.password is None) == (self.totp is None):
            raise ValueError("give exactly one of password or totp")
        return self


class StepUpResponse(BaseModel):
    step_up_until: datetime


class TotpRequest(WireModel):
    code: str | None = Field(
        default=None,
        pattern=r"^\d{6}$",
        description="Omit to start enrolment; send the first code from the app to confirm it.",
    )


class TotpResponse(BaseModel):
    enrolled: bool
    secret: str | None = None
    provisioning_uri: str | None = None


class OperatorUpdate(WireModel):
    role: Role | None = None
    disabled: bool | None = None


class OperatorCreate(WireModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    role: Role
    password: str = Field(min_length=12, max_length=1024)


class AppKeyCreate(WireModel):
    name: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")


class AppKeyPublic(BaseModel):
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None


class AppKeyCreated(AppKeyPublic):
    key: str = Field(description="The secret, shown this once: store it in the app's secrets.")
