"""The client an AI app's backend embeds: admit before each AI request, report after it.

``GateClient`` is the thread-safe synchronous client, ``AsyncGateClient`` the asyncio one;
both keep one keep-alive connection pool, answer from their fail mode when the control plane
is unreachable, and batch reports in the background.
"""

from opsconsole.sdk.aio import AsyncGateClient
from opsconsole.sdk.client import Decision, FailMode, GateClient, GateError, GateUnavailable
from opsconsole.wire.gate import DenyReason, Remaining

__all__ = [
    "AsyncGateClient",
    "Decision",
    "DenyReason",
    "FailMode",
    "GateClient",
    "GateError",
    "GateUnavailable",
    "Remaining",
]
