"""Impersonation tokens: opaque random secrets with their own prefix, stored as SHA-256.

The prefix lets the operator API refuse such a token at once, by its look, before any lookup:
an impersonation token is for the AI app's backend, which asks the control plane what it
means; it is never a credential of the control plane itself.
"""

from __future__ import annotations

from opsconsole.server.auth import credentials

IMPERSONATION_TOKEN_PREFIX = "oci_"  # noqa: S105 - a prefix, not a secret


def new_token() -> str:
    return credentials.new_secret(IMPERSONATION_TOKEN_PREFIX)


def is_impersonation_token(token: str) -> bool:
    return token.startswith(IMPERSONATION_TOKEN_PREFIX)


def digest(token: str) -> str:
    return credentials.digest(token)
