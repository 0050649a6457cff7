"""The governance facts of a truth ledger, indexed once for every oracle that applies them.

Finance retiring a cost center (``CostCenterRetired``) and governance publishing a crosswalk entry
(``MappingPublished``) move where work belongs and when it can post, in billing, supply, labor
and master data alike. Each oracle asks the same two questions - was this cost center retired,
and when was this code's mapping (first) published - so the ledger is read for them once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from twin.domain.events import CostCenterRetired, MappingPublished
from twin.observe.truth import TruthLedger, once_per_ledger

NEVER = math.inf


@dataclass(slots=True)
class GovernanceFacts:
    retired: dict[str, CostCenterRetired] = field(default_factory=dict)  # cost center -> its retirement
    published: dict[tuple[str, str], list[MappingPublished]] = field(default_factory=dict)  # (code set, code) ->

    def first_published(self, domain: str, code: str) -> float:
        """When a code's mapping was first published (``NEVER``: it was not)."""
        found = self.published.get((domain, code))
        return found[0].at if found else NEVER

    def publications(self, domain: str, code: str) -> list[MappingPublished]:
        """Every publication of a code's mapping, in the order they happened."""
        return self.published.get((domain, code), [])


@once_per_ledger
def governance_facts(truth: TruthLedger) -> GovernanceFacts:
    """The ledger's governance facts, gathered once per ledger length."""
    facts = GovernanceFacts()
    for fact in truth:
        if isinstance(fact, CostCenterRetired):
            facts.retired.setdefault(fact.cost_center, fact)
        elif isinstance(fact, MappingPublished):
            facts.published.setdefault((fact.domain, fact.code), []).append(fact)
    return facts
