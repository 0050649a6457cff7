"""The billing office: billers who work the claims the payers' front ends rejected.

A registrar who mistypes a member id costs nothing at registration and days at the end: the
payer's front end rejects the claim, and it lands on the clearinghouse's rejection worklist to wait
for a biller (the integration must raise it as an exception too; the judge checks that). Billers -
finite staff per bed, weekdays in office hours - take each rejected claim in turn, spend minutes
finding the right subscriber id (the card, a call to the payer) and correct the registration in
the EHR, which sends an ADT^A08; a correct integration then sends the claim again. A rejection
waiting for the billers is the world's work: a run does not end before it is corrected. What a
design changes is when the rejection reaches the queue and when the corrected claim leaves: at
once, or with the next claim file a biller uploads.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from typing import Any

import simpy

from mocks.ehr.ehr import Ehr
from twin.domain.events import DomainEvent, PatientUpdated
from twin.domain.office_hours import OfficeHours
from twin.scenario import RevenueCycleSpec

ELIGIBILITY = "subscriber id"  # how the payer's front end words a member id it does not know


class BillingOffice:
    """The network's billers and the rejected claims they correct."""

    def __init__(
        self,
        env: simpy.Environment,
        billers: int,
        spec: RevenueCycleSpec,
        hours: OfficeHours,
        ehr: Ehr,
        happen: Callable[[DomainEvent], None],
        rng: random.Random,
    ) -> None:
        self.env = env
        self.spec = spec
        self.hours = hours
        self.ehr = ehr
        self.happen = happen
        self.rng = rng
        self.billers = simpy.Resource(env, capacity=billers)
        self.taken: dict[str, float] = {}  # visit -> when a biller took its rejected claim
        self.corrected: dict[str, float] = {}

    def rejected(self, claim: dict[str, Any], answer: dict[str, Any]) -> None:
        """The clearinghouse rejected ``claim``: an eligibility rejection goes on the worklist (once
        per visit while a biller works it); any other edit is not theirs to fix here."""
        if not any(ELIGIBILITY in str(reason) for reason in answer.get("reasons", [])):
            return
        identifiers = claim.get("identifier") or [{}]
        visit = str(identifiers[0].get("value", "")) if isinstance(identifiers[0], dict) else ""
        if not visit or (visit in self.taken and self.corrected.get(visit, -1.0) < self.taken[visit]):
            return
        self.taken[visit] = self.env.now
        self.env.process(self._correct(visit))

    def _correct(self, visit: str) -> Generator[simpy.Event, object, None]:
        with self.billers.request() as turn:
            yield turn
            spec = self.spec.biller_minutes
            minutes = spec.median * math.exp(self.rng.gauss(0.0, spec.sigma)) if spec.sigma else spec.median
            yield self.env.timeout(self.hours.finish(self.env.now, minutes) - self.env.now)
        encounter = self.ehr.encounters.get(visit)
        if encounter is None:
            return
        member = self.ehr.patients[encounter.mrn].member_id  # from the card: the id the payer knows
        self.happen(
            PatientUpdated(
                self.env.now,
                encounter.hospital,
                visit,
                encounter.mrn,
                encounter.plan_code,
                encounter.financial_class,
                member,
            )
        )
        self.corrected[visit] = self.env.now
