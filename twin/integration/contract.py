"""The plug-in contract, where integrations written before it moved look for it.

It lives in ``twin.domain.contract`` (the harness, the drivers and every integration share it);
this module re-exports it unchanged.
"""

from twin.domain.contract import (
    DeadLetter,
    FhirOutcome,
    HospitalReference,
    Integration,
    IntegrationException,
    IntegrationFactory,
    Outcome,
    ReferenceData,
    RunContext,
)

__all__ = [
    "DeadLetter",
    "FhirOutcome",
    "HospitalReference",
    "Integration",
    "IntegrationException",
    "IntegrationFactory",
    "Outcome",
    "ReferenceData",
    "RunContext",
]
