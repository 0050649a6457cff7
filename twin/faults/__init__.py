"""Fault profiles: what goes wrong at the delivery boundary, as data, reproducible by seed.

A scenario's ``faults:`` list (``specs``) names each fault; ``FaultPlan`` (``plan``) answers a
driver at every boundary crossing with what happens instead of a clean delivery. Faults are never
``if`` branches in business logic: the same plan serves the simulated and the live driver, every
fault it injects is counted by kind, and outage windows are known in advance so the oracle can
allow for them. Sans-IO: nothing here imports a driver, sleeps or reads a clock.
"""

from twin.faults.outages import Downtime, OutageWindow
from twin.faults.plan import (
    Alias,
    Corruption,
    DocumentFate,
    FaultPlan,
    Hl7Fate,
    RequestFate,
)
from twin.faults.specs import (
    FAULT_KINDS,
    POISON_VARIANTS,
    ActiveWindow,
    FaultCounter,
    FaultSpec,
    fault_rng,
)

__all__ = [
    "FAULT_KINDS",
    "POISON_VARIANTS",
    "ActiveWindow",
    "Alias",
    "Corruption",
    "DocumentFate",
    "Downtime",
    "FaultCounter",
    "FaultPlan",
    "FaultSpec",
    "Hl7Fate",
    "OutageWindow",
    "RequestFate",
    "fault_rng",
]
