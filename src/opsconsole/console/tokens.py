"""Where the session token lives: the OS keyring, or this process's memory when there is none.

The token never goes to the settings file or the cache. On headless Linux ``keyring`` finds no
backend (``keyring.backends.fail.Keyring``); the store then says so once and keeps the token in
memory only, so the operator logs in again at the next start.
"""

from __future__ import annotations

import logging

import keyring
import keyring.errors
from keyring.backends import fail

log = logging.getLogger("opsconsole.console.tokens")

SERVICE = "opsconsole"
NO_KEYRING = (
    "No keyring backend is available: the session token is kept in memory only, and you "
    "will be asked to log in again next time."
)


class TokenStore:
    """Session tokens by profile name, in the keyring when one exists."""

    def __init__(self, *, memory_only: bool = False) -> None:
        """``memory_only``: never touch the keyring (the demo's throw-away sessions)."""
        self._memory: dict[str, str] = {}
        self._warned = False
        self.warning: str | None = None
        self.persistent = False
        if memory_only:
            return
        backend = keyring.get_keyring()
        self.persistent = not isinstance(backend, fail.Keyring)
        if not self.persistent:
            self._fall_back(NO_KEYRING)

    def get(self, profile: str) -> str | None:
        if profile in self._memory:
            return self._memory[profile]
        if not self.persistent:
            return None
        try:
            return keyring.get_password(SERVICE, profile)
        except keyring.errors.KeyringError as error:
            self._fall_back(f"The keyring failed ({error}); the token is kept in memory only.")
            return None

    def set(self, profile: str, token: str) -> None:
        if self.persistent:
            try:
                keyring.set_password(SERVICE, profile, token)
                return
            except keyring.errors.KeyringError as error:
                self._fall_back(
                    f"The keyring refused the token ({error}); it is kept in memory only."
                )
        self._memory[profile] = token

    def delete(self, profile: str) -> None:
        self._memory.pop(profile, None)
        if not self.persistent:
            return
        try:
            keyring.delete_password(SERVICE, profile)
        except keyring.errors.PasswordDeleteError:
            pass  # nothing stored: nothing to forget
        except keyring.errors.KeyringError as error:
            log.warning("could not remove the token of %s from the keyring: %s", profile, error)

    def take_warning(self) -> str | None:
        """The fallback notice, the first time it is asked for only ("say so once")."""
        if self.warning is None or self._warned:
            return None
        self._warned = True
        return self.warning

    def _fall_back(self, why: str) -> None:
        self.persistent = False
        if self.warning is None:
            self.warning = why
            log.warning("%s", why)
