"""The integration designs a scenario may name: the vocabulary, without the schedules.

A scenario says ``integration: {design: NAME}``; the scenario schema, the CLI and the comparison
tables need the names and what each stands for, and must not depend on the reference
integration's code to know them. The schedules that make each design what it is live with the
reference integration (``twin.integration.designs``), keyed by these names.
"""

from __future__ import annotations

EVENT_DRIVEN = "event-driven"
POINT_TO_POINT_BATCH = "point-to-point-batch"
HYBRID = "hybrid"

DESIGN_DESCRIPTIONS: dict[str, str] = {
    EVENT_DRIVEN: "Middleware in real time: every document goes to its target the moment the integration makes it "
    "(discharge-triggered billing, consumption to inventory, replenishment, payables); labor by its nightly sync.",
    POINT_TO_POINT_BATCH: "The brief's typical disconnected pattern: revenue journals in a nightly batch (01:00) whose "
    "claim file a biller uploads to the clearinghouse at 09:00 on business days, supply usage keyed in by materials "
    "staff the next business day (10:00), purchase orders, vendor orders and AP invoices in the nightly batch; labor "
    "by its nightly sync.",
    HYBRID: "Real time where it pays: discharge to billing, supply usage and the replenishment it triggers; the GL "
    "side that is not time-critical (AP invoices) in the nightly batch (01:00); labor by its nightly sync.",
}
DEFAULT_DESIGN = EVENT_DRIVEN


class UnknownDesign(ValueError):
    """A design name that is not one of ``DESIGN_DESCRIPTIONS``; the message lists the names there are."""


def known_designs() -> str:
    """The design names, for messages: "event-driven, hybrid, point-to-point-batch"."""
    return ", ".join(sorted(DESIGN_DESCRIPTIONS))


def check_design(name: str) -> str:
    """``name`` if it is a design; ``UnknownDesign`` naming the designs there are otherwise."""
    if name not in DESIGN_DESCRIPTIONS:
        raise UnknownDesign(f"unknown integration design {name!r}; the designs are {known_designs()}")
    return name
