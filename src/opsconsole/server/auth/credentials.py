"""Credentials: argon2id password hashes, random bearer secrets stored as SHA-256, TOTP checks."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's minimum for argon2id: 19 MiB of memory, two passes, one lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the username is unknown, so the answer takes as long either way.
_DUMMY_HASH = _HASHER.hash("opsconsole-dummy-password")

OPERATOR_TOKEN_PREFIX = "oct_"  # noqa: S105 - a prefix, not a secret
APP_KEY_PREFIX = "ock_"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A one-time password for a new operator: 20 URL-safe characters, ~120 bits."""
    return secrets.token_urlsafe(15)


def new_secret(prefix: str) -> str:
    """A bearer secret of 256 random bits from the OS CSPRNG, prefixed by its kind."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    # Secrets have 256 bits of entropy, so a fast hash suffices; no salt or stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step a code belongs to (one step of clock skew either way), or None."""
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        step = int(at.timestamp()) // totp.interval + offset
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, username: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="opsconsole"))
