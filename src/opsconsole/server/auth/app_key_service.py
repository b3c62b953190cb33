"""The AI app's keys: created with a secret shown once, revoked for good, checked on each call.

Their HTTP routes are in `app_keys.py`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.server.audit.service import Actor, record
from opsconsole.server.auth import credentials
from opsconsole.server.auth.models import AppKey
from opsconsole.server.auth.sessions import unauthenticated
from opsconsole.server.errors import conflict, not_found


def create_app_key(
    *, session: Session, name: str, actor: Actor, now: datetime
) -> tuple[AppKey, str]:
    if session.scalar(select(AppKey.id).where(AppKey.name == name)) is not None:
        raise conflict(f"An app key named {name!r} exists already; pick another name.")
    secret = credentials.new_secret(credentials.APP_KEY_PREFIX)
    key = AppKey(name=name, key_hash=credentials.digest(secret), prefix=secret[:10], created_at=now)
    session.add(key)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="app_keys.create",
        target=f"app_key:{name}",
        at=now,
        after={"prefix": key.prefix},
    )
    return key, secret


def list_app_keys(*, session: Session) -> list[AppKey]:
    return list(session.scalars(select(AppKey).order_by(AppKey.name)))


def revoke_app_key(*, session: Session, name: str, actor: Actor, now: datetime) -> AppKey:
    """Revoke a key for good (a leaked key is replaced by a new one, never revived)."""
    key = session.scalar(select(AppKey).where(AppKey.name == name))
    if key is None:
        raise not_found("app key", name)
    if key.revoked_at is None:
        key.revoked_at = now
        record(
            session=session,
            actor=actor,
            action="app_keys.revoke",
            target=f"app_key:{name}",
            at=now,
            before={"prefix": key.prefix},
        )
    return key


def authenticate_app_key(*, session: Session, secret: str) -> AppKey:
    key = session.scalar(select(AppKey).where(AppKey.key_hash == credentials.digest(secret)))
    if key is None or key.revoked_at is not None:
        raise unauthenticated("The app key is not valid or was revoked.", "invalid-app-key")
    return key
