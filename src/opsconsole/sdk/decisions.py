"""What ``admit`` answers: the gate's decision as it arrives, or the fail mode's when it cannot.

No I/O happens here, so the sync and the async client decide exactly alike.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opsconsole.wire.gate import DenyReason, Remaining

log = logging.getLogger("opsconsole.sdk")


class FailMode(StrEnum):
    """What ``admit`` answers when the control plane cannot be reached.

    ``open``: allow through ``fallback_provider`` (the AI feature keeps working, unmetered).
    ``closed``: deny with reason ``no_provider`` (nothing is spent that nobody counts).
    ``raise``: raise :class:`GateUnavailable` and let the caller decide.
    """

    OPEN = "open"
    CLOSED = "closed"
    RAISE = "raise"


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer to one ``admit``.

    Attributes:
        allow: whether the AI request may go ahead.
        provider: the provider to call (the fallback provider when degraded and failing open).
        model: the provider's model; None when denied or degraded.
        reason: a :class:`~opsconsole.wire.gate.DenyReason` (``ok`` when allowed); a plain
            string only if the control plane is newer than this SDK and sent a new reason.
        decision_id: what ``report`` refers to; None for denials, dry runs and degraded
            decisions (their reports are skipped).
        retry_after_s: when a denial lifts by itself (rate limits), if the gate knows.
        remaining: the user's remaining quota and budget, when the gate sends it.
        degraded: True when the control plane could not answer and the fail mode decided.
        policy: the routing policy that picked the provider, if the gate says.
        experiment: the traffic-split experiment the decision belongs to, if any.
    """

    allow: bool
    provider: str | None
    model: str | None
    reason: DenyReason | str
    decision_id: str | None = None
    retry_after_s: float | None = None
    remaining: Remaining | None = None
    degraded: bool = False
    policy: str | None = None
    experiment: str | None = None


def parse_fail_mode(value: FailMode | str) -> FailMode:
    try:
        return FailMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in FailMode)
        raise ValueError(f"fail_mode must be one of {choices}, not {value!r}") from None


def parse_decision(data: Any) -> Decision:
    """A Decision from an admit response body; ValueError when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("allow"), bool):
        raise ValueError(f"not an admit response: {str(data)[:200]}")
    raw_reason = str(data.get("reason", ""))
    # A reason this SDK does not know yet stays a string rather than failing the request.
    reason: DenyReason | str = (
        DenyReason(raw_reason) if raw_reason in DenyReason._value2member_map_ else raw_reason
    )
    remaining = data.get("remaining")
    return Decision(
        allow=data["allow"],
        provider=data.get("provider"),
        model=data.get("model"),
        reason=reason,
        decision_id=data.get("decision_id"),
        retry_after_s=data.get("retry_after_s"),
        remaining=Remaining.model_validate(remaining) if remaining is not None else None,
        policy=data.get("policy"),
        experiment=data.get("experiment"),
    )


def degraded_decision(fail_mode: FailMode, fallback_provider: str) -> Decision:
    if fail_mode is FailMode.OPEN:
        return Decision(True, fallback_provider, None, DenyReason.OK, degraded=True)
    # No dedicated reason exists for "control plane unreachable" in the closed set the app
    # switches on; no_provider is the nearest truthful one and ``degraded`` tells them apart.
    return Decision(False, None, None, DenyReason.NO_PROVIDER, degraded=True)


class Reachability:
    """Logs the control plane going away and coming back once, not on every call."""

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()

    def failed(self, what: str, why: str, fail_mode: FailMode) -> None:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.warning(
                "control plane unreachable (%s: %s); admit fails %s until it answers again",
                what,
                why,
                fail_mode.value,
            )

    def succeeded(self) -> None:
        with self._lock:
            recovered, self._down = self._down, False
        if recovered:
            log.warning("control plane reachable again")
