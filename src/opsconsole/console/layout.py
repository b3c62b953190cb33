"""The operator's arrangement of the main window, saved per profile and restored on start.

Kept in the "UI state" file (``ui-state.ini``), apart from the user's settings: the window
geometry, the dock state (``QMainWindow.saveState`` with a version number) and what each
pane chose (chart range, splitter sizes, column widths) as JSON. A saved state of another
version, or one Qt refuses, falls back to the default layout.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from opsconsole.console.qt import QByteArray, QMainWindow, QSettings

log = logging.getLogger("opsconsole.console.layout")

# Raise when docks are added, removed or renamed: older saved states then fall back.
LAYOUT_VERSION = 1

PaneStates = dict[str, dict[str, Any]]


class LayoutStore:
    """The saved layout of one profile.

    Args:
        settings: the UI-state QSettings (``ConsoleSettings.ui_state()``).
        profile: the profile's name; each profile keeps its own arrangement.
    """

    def __init__(self, settings: QSettings, profile: str) -> None:
        self._q = settings
        self._prefix = f"layout/{profile}/"

    def save(self, window: QMainWindow, panes: PaneStates) -> None:
        self._q.setValue(self._prefix + "version", LAYOUT_VERSION)
        self._q.setValue(self._prefix + "geometry", window.saveGeometry())
        self._q.setValue(self._prefix + "state", window.saveState(LAYOUT_VERSION))
        self._q.setValue(self._prefix + "panes", json.dumps(panes, sort_keys=True))
        self._q.sync()

    def has_saved(self) -> bool:
        return self._q.value(self._prefix + "state") is not None

    def restore(self, window: QMainWindow) -> PaneStates | None:
        """Apply the saved geometry and docks; the panes' states to apply, None if none fit."""
        try:
            version = int(self._q.value(self._prefix + "version", 0))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            version = 0
        state = self._q.value(self._prefix + "state")
        if version != LAYOUT_VERSION or not isinstance(state, QByteArray):
            if state is not None:
                log.info("saved layout is of version %s, not %s: default", version, LAYOUT_VERSION)
            return None
        geometry = self._q.value(self._prefix + "geometry")
        if isinstance(geometry, QByteArray):
            window.restoreGeometry(geometry)
        if not window.restoreState(state, LAYOUT_VERSION):
            log.warning("saved dock state refused by Qt: default layout")
            return None
        try:
            panes = json.loads(str(self._q.value(self._prefix + "panes", "{}")))
        except json.JSONDecodeError:
            panes = {}
        return panes if isinstance(panes, dict) else {}

    def clear(self) -> None:
        self._q.remove(self._prefix.rstrip("/"))
        self._q.sync()
