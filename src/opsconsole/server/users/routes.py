"""HTTP routes for end users: the app registers them, operators find and manage them.

Who may call what is in server/permissions.py; these handlers only add the checks that depend
on the request body (a tier change needs users:tier on top of users:write).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AwareDatetime

from opsconsole.server.audit.service import record
from opsconsole.server.deps import (
    ActorDep,
    CurrentOperator,
    NowDep,
    SessionDep,
    WriteSessionDep,
    forbidden,
)
from opsconsole.server.permissions import Permission
from opsconsole.server.users import service
from opsconsole.wire.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, Reason
from opsconsole.wire.users import (
    USER_ID_PATTERN,
    BulkResult,
    BulkUserAction,
    UserBatch,
    UserBatchResult,
    UserExport,
    UserPublic,
    UserStatus,
    UserUpdate,
    UserUpsert,
)

router = APIRouter(prefix="/v1/users", tags=["users"])

UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="The app's id of the user.")]


def _require_tier_permission(operator: CurrentOperator) -> None:
    if not operator.can(Permission.USERS_TIER):
        raise forbidden(
            f"Your role ({operator.role}) may change a user's limits but not their tier "
            f"({Permission.USERS_TIER}); ask billing, support or an admin."
        )


@router.put("/{user_id}")
def upsert_user(
    *,
    user_id: UserId,
    body: UserUpsert,
    response: Response,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> UserPublic:
    """Register (201) or update (200) a user; for the app's backend, with its app key."""
    user, created = service.upsert_user(
        session=session,
        user_id=user_id,
        fields=body.model_dump(include=body.model_fields_set),
        actor=actor,
        now=now,
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return service.user_public(user)


@router.put("")
def upsert_users(
    *, body: UserBatch, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> UserBatchResult:
    """Register or update up to 1000 users in one transaction; for the app's backend.

    Each user is handled as `PUT /v1/users/{id}` would, with one audit row per user created
    or changed; a bad entry (unknown tier, erased user) refuses the whole batch.
    """
    outcome = service.upsert_users(
        session=session,
        users=[
            (item.id, item.model_dump(include=item.model_fields_set - {"id"}))
            for item in body.users
        ],
        actor=actor,
        now=now,
    )
    return UserBatchResult(
        created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged
    )


@router.get("")
def list_users(
    *,
    session: SessionDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Fragment of id/email/name")
    ] = None,
    tier: Annotated[str | None, Query(max_length=32)] = None,
    user_status: Annotated[UserStatus | None, Query(alias="status")] = None,
    joined_from: Annotated[AwareDatetime | None, Query(description="Inclusive")] = None,
    joined_to: Annotated[AwareDatetime | None, Query(description="Exclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page[UserPublic]:
    """Users matching every filter given, oldest registration first."""
    filters = service.UserFilter(
        q=q, tier=tier, status=user_status, joined_from=joined_from, joined_to=joined_to
    )
    users, next_cursor = service.search_users(
        session=session, filters=filters, cursor=cursor, limit=limit
    )
    return Page[UserPublic](items=[service.user_public(u) for u in users], next_cursor=next_cursor)


@router.post("/bulk")
def bulk(
    body: BulkUserAction,
    operator: CurrentOperator,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> BulkResult:
    """One action on up to 1000 users; erased and unknown ids are reported, not fatal."""
    if body.action == "change_tier":
        _require_tier_permission(operator)
    outcome = service.bulk_action(
        session=session,
        ids=body.ids,
        action=body.action,
        tier=body.tier,
        reason=body.reason,
        actor=actor,
        now=now,
    )
    return BulkResult(
        action=body.action,
        changed=outcome.changed,
        unchanged=outcome.unchanged,
        erased=outcome.erased,
        not_found=outcome.not_found,
    )


@router.get("/{user_id}")
def get_user(user_id: UserId, session: SessionDep) -> UserPublic:
    return service.user_public(service.get_user(session=session, user_id=user_id))


@router.post("/{user_id}/suspend")
def suspend(
    user_id: UserId, body: Reason, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> UserPublic:
    """Suspend a user; suspending a suspended user succeeds and changes nothing."""
    user, _ = service.set_status(
        session=session,
        user_id=user_id,
        status="suspended",
        reason=body.reason,
        actor=actor,
        now=now,
    )
    return service.user_public(user)


@router.post("/{user_id}/activate")
def activate(
    user_id: UserId, body: Reason, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> UserPublic:
    """Activate a user; activating an active user succeeds and changes nothing."""
    user, _ = service.set_status(
        session=session, user_id=user_id, status="active", reason=body.reason, actor=actor, now=now
    )
    return service.user_public(user)


@router.patch("/{user_id}")
def update_user(
    *,
    user_id: UserId,
    body: UserUpdate,
    operator: CurrentOperator,
    session: WriteSessionDep,
    actor: ActorDep,
    now: NowDep,
) -> UserPublic:
    """Change tier and overrides; null clears an override. A tier change needs users:tier."""
    changes = body.changes()
    if "tier" in changes:
        _require_tier_permission(operator)
    if set(changes) - {"tier"} and not operator.can(Permission.USERS_WRITE):
        raise forbidden(
            f"Your role ({operator.role}) may change a user's tier but not their limits "
            f"({Permission.USERS_WRITE}); ask support or an admin."
        )
    user = service.update_user(
        session=session, user_id=user_id, changes=changes, reason=body.reason, actor=actor, now=now
    )
    return service.user_public(user)


@router.get("/{user_id}/export")
def export_user(
    user_id: UserId, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> UserExport:
    """Everything held about the user, as JSON (GDPR right of access); the export is audited."""
    export = service.export_user(session=session, user_id=user_id, now=now)
    record(
        session=session,
        actor=actor,
        action="users.export",
        target=f"user:{user_id}",
        at=now,
        after={"tickets": len(export.tickets), "audit_rows": len(export.audit)},
    )
    return export


@router.delete("/{user_id}")
def erase_user(
    user_id: UserId, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> UserPublic:
    """GDPR erasure: personal data removed, the row kept anonymous under a new random id."""
    return service.user_public(
        service.erase_user(session=session, user_id=user_id, actor=actor, now=now)
    )
