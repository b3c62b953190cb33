"""End users of the AI app: what the app registers, what operators see and change."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from opsconsole.wire.audit import AuditEntry
from opsconsole.wire.common import WireModel

UserStatus = Literal["active", "suspended", "erased"]
BulkAction = Literal["suspend", "activate", "change_tier"]
MAX_BULK_IDS = 1000

# The app's own ids: printable, no whitespace or slashes, so they fit a URL path segment.
USER_ID_PATTERN = r"^[^\s/]{1,128}$"
# Deliberately loose: the app owns the address and has verified it; we only reject garbage.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

# ISO 3166-1 alpha-2, the officially assigned codes (249).
_ISO_3166_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_ISO_3166_ALPHA_2.split())


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.upper()
    if code not in COUNTRY_CODES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE, US)")
    return code


class UserUpsert(WireModel):
    """What the app sends to register or update a user (PUT /v1/users/{id}).

    Fields left out keep their current value on an update; on creation the tier defaults to
    ``free`` and the rest to unknown (null).
    """

    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    tier: str | None = Field(default=None, min_length=1, max_length=32)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, e.g. DE")

    _check_country = field_validator("country")(_country)


class UserBatchItem(UserUpsert):
    """One user of a batch registration: the id and the fields of `UserUpsert`."""

    id: str = Field(pattern=USER_ID_PATTERN, description="The app's id of the user.")


class UserBatch(WireModel):
    """Up to 1000 users registered or updated at once (PUT /v1/users), in one transaction."""

    users: list[UserBatchItem] = Field(min_length=1, max_length=MAX_BULK_IDS)

    @model_validator(mode="after")
    def _unique(self) -> UserBatch:
        ids = [user.id for user in self.users]
        if len(set(ids)) != len(ids):
            raise ValueError("each user id may appear once in a batch")
        return self


class UserBatchResult(BaseModel):
    created: int = Field(description="New users (one users.create audit row each).")
    updated: int = Field(description="Users whose fields changed (one users.update row each).")
    unchanged: int = Field(description="Users already as sent: nothing written.")


class UserOverrides(BaseModel):
    """Per-user limits that replace the tier's; null means "as the tier says"."""

    quota_daily_requests: int | None = None
    budget_weekly: float | None = None
    budget_monthly: float | None = None
    rate_per_minute: int | None = None
    budget_bonus: float | None = None
    budget_bonus_until: datetime | None = None


class UserPublic(BaseModel):
    id: str
    email: str | None
    name: str | None
    tier: str
    status: UserStatus
    status_reason: str | None
    country: str | None
    joined_at: datetime
    updated_at: datetime
    overrides: UserOverrides


class UserUpdate(WireModel):
    """An operator's change (PATCH): only the fields sent change; null clears an override."""

    tier: str | None = Field(default=None, min_length=1, max_length=32)
    quota_daily_requests: int | None = Field(default=None, ge=0)
    budget_weekly: float | None = Field(default=None, ge=0)
    budget_monthly: float | None = Field(default=None, ge=0)
    rate_per_minute: int | None = Field(default=None, ge=0)
    budget_bonus: float | None = Field(default=None, gt=0, description="Dollars added, until...")
    budget_bonus_until: AwareDatetime | None = Field(default=None, description="...this time.")
    reason: str | None = Field(default=None, min_length=3, max_length=500)

    @model_validator(mode="after")
    def _something_to_change(self) -> UserUpdate:
        if not self.model_fields_set - {"reason"}:
            raise ValueError("send at least one field to change")
        if "tier" in self.model_fields_set and self.tier is None:
            raise ValueError("tier cannot be cleared; name the tier to move the user to")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent (null included), without the reason."""
        return {name: getattr(self, name) for name in self.model_fields_set - {"reason"}}


class BulkUserAction(WireModel):
    ids: list[str] = Field(min_length=1, max_length=MAX_BULK_IDS)
    action: BulkAction
    tier: str | None = Field(default=None, min_length=1, max_length=32)
    reason: str = Field(min_length=3, max_length=500, description="Why; kept in the audit log.")

    @model_validator(mode="after")
    def _consistent(self) -> BulkUserAction:
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("ids must be unique")
        if (self.action == "change_tier") != (self.tier is not None):
            raise ValueError("give a tier with change_tier, and only with change_tier")
        return self


class BulkResult(BaseModel):
    action: BulkAction
    changed: list[str] = Field(description="Ids whose state changed (one audit row each).")
    unchanged: list[str] = Field(description="Ids already in the requested state.")
    erased: list[str] = Field(description="Ids of erased users, which cannot be changed.")
    not_found: list[str]


class UserExport(BaseModel):
    """Everything held about one user (GDPR right of access)."""

    exported_at: datetime
    user: UserPublic
    tickets: list[dict[str, Any]]
    audit: list[AuditEntry]
