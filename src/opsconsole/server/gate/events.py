"""Notices of committed operator changes, which the running gate applies to its copies."""

from __future__ import annotations

from dataclasses import dataclass

from opsconsole.server.gate.state import SwitchState


@dataclass(frozen=True)
class SwitchChanged:
    """Emitted when a switch changes; applied to the gate once the change is committed."""

    state: SwitchState


@dataclass(frozen=True)
class TiersChanged:
    pass


@dataclass(frozen=True)
class ProvidersChanged:
    pass


@dataclass(frozen=True)
class BreakerReset:
    provider: str
