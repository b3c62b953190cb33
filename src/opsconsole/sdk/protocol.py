"""The requests the SDK sends: connection settings, paths, bodies, and what their answers mean.

Both clients build every request here and hand only the sending to their transport.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from opsconsole.sdk.errors import (
    GateUnavailable,
    describe_failure,
    refusal,
    unavailable_status,
)

# Report batches and user/ticket calls are off the hot path: give a busy control plane time.
SLOW_TIMEOUT_S = 5.0
USER_AGENT = "opsconsole-sdk"

ADMIT_PATH = "/v1/gate/admit"
REPORT_PATH = "/v1/gate/report"

# One batch registration carries at most this many users (the server's limit).
MAX_USERS_PER_BATCH = 1000


def http_options(
    base_url: str, app_key: str, timeout: float, verify: bool | str, max_connections: int
) -> dict[str, Any]:
    """Keyword arguments for httpx.Client / AsyncClient: one pool, kept alive, sized for load."""
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    if not app_key:
        raise ValueError("app_key is empty: create one with `opsconsole admin app-key`")
    return {
        "base_url": base_url.rstrip("/"),
        "headers": {"Authorization": f"Bearer {app_key}", "User-Agent": USER_AGENT},
        "timeout": httpx.Timeout(timeout),
        "limits": httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30,
        ),
        "verify": verify,
    }


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# --- the hot path ----------------------------------------------------------------------------


def admit_body(
    user_id: str, feature: str, estimated_tokens: int | None, dry_run: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user_id, "feature": feature, "dry_run": dry_run}
    if estimated_tokens is not None:
        body["estimated_tokens"] = estimated_tokens
    return body


# --- off the hot path: report batches, users and tickets ------------------------------------

# What a request came to: the control plane's answer, or the transport failure instead of one.
Sent = httpx.Response | httpx.TransportError


@dataclass(frozen=True, slots=True)
class Call:
    """One request off the hot path, sent with :data:`SLOW_TIMEOUT_S`."""

    method: str
    path: str
    body: dict[str, Any]

    def answer(self, sent: Sent) -> dict[str, Any]:
        """The answer's JSON object ({} when there is none), or the error the outcome means.

        User and ticket calls raise rather than degrade: nothing waits on them in the hot path.
        """
        if isinstance(sent, httpx.TransportError):
            failure = describe_failure(sent)
            raise GateUnavailable(f"{self.method} {self.path}: {failure}") from sent
        if unavailable_status(sent.status_code):
            raise GateUnavailable(f"{self.method} {self.path}: HTTP {sent.status_code}")
        if sent.status_code >= 400:
            raise refusal(sent)
        data = json_or_none(sent)
        return data if isinstance(data, dict) else {}


def status_and_body(sent: Sent) -> tuple[int | None, Any]:
    """The status (None without an answer) and the JSON body (or what went wrong instead)."""
    if isinstance(sent, httpx.TransportError):
        return None, describe_failure(sent)
    return sent.status_code, json_or_none(sent)


def user_call(
    user_id: str, *, email: str | None, name: str | None, tier: str | None, country: str | None
) -> Call:
    fields = {"email": email, "name": name, "tier": tier, "country": country}
    body = {key: value for key, value in fields.items() if value is not None}
    return Call("PUT", f"/v1/users/{quote(user_id, safe='')}", body)


def users_call(users: Iterable[Mapping[str, Any]]) -> Call:
    """A batch registration, without the None values (they keep theirs)."""
    body = [{key: value for key, value in user.items() if value is not None} for user in users]
    if not 1 <= len(body) <= MAX_USERS_PER_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_USERS_PER_BATCH} users, not {len(body)}")
    return Call("PUT", "/v1/users", {"users": body})


def user_counts(answer: dict[str, Any]) -> dict[str, int]:
    """A batch registration's answer: how many users were created, updated, unchanged."""
    return {key: int(value) for key, value in answer.items()}


def ticket_call(user_id: str, subject: str, body: str, priority: str) -> Call:
    payload = {"user_id": user_id, "subject": subject, "body": body, "priority": priority}
    return Call("POST", "/v1/tickets", payload)
