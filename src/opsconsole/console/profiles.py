"""Connection profiles: a named server URL with a colour (prod in red, staging in blue).

Profiles are kept in the settings file under ``profiles/<name>/``, together with the one
certificate the operator confirmed for that profile (see trust.py). Never a token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from opsconsole.console.settings import LAST_PROFILE, ConsoleSettings

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
DEFAULT_COLOURS = {"prod": "#c62828", "production": "#c62828", "staging": "#1565c0"}
FALLBACK_COLOUR = "#2e7d32"
_GROUP = "profile"


class ProfileError(ValueError):
    """A profile name, URL or colour that cannot be used, with what to do instead."""


@dataclass(frozen=True)
class Profile:
    """Where to connect and how the window shows it.

    Attributes:
        name: lower-case identifier; names the cache file too.
        url: the control plane's base URL, ``https://host:port``.
        colour: a QColor name (``#c62828``, ``red``) for the title band.
        pinned_pem: the certificate the operator confirmed, PEM; the only one trusted.
        username: the operator who logged in last, to prefill the login dialog.
        impersonation_url: the AI app's page that accepts an impersonation token, with
            ``{token}`` where it goes (``https://app.example.com/?impersonate={token}``);
            empty when the app has none.
    """

    name: str
    url: str
    colour: str = FALLBACK_COLOUR
    pinned_pem: str | None = None
    username: str = ""
    impersonation_url: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    def with_pin(self, pem: str | None) -> Profile:
        return replace(self, pinned_pem=pem)


def validate(name: str, url: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ProfileError(
            f"profile name {name!r}: use lower-case letters, digits, '.', '_' or '-'"
        )
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ProfileError(f"profile URL {url!r}: give https://host:port")


def default_colour(name: str) -> str:
    return DEFAULT_COLOURS.get(name, FALLBACK_COLOUR)


class ProfileStore:
    """Read and write profiles in the console's settings file."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self._settings = settings
        self._q = settings.raw()

    def names(self) -> list[str]:
        self._q.beginGroup(_GROUP)
        try:
            return sorted(self._q.childGroups())
        finally:
            self._q.endGroup()

    def get(self, name: str) -> Profile | None:
        if name not in self.names():
            return None
        prefix = f"{_GROUP}/{name}/"
        pem = self._q.value(prefix + "pinned_pem")
        return Profile(
            name=name,
            url=str(self._q.value(prefix + "url", "")),
            colour=str(self._q.value(prefix + "colour", default_colour(name))),
            pinned_pem=str(pem) if pem else None,
            username=str(self._q.value(prefix + "username", "")),
            impersonation_url=str(self._q.value(prefix + "impersonation_url", "")),
        )

    def all(self) -> list[Profile]:
        return [p for p in (self.get(n) for n in self.names()) if p is not None]

    def save(self, profile: Profile) -> None:
        validate(profile.name, profile.url)
        prefix = f"{_GROUP}/{profile.name}/"
        self._q.setValue(prefix + "url", profile.url)
        self._q.setValue(prefix + "colour", profile.colour)
        self._q.setValue(prefix + "username", profile.username)
        if profile.impersonation_url:
            self._q.setValue(prefix + "impersonation_url", profile.impersonation_url)
        else:
            self._q.remove(prefix + "impersonation_url")
        if profile.pinned_pem:
            self._q.setValue(prefix + "pinned_pem", profile.pinned_pem)
        else:
            self._q.remove(prefix + "pinned_pem")
        self._q.sync()

    def remove(self, name: str) -> None:
        self._q.remove(f"{_GROUP}/{name}")
        self._q.sync()

    def choose(self, name: str | None) -> Profile:
        """The profile asked for, else the last one used, else the only one there is."""
        wanted = name or self._settings.get(LAST_PROFILE)
        names = self.names()
        if wanted:
            profile = self.get(wanted)
            if profile is None:
                known = ", ".join(names) or "none yet"
                raise ProfileError(
                    f"no profile named {wanted!r} (known: {known}); create it with "
                    f"`opsconsole console --profile {wanted} --url https://HOST:PORT`"
                )
            return profile
        if len(names) == 1:
            only = self.get(names[0])
            assert only is not None
            return only
        if not names:
            raise ProfileError(
                "no connection profile yet: create one with "
                "`opsconsole console --profile NAME --url https://HOST:PORT [--colour red]`"
            )
        raise ProfileError(f"several profiles exist ({', '.join(names)}): pick one with --profile")

    def remember(self, profile: Profile) -> None:
        self._settings.set(LAST_PROFILE, profile.name)
