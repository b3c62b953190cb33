"""The coloured band naming a profile, so a dialog always says which environment it is for."""

from __future__ import annotations

from opsconsole.console.profiles import Profile
from opsconsole.console.qt import QColor, QLabel, QWidget


def profile_band(profile: Profile, parent: QWidget | None = None) -> QLabel:
    colour = QColor(profile.colour)
    text = "#000000" if colour.lightness() > 150 else "#ffffff"
    band = QLabel(f"<b>{profile.name}</b> &nbsp; {profile.url}", parent)
    band.setObjectName("profileBand")
    band.setStyleSheet(f"background: {colour.name()}; color: {text}; padding: 6px;")
    return band
