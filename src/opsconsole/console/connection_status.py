"""The connection's state as the operator sees it: connected, reconnecting in N s, offline since
HH:MM with data as of HH:MM, or a session to log in to again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    SESSION_EXPIRED = "session_expired"


@dataclass(frozen=True)
class ConnectionStatus:
    state: ConnectionState
    retry_in_s: float | None = None  # RECONNECTING: next attempt in N s
    offline_since: datetime | None = None
    data_as_of: datetime | None = None  # newest cached data, for the "data as of" marker
    detail: str = ""
    # The server's clock minus this machine's, as last seen on the stream. Charts and alerts
    # show the server's times (in the demo, a simulated day that runs in five minutes), so the
    # offline times are shown on that clock too; in production the two agree to a second.
    server_clock_offset: timedelta = timedelta(0)

    def on_server_clock(self, moment: datetime) -> datetime:
        return moment + self.server_clock_offset

    def describe(self) -> str:
        """One line for a status bar: connected / reconnecting in N s / offline since HH:MM."""
        parts: list[str] = []
        if self.state is ConnectionState.CONNECTED:
            parts.append("connected")
        elif self.state is ConnectionState.CONNECTING:
            parts.append("connecting")
        elif self.state is ConnectionState.SESSION_EXPIRED:
            parts.append("session expired: log in again")
        elif self.state is ConnectionState.RECONNECTING and self.offline_since is None:
            parts.append(f"reconnecting in {self.retry_in_s or 0:.0f} s")
        else:
            since = (
                f" since {_hhmm(self.on_server_clock(self.offline_since))}"
                if self.offline_since
                else ""
            )
            parts.append(f"offline{since}")
            if self.retry_in_s is not None:
                parts.append(f"reconnecting in {self.retry_in_s:.0f} s")
            if self.data_as_of is not None:
                parts.append(f"data as of {_hhmm(self.on_server_clock(self.data_as_of))}")
        if self.detail:
            parts.append(self.detail)
        return " · ".join(parts)


def _hhmm(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")
