"""Simulated LLM providers, a population of end users and a traffic generator.

The demo, the tests and the benchmarks use these to drive a real control plane through the SDK
with believable traffic: a daily rhythm, heavy users, slow and failing providers, outages.
"""

from __future__ import annotations

from opsconsole.sim.population import Population, SimUser, make_population
from opsconsole.sim.providers import Outcome, ProviderProfile, SimulatedProviders
from opsconsole.sim.rhythm import DailyRhythm, SimClock
from opsconsole.sim.traffic import ScheduledOutage, TrafficConfig, TrafficGenerator, TrafficStats

__all__ = [
    "DailyRhythm",
    "Outcome",
    "Population",
    "ProviderProfile",
    "ScheduledOutage",
    "SimClock",
    "SimUser",
    "SimulatedProviders",
    "TrafficConfig",
    "TrafficGenerator",
    "TrafficStats",
    "make_population",
]
