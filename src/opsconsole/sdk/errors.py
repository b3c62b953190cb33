"""What the SDK raises, and which control-plane answers mean which error.

A 429 or 5xx (or no answer at all) means the control plane is unavailable: ``admit`` lets the
fail mode decide, other calls raise :class:`GateUnavailable`. Any other 4xx is the calling
code's mistake and raises :class:`GateError`, because failing open on it would hide the bug.
"""

from __future__ import annotations

from typing import Any

import httpx


class GateError(Exception):
    """The control plane refused a call as wrong (4xx other than 429): fix the calling code.

    Attributes:
        status: the HTTP status.
        problem_type: the RFC 9457 problem type URI (or "" when the body was not a problem).
        detail: what the control plane says went wrong and what to do about it.
        problem: the whole problem-details body.
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.problem_type = str(problem.get("type", ""))
        self.detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        super().__init__(f"HTTP {status}: {self.detail}")


class GateUnavailable(Exception):  # noqa: N818 - reads as the state it reports
    """The control plane could not be reached or did not answer in time (or answered 429/5xx)."""


def unavailable_status(status: int) -> bool:
    return status == 429 or status >= 500


def refusal(response: httpx.Response) -> GateError:
    """The error for a 4xx answer, carrying its problem details."""
    return GateError(response.status_code, problem_of(response))


def problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"detail": response.text[:500]}
    return data if isinstance(data, dict) else {"detail": str(data)[:500]}


def describe_failure(exc: BaseException) -> str:
    """How a transport failure reads in logs and in :class:`GateUnavailable` messages."""
    return f"{type(exc).__name__}: {exc}"
