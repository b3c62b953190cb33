"""What the console's connection raises: the server's refusals (RFC 9457 problem details), the
offline refusal of a write, and which transport failures mean "the server cannot be reached"."""

from __future__ import annotations

import httpx
from websockets.exceptions import WebSocketException

# Transport failures that mean "the server cannot be reached right now".
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    OSError,
    TimeoutError,
    WebSocketException,
)


class ApiError(Exception):
    """A request the server refused, from its RFC 9457 problem details."""

    def __init__(self, status: int, title: str, detail: str, *, kind: str = "") -> None:
        super().__init__(f"{title}: {detail}" if detail else title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        kind = str(body.get("type", "")).rsplit("/", 1)[-1]
        title = str(body.get("title") or response.reason_phrase or "Error")
        detail = str(body.get("detail") or response.text[:200])
        error_type = SessionExpiredError if response.status_code == 401 else ApiError
        return error_type(response.status_code, title, detail, kind=kind)


class OfflineError(ApiError):
    """A write while the server cannot be reached: refused, never queued."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, "Offline", detail, kind="offline")


class SessionExpiredError(ApiError):
    """The server no longer accepts the session token (401)."""


class StreamUnavailableError(Exception):
    """The server has no live stream to offer (yet): REST works, live updates do not."""


class TrustRefusedError(Exception):
    """The operator did not confirm the server's certificate: nothing is sent to it."""


def refused(response: httpx.Response) -> ApiError:
    """The server's refusal of a login or step-up: a plain ApiError even for a 401, which
    there means wrong credentials, not an expired session."""
    error = ApiError.from_response(response)
    return ApiError(error.status, error.title, error.detail, kind=error.kind)


def why(error: BaseException) -> str:
    """The first line of an error, short enough for a status bar."""
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]
