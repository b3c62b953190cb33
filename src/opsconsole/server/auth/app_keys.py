"""HTTP routes for the AI app's keys: list, create (the secret is shown once), revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from opsconsole.server.auth import service
from opsconsole.server.auth.models import AppKey
from opsconsole.server.deps import ActorDep, DatabaseDep, NowDep, SessionDep, WriteSessionDep
from opsconsole.wire.auth import AppKeyCreate, AppKeyCreated, AppKeyPublic

router = APIRouter(prefix="/v1/app-keys", tags=["app keys"])


def _public(key: AppKey) -> AppKeyPublic:
    return AppKeyPublic(
        name=key.name, prefix=key.prefix, created_at=key.created_at, revoked_at=key.revoked_at
    )


@router.get("")
def list_app_keys(session: SessionDep) -> list[AppKeyPublic]:
    return [_public(key) for key in service.list_app_keys(session=session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_app_key(
    body: AppKeyCreate, session: WriteSessionDep, actor: ActorDep, now: NowDep
) -> AppKeyCreated:
    key, secret = service.create_app_key(session=session, name=body.name, actor=actor, now=now)
    return AppKeyCreated(**_public(key).model_dump(), key=secret)


@router.delete("/{name}")
def revoke_app_key(
    name: str, request: Request, db: DatabaseDep, actor: ActorDep, now: NowDep
) -> AppKeyPublic:
    """Refused at once by this replica; other replicas stop honouring their cached copy of
    the key within the app-key cache time (30 s)."""
    with db.writing() as session:
        key = service.revoke_app_key(session=session, name=name, actor=actor, now=now)
        public = _public(key)
    # After the commit, so no request can re-cache the key from the old row.
    cache: dict[str, object] = request.app.state.app_key_cache
    cache.pop(key.key_hash, None)
    return public
