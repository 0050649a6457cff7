"""Registration: the admission of a visit, and the corrections a real ADT feed carries.

Registrars admit and register (A01/A04), and make the mistakes a real registration desk makes: a
member id keyed wrong (the payer's front end rejects the claim until a biller corrects it), a
registration entered in error and cancelled (A11), a coverage corrected during the visit (A08), a
visit registered under a second MRN that HIM merges into the patient's older record before coding
(A40). Each is drawn from the hospital's own ``adt`` stream, so the inpatient workload's draws stay
as they were; the shares are the scenario's ``workload.adt`` and ``revenue_cycle``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator

import simpy

from twin.domain.events import (
    AdmissionCancelled,
    DomainEvent,
    Fact,
    MemberIdMistyped,
    PatientAdmitted,
    PatientsMerged,
    PatientUpdated,
)
from twin.domain.model import Hospital, Patient, Payer
from twin.scenario import AdtSpec, RevenueCycleSpec

SURVIVOR_MRN_BASE = 9_000_000  # the older records duplicate registrations should have used count from here


class Registration:
    """One hospital's registration desk (see the module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        hospital: Hospital,
        payers: tuple[Payer, ...],
        adt: AdtSpec,
        revenue: RevenueCycleSpec,
        adt_rng: random.Random,
        happen: Callable[[DomainEvent], None],
        register: Callable[[Patient, str], None],
    ) -> None:
        self.env = env
        self.hospital = hospital
        self.payers = payers
        self.adt = adt
        self.revenue = revenue
        self.adt_rng = adt_rng
        self.happen = happen
        self.register = register
        self.witness: Callable[[Fact], None] | None = None  # records facts no interface publishes (the world's)
        self.survivors = 0  # older records that duplicate registrations are merged into
        self.duplicates: dict[str, bool] = {}  # visit -> registered under a duplicate MRN

    def admit(
        self, patient: Patient, visit: str, location: str, bed: str, encounter_type: str, rng: random.Random
    ) -> None:
        """A01 for a bedded stay, A04 for a visit: ``location`` a unit, or a department for a visit."""
        self.happen(
            PatientAdmitted(
                at=self.env.now,
                hospital=self.hospital.code,
                visit=visit,
                mrn=patient.mrn,
                unit=location,
                bed=bed,
                attending_npi=rng.choice(self.hospital.providers).npi,
                plan_code=patient.payer.plan_code,
                financial_class=patient.payer.financial_class,
                encounter_type=encounter_type,
                member_id=self.keyed_member_id(patient, visit),
            )
        )

    def keyed_member_id(self, patient: Patient, visit: str) -> str:
        """The member id as registration keys it: for a share of visits two digits transposed (the
        payer's front end will reject the claim until a biller corrects it; the truth records it)."""
        member = patient.member_id
        if self.adt_rng.random() >= self.revenue.registration_error_share:
            return member
        keyed = self._mistype(member)
        if self.witness is not None:
            self.witness(MemberIdMistyped(self.env.now, self.hospital.code, visit, keyed, member))
        return keyed

    def _mistype(self, member: str) -> str:
        digits = list(member)
        for _ in range(len(digits)):
            at = self.adt_rng.randrange(len(digits) - 1)
            if digits[at] != digits[at + 1]:
                digits[at], digits[at + 1] = digits[at + 1], digits[at]
                return "".join(digits)
        return member[:-1] + str((int(member[-1]) + 1) % 10)  # every digit the same: mistype the last

    def cancelled(
        self, patient: Patient, visit: str, location: str, bed: str, encounter_type: str, rng: random.Random
    ) -> Generator[simpy.Event, object, None]:
        """A registration entered in error (a duplicate, the wrong patient) and cancelled (A11) before
        anything was done: the visit never happened and must never bill."""
        self.admit(patient, visit, location, bed, encounter_type, rng)
        yield self.env.timeout(self.adt_rng.uniform(5, 60))
        self.happen(AdmissionCancelled(self.env.now, self.hospital.code, visit))

    def corrections(self, patient: Patient, visit: str, admitted: float, length: float) -> None:
        """Decide the visit's corrections: its coverage corrected during the visit (A08), its
        registration under a duplicate MRN (merged before coding, ``merge_duplicate``)."""
        rng = self.adt_rng
        if rng.random() < self.adt.insurance_update_share and length >= 2.0:  # a visit with time to correct
            others = [p for p in self.payers if p.plan_code != patient.payer.plan_code and p.financial_class != "SP"]
            if others:
                payer = rng.choice(others)
                at = admitted + max(1.0, rng.uniform(0.05, 0.8) * length)  # never in the admission's minute
                self.env.process(self._update_insurance(patient, visit, payer, at))
        self.duplicates[visit] = rng.random() < self.adt.duplicate_mrn_share

    def _update_insurance(
        self, patient: Patient, visit: str, payer: Payer, at: float
    ) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(max(0.0, at - self.env.now))
        update = PatientUpdated(
            self.env.now,
            self.hospital.code,
            visit,
            patient.mrn,
            payer.plan_code,
            payer.financial_class,
            patient.member_id,
        )
        self.happen(update)

    def merge_duplicate(self, patient: Patient, visit: str, discharged: float, before: float) -> None:
        """A visit registered under a second MRN: HIM finds the duplicate while the chart waits for
        coding and merges it into the patient's older record (A40), which survives and bills."""
        if not self.duplicates.pop(visit, False):
            return
        self.survivors += 1
        survivor = Patient(
            f"{self.hospital.code}M{SURVIVOR_MRN_BASE + self.survivors:07d}",
            patient.family,
            patient.given,
            patient.birth_date,
            patient.sex,
            patient.payer,
            patient.member_id,
        )
        at = discharged + self.adt_rng.uniform(0.1, 0.9) * before  # before the chart reaches the coders
        self.env.process(self._merge(survivor, patient, visit, at))

    def _merge(self, survivor: Patient, merged: Patient, visit: str, at: float) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(max(0.0, at - self.env.now))
        self.register(survivor, self.hospital.code)
        self.happen(PatientsMerged(self.env.now, self.hospital.code, visit, survivor.mrn, merged.mrn))
