"""Impersonation tokens: opaque random secrets with their own prefix, stored as SHA-256.

The prefix lets the operator API refuse such a token at once, by its look, before any lookup:
an impersonation token is for the AI app's backend, which asks the control plane what it
means; it is never a credential of the control plane itself.
"""

from __future__ import annotations

import re

from opsconsole.server.auth import credentials

IMPERSONATION_TOKEN_PREFIX = "oci_"  # noqa: S105 - a prefix, not a secret
# The whole look: the prefix and 32 random bytes in URL-safe base64 (43 characters). Only a
# token of this shape is refused as an impersonation; "oci_" alone or "oci_x" is just a bad
# credential, answered 401 like any other (a fuzzer found "Bearer oci_" answered 403).
_LOOK = re.compile(re.escape(IMPERSONATION_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return credentials.new_secret(IMPERSONATION_TOKEN_PREFIX)


def is_impersonation_token(token: str) -> bool:
    return _LOOK.fullmatch(token) is not None


def digest(token: str) -> str:
    return credentials.digest(token)
