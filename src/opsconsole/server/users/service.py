"""End users: registration by the app, search, suspension, overrides, bulk actions, GDPR.

Every change goes through :func:`opsconsole.server.audit.service.record` in the caller's
transaction. Audit summaries name which personal fields changed but never their values: the
audit log outlives an erasure, personal data must not.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsconsole.server.audit.models import AuditRow
from opsconsole.server.audit.service import Actor, record, to_entry
from opsconsole.server.errors import Problem, conflict, not_found
from opsconsole.server.pagination import decode_cursor, encode_cursor
from opsconsole.server.tickets import service as tickets
from opsconsole.server.users.models import Tier, User
from opsconsole.wire.users import UserExport, UserOverrides, UserPublic

OVERRIDE_FIELDS = (
    "quota_daily_requests",
    "budget_weekly",
    "budget_monthly",
    "rate_per_minute",
    "budget_bonus",
    "budget_bonus_until",
)
# Personal data: audited by name only (see the module docstring).
PERSONAL_FIELDS = ("email", "name", "country")
# Fragments this short have no trigram to look up; they fall back to a scan.
MIN_TRIGRAM = 3


def target(user_id: str) -> str:
    return f"user:{user_id}"


def search_text(user_id: str, email: str | None, name: str | None) -> str:
    return " ".join(part for part in (user_id, email, name) if part).lower()


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        email=user.email,
        name=user.name,
        tier=user.tier,
        status=user.status,  # the column holds only UserStatus values
        status_reason=user.status_reason,
        country=user.country,
        joined_at=user.joined_at,
        updated_at=user.updated_at,
        overrides=UserOverrides(**{field: getattr(user, field) for field in OVERRIDE_FIELDS}),
    )


def known_tiers(*, session: Session) -> list[str]:
    return list(session.scalars(select(Tier.name).order_by(Tier.name)))


def check_tier(*, session: Session, tier: str) -> None:
    if session.get(Tier, tier) is None:
        names = known_tiers(session=session)
        raise Problem(
            422,
            "unknown-tier",
            "Unknown tier",
            f"There is no tier {tier!r}; use one of: {', '.join(names)}.",
            known_tiers=names,
        )


def get_user(*, session: Session, user_id: str) -> User:
    user = session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise not_found("user", user_id)
    return user


def _changeable(user: User) -> None:
    if user.status == "erased":
        raise conflict(
            f"User {user.id!r} was erased (GDPR); an erased user cannot be changed. If the "
            "person signs up again, the app registers them as a new user."
        )


def upsert_user(
    *,
    session: Session,
    user_id: str,
    fields: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> tuple[User, bool]:
    """Register or update a user as the app describes them; True when it was created.

    Args:
        fields: the fields the app sent (email, name, tier, country); those left out keep
            their value, or take the default on creation.
    """
    if fields.get("tier") is not None:
        check_tier(session=session, tier=fields["tier"])
    user = session.scalar(select(User).where(User.id == user_id))
    user, outcome = _upsert(session, user_id, user, fields=fields, actor=actor, now=now)
    return user, outcome == "created"


@dataclass(frozen=True)
class BatchOutcome:
    created: int
    updated: int
    unchanged: int


def upsert_users(
    *,
    session: Session,
    users: Sequence[tuple[str, dict[str, Any]]],
    actor: Actor,
    now: datetime,
) -> BatchOutcome:
    """Register or update many users at once, each exactly as `upsert_user` would.

    One audit row per user who was created or changed, as with single upserts: the audit
    log is read per user (a user's history, the GDPR export) and a user's row is what tells
    the gate to reload them. All or nothing: an unknown tier or an erased user refuses the
    whole batch.

    Args:
        users: (user id, fields sent) pairs with distinct ids.
    """
    for tier in sorted({f["tier"] for _, f in users if f.get("tier") is not None}):
        check_tier(session=session, tier=tier)
    ids = [user_id for user_id, _ in users]
    existing = {user.id: user for user in session.scalars(select(User).where(User.id.in_(ids)))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for user_id, fields in users:
        _, outcome = _upsert(
            session,
            user_id,
            existing.get(user_id),
            fields=fields,
            actor=actor,
            now=now,
            flush=False,
        )
        counts[outcome] += 1
    _flush_new(session, "one of these users")
    return BatchOutcome(**counts)


def _upsert(
    session: Session,
    user_id: str,
    user: User | None,
    *,
    fields: dict[str, Any],
    actor: Actor,
    now: datetime,
    flush: bool = True,
) -> tuple[User, str]:
    """Create ``user_id`` (when ``user`` is None) or apply ``fields`` to ``user``, with its
    audit row; returns the user and "created", "updated" or "unchanged"."""
    fields = {key: value for key, value in fields.items() if key != "tier" or value is not None}
    if user is None:
        user = User(
            id=user_id,
            email=fields.get("email"),
            name=fields.get("name"),
            tier=fields.get("tier", "free"),
            status="active",
            country=fields.get("country"),
            joined_at=now,
            updated_at=now,
        )
        user.search_text = search_text(user_id, user.email, user.name)
        session.add(user)
        if flush:
            _flush_new(session, repr(user_id))
        record(
            session=session,
            actor=actor,
            action="users.create",
            target=target(user_id),
            at=now,
            after={"tier": user.tier, "status": user.status, "set": _personal_set(user)},
        )
        return user, "created"
    _changeable(user)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    changed_personal: list[str] = []
    for key, value in fields.items():
        if getattr(user, key) == value:
            continue
        if key in PERSONAL_FIELDS:
            changed_personal.append(key)
        else:
            before[key], after[key] = getattr(user, key), value
        setattr(user, key, value)
    if not (before or changed_personal):
        return user, "unchanged"
    user.search_text = search_text(user.id, user.email, user.name)
    user.updated_at = now
    if changed_personal:
        after["changed"] = sorted(changed_personal)
    record(
        session=session,
        actor=actor,
        action="users.update",
        target=target(user_id),
        at=now,
        before=before or None,
        after=after,
    )
    return user, "updated"


def _flush_new(session: Session, who: str) -> None:
    try:
        session.flush()
    except IntegrityError as error:
        # Two requests registering one new id at once (PostgreSQL; SQLite serialises writers).
        raise conflict(
            f"User {who} was registered by a concurrent request; retry the request."
        ) from error


def _personal_set(user: User) -> list[str]:
    return [key for key in PERSONAL_FIELDS if getattr(user, key) is not None]


@dataclass(frozen=True)
class UserFilter:
    q: str | None = None
    tier: str | None = None
    status: str | None = None
    joined_from: datetime | None = None  # inclusive
    joined_to: datetime | None = None  # exclusive


def _fts_phrase(fragment: str) -> str:
    # One FTS5 string literal: inside double quotes nothing is syntax but a doubled quote, so
    # AND/OR/NEAR/*/^/column filters in the fragment are searched for, not obeyed.
    return '"' + fragment.replace('"', '""') + '"'


def _fragment_clause(session: Session, fragment: str) -> ColumnElement[bool]:
    fragment = fragment.lower()
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and len(fragment) >= MIN_TRIGRAM:
        rowids = (
            select(text("rowid"))
            .select_from(text("users_search"))
            .where(text("users_search MATCH :phrase").bindparams(phrase=_fts_phrase(fragment)))
        )
        return User.pk.in_(rowids.scalar_subquery())
    # PostgreSQL answers this from the pg_trgm GIN index (3+ characters); shorter fragments
    # are a scan in pk order, which stops as soon as the page is full.
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if dialect == "postgresql":
        # Rendered as a quoted literal: a bound parameter lets psycopg prepare the statement
        # after a few runs, and PostgreSQL's generic plan then scans every row in pk order
        # instead of asking the trigram index about a rare fragment.
        return User.search_text.like(literal(pattern, literal_execute=True), escape="\\")
    return User.search_text.like(pattern, escape="\\")


def search_users(
    *, session: Session, filters: UserFilter, cursor: str | None, limit: int
) -> tuple[list[User], str | None]:
    """One page of users matching every filter given, in pk order (keyset pagination)."""
    if filters.tier is not None:
        check_tier(session=session, tier=filters.tier)
    query = select(User)
    if filters.q:
        query = query.where(_fragment_clause(session, filters.q))
    if filters.tier is not None:
        query = query.where(User.tier == filters.tier)
    if filters.status is not None:
        query = query.where(User.status == filters.status)
    if filters.joined_from is not None:
        query = query.where(User.joined_at >= filters.joined_from)
    if filters.joined_to is not None:
        query = query.where(User.joined_at < filters.joined_to)
    key = decode_cursor(cursor, "pk")
    if key is not None:
        if not isinstance(key["pk"], int) or isinstance(key["pk"], bool):
            decode_cursor("!", "pk")  # raises the one bad-cursor problem
        query = query.where(User.pk > key["pk"])
    rows = list(session.scalars(query.order_by(User.pk).limit(limit + 1)))
    next_cursor = encode_cursor(pk=rows[limit - 1].pk) if len(rows) > limit else None
    return rows[:limit], next_cursor


def set_status(
    *,
    session: Session,
    user_id: str,
    status: str,
    reason: str,
    actor: Actor,
    now: datetime,
    bulk: bool = False,
) -> tuple[User, bool]:
    """Suspend or activate a user; True when the status changed.

    Asking for the status a user already has is a no-op that succeeds (the caller wanted the
    user in that state, and is): nothing changes and no audit row is written.
    """
    user = get_user(session=session, user_id=user_id)
    changed = _apply_status(
        session=session, user=user, status=status, reason=reason, actor=actor, now=now, bulk=bulk
    )
    return user, changed


def _apply_status(
    *,
    session: Session,
    user: User,
    status: str,
    reason: str,
    actor: Actor,
    now: datetime,
    bulk: bool,
) -> bool:
    _changeable(user)
    if user.status == status:
        return False
    before = {"status": user.status}
    user.status, user.status_reason, user.updated_at = status, reason, now
    after: dict[str, Any] = {"status": status, "reason": reason}
    if bulk:
        after["bulk"] = True
    action = "users.suspend" if status == "suspended" else "users.activate"
    record(
        session=session,
        actor=actor,
        action=action,
        target=target(user.id),
        at=now,
        before=before,
        after=after,
    )
    return True


def update_user(
    *,
    session: Session,
    user_id: str,
    changes: dict[str, Any],
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> User:
    """Change a user's tier and overrides; a None value clears that override.

    A budget bonus needs an expiry in the future; clearing the bonus clears its expiry.
    """
    user = get_user(session=session, user_id=user_id)
    _changeable(user)
    if changes.get("tier") is not None:
        check_tier(session=session, tier=changes["tier"])
    if "budget_bonus" in changes and changes["budget_bonus"] is None:
        changes = {**changes, "budget_bonus_until": None}
    bonus = changes.get("budget_bonus", user.budget_bonus)
    until = changes.get("budget_bonus_until", user.budget_bonus_until)
    # Checked only when the bonus is touched: a bonus that has run out must not block an
    # unrelated change (the gate ignores it once it has expired).
    touched = "budget_bonus" in changes or "budget_bonus_until" in changes
    if touched and bonus is not None and (until is None or until <= now):
        raise Problem(
            422,
            "bonus-needs-expiry",
            "Budget bonus needs an expiry",
            "A budget bonus is temporary: send budget_bonus_until as a time in the future "
            f"(now is {now.isoformat()}).",
        )
    if touched and bonus is None and until is not None:
        raise Problem(
            422,
            "expiry-without-bonus",
            "Expiry without a bonus",
            "budget_bonus_until only applies to a budget bonus; send budget_bonus as well.",
        )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in changes.items():
        if getattr(user, key) != value:
            before[key], after[key] = getattr(user, key), value
            setattr(user, key, value)
    if after:
        user.updated_at = now
        if reason:
            after["reason"] = reason
        action = "users.tier" if "tier" in after else "users.overrides"
        record(
            session=session,
            actor=actor,
            action=action,
            target=target(user.id),
            at=now,
            before=before,
            after=after,
        )
    return user


@dataclass
class BulkOutcome:
    changed: list[str]
    unchanged: list[str]
    erased: list[str]
    not_found: list[str]


def bulk_action(
    *,
    session: Session,
    ids: list[str],
    action: str,
    tier: str | None,
    reason: str,
    actor: Actor,
    now: datetime,
) -> BulkOutcome:
    """Apply one action to many users in one transaction, one audit row per changed user."""
    if action == "change_tier":
        assert tier is not None
        check_tier(session=session, tier=tier)
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    outcome = BulkOutcome([], [], [], [])
    for user_id in ids:
        user = users.get(user_id)
        if user is None:
            outcome.not_found.append(user_id)
            continue
        if user.status == "erased":
            outcome.erased.append(user_id)
            continue
        if action == "change_tier":
            changed = user.tier != tier
            if changed:
                before, user.tier, user.updated_at = {"tier": user.tier}, str(tier), now
                record(
                    session=session,
                    actor=actor,
                    action="users.tier",
                    target=target(user_id),
                    at=now,
                    before=before,
                    after={"tier": tier, "reason": reason, "bulk": True},
                )
        else:
            status = "suspended" if action == "suspend" else "active"
            changed = _apply_status(
                session=session,
                user=user,
                status=status,
                reason=reason,
                actor=actor,
                now=now,
                bulk=True,
            )
        (outcome.changed if changed else outcome.unchanged).append(user_id)
    return outcome


def export_user(*, session: Session, user_id: str, now: datetime) -> UserExport:
    """Everything held about a user: profile, overrides, tickets, and audit rows about them."""
    user = get_user(session=session, user_id=user_id)
    audit = session.scalars(
        select(AuditRow).where(AuditRow.target == target(user.id)).order_by(AuditRow.seq)
    )
    return UserExport(
        exported_at=now,
        user=user_public(user),
        tickets=tickets.export_user_tickets(session=session, user_pk=user.pk),
        audit=[to_entry(row) for row in audit],
    )


def erase_user(*, session: Session, user_id: str, actor: Actor, now: datetime) -> User:
    """GDPR erasure: anonymise the row in place so usage stays linked to an anonymous pk.

    The app's id is replaced by a random one, so the app's id no longer leads to the row;
    the tickets' customer-written text is redacted; audit rows stay (they hold no personal
    values, only the app's former id in their target).
    """
    user = get_user(session=session, user_id=user_id)
    if user.status == "erased":
        raise conflict(f"User {user_id!r} is erased already.")
    before = {"status": user.status, "erased_fields": _personal_set(user)}
    user.id = f"erased-{secrets.token_hex(12)}"
    user.email = user.name = user.country = user.status_reason = None
    user.search_text = ""
    user.status, user.updated_at = "erased", now
    redacted = tickets.redact_user_content(session=session, user_pk=user.pk, now=now)
    record(
        session=session,
        actor=actor,
        action="users.erase",
        target=target(user_id),
        at=now,
        before=before,
        after={"status": "erased", "tickets_redacted": redacted},
    )
    return user
