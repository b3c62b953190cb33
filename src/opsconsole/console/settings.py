"""The console's settings: each declared once here (name, type, default), kept in an INI file.

User settings live in ``console.ini`` in the platform's config directory; window geometry and
dock state ("UI state") live apart in ``ui-state.ini`` so resetting one never touches the other.
The session token is never written to either file (it lives in the OS keyring, see tokens.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import platformdirs

from opsconsole.console.qt import QSettings

APP_NAME = "opsconsole"
# Tests and the demo point these at their own directories so a real profile is never touched.
CONFIG_DIR_ENV = "OPSCONSOLE_CONSOLE_CONFIG_DIR"
DATA_DIR_ENV = "OPSCONSOLE_CONSOLE_DATA_DIR"

T = TypeVar("T", int, float, str, bool)


def default_config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "console"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One user setting: its key in the INI file, its type and its default."""

    name: str
    type: type[T]
    default: T
    doc: str = ""

    def parse(self, raw: Any) -> T:
        if raw is None or raw == "":
            return self.default
        if self.type is bool:
            text = str(raw).strip().lower()
            return text in {"1", "true", "yes", "on"}  # type: ignore[return-value,unused-ignore]
        try:
            return self.type(raw)
        except (TypeError, ValueError):
            return self.default


CACHE_RETENTION_DAYS = Setting(
    "cache/retention_days", int, 30, "days of cached metrics, alerts and audit rows kept"
)
RECONNECT_BASE_S = Setting(
    "connection/reconnect_base_s", float, 0.5, "first reconnect delay bound (doubles per try)"
)
RECONNECT_CAP_S = Setting(
    "connection/reconnect_cap_s", float, 30.0, "longest wait between reconnect attempts"
)
REQUEST_TIMEOUT_S = Setting("connection/request_timeout_s", float, 10.0, "REST request timeout")
LAST_PROFILE = Setting("profiles/last", str, "", "the profile opened last time")
THEME = Setting(
    "appearance/theme", str, "system", "light, dark, or system (follow the desktop's scheme)"
)
WALL_PAGE_S = Setting("wall/page_s", float, 20.0, "seconds each wall-display page stays up")

ALL_SETTINGS: tuple[Setting[Any], ...] = (
    CACHE_RETENTION_DAYS,
    RECONNECT_BASE_S,
    RECONNECT_CAP_S,
    REQUEST_TIMEOUT_S,
    LAST_PROFILE,
    THEME,
    WALL_PAGE_S,
)


class ConsoleSettings:
    """Typed access to ``console.ini``; also the home of profiles and the cache directory."""

    def __init__(self, config_dir: Path | None = None, data_dir: Path | None = None) -> None:
        self.config_dir = config_dir or default_config_dir()
        self.data_dir = data_dir or default_data_dir()
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.config_dir / "console.ini"
        self.qsettings = QSettings(str(self.path), QSettings.Format.IniFormat)

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def ui_state_path(self) -> Path:
        return self.config_dir / "ui-state.ini"

    def ui_state(self) -> QSettings:
        """Window geometry and dock state, kept apart from the user's settings."""
        return QSettings(str(self.ui_state_path), QSettings.Format.IniFormat)

    def get(self, setting: Setting[T]) -> T:
        return setting.parse(self.qsettings.value(setting.name))

    def set(self, setting: Setting[T], value: T) -> None:
        self.qsettings.setValue(setting.name, value)
        self.qsettings.sync()

    def raw(self) -> QSettings:
        """The underlying QSettings, for groups of values such as profiles."""
        return self.qsettings

    def sync(self) -> None:
        self.qsettings.sync()
