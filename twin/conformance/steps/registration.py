"""Steps for the ADT feed's corrections: how often registration corrects itself (Given), and what
each correction must do to the bill (Then).

The Given steps set ``workload.adt`` (``twin/scenario.py``); the Then steps judge the claims of the
visits the truth says were corrected (``twin/conformance/judge_adt.py``).
"""

from __future__ import annotations

from twin.conformance.context import ScenarioUnderTest
from twin.conformance.judge_adt import judge_corrected_claims, judge_never_billed
from twin.conformance.steps.vocabulary import given, then
from twin.domain.events import (
    AdmissionCancelled,
    DischargeCancelled,
    MemberIdMistyped,
    PatientAdmitted,
    PatientsMerged,
    PatientUpdated,
)

# -- how often registration corrects itself ---------------------------------------------------------


@given(
    "{share:Share} of visits have their insurance corrected during the visit",
    "30% of visits have their insurance corrected during the visit",
)
def insurance_updates(conformance: ScenarioUnderTest, share: float) -> None:
    """Registration corrects a share of visits' coverage mid-visit (ADT^A08 with the new IN1)."""
    conformance.set("workload.adt.insurance_update_share", share)


@given(
    "{share:Share} of registrations are cancelled as entered in error",
    "10% of registrations are cancelled as entered in error",
)
def cancelled_registrations(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of admissions and visit registrations are cancelled minutes later (ADT^A11)."""
    conformance.set("workload.adt.cancel_admission_share", share)


@given(
    "{share:Share} of transfers are cancelled as entered in error",
    "30% of transfers are cancelled as entered in error",
)
def cancelled_transfers(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of transfers are cancelled and the patient goes back to the old bed (ADT^A12)."""
    conformance.set("workload.adt.cancel_transfer_share", share)


@given(
    "{share:Share} of discharges are cancelled as entered in error",
    "20% of discharges are cancelled as entered in error",
)
def cancelled_discharges(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of discharges are cancelled (ADT^A13); the patient leaves hours later (a second A03)."""
    conformance.set("workload.adt.cancel_discharge_share", share)


@given(
    "{share:Share} of member ids are mistyped at registration",
    "20% of member ids are mistyped at registration",
)
def mistyped_member_ids(conformance: ScenarioUnderTest, share: float) -> None:
    """Registration keys a share of member ids wrong: the payer's front end rejects those claims until
    a biller corrects the registration (an ADT^A08)."""
    conformance.set("revenue_cycle.registration_error_share", share)


@given(
    "{share:Share} of visits are registered under a duplicate medical record number",
    "20% of visits are registered under a duplicate medical record number",
)
def duplicate_mrns(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of visits get a second MRN, which HIM merges into the older record before coding (ADT^A40)."""
    conformance.set("workload.adt.duplicate_mrn_share", share)


# -- what each correction must do to the bill -------------------------------------------------------


@then(
    "every claim goes to the payer of the coverage current at coding",
    "every claim goes to the payer of the coverage current at coding",
)
def payer_current_at_coding(conformance: ScenarioUnderTest) -> None:
    """The claims (and receivables) of visits whose coverage was corrected bill the corrected payer."""
    conformance.verdict(
        judge_corrected_claims(conformance, PatientUpdated, ("payer", "customer"), "visits whose coverage changed")
    )


@then("no cancelled registration is billed", "no cancelled registration is billed")
def cancelled_never_billed(conformance: ScenarioUnderTest) -> None:
    """A visit cancelled as entered in error never reaches the ERP or the clearinghouse."""
    conformance.verdict(judge_never_billed(conformance, AdmissionCancelled, "cancelled registrations"))


@then(
    "every claim bills the discharge that counted, not a cancelled one",
    "every claim bills the discharge that counted, not a cancelled one",
)
def discharge_that_counted(conformance: ScenarioUnderTest) -> None:
    """The claim of a visit whose discharge was cancelled bills its final discharge."""
    conformance.verdict(
        judge_corrected_claims(conformance, DischargeCancelled, ("discharged",), "visits whose discharge was cancelled")
    )


@then(
    "every claim of a merged patient names the surviving record",
    "every claim of a merged patient names the surviving record",
)
def merged_patient(conformance: ScenarioUnderTest) -> None:
    """A visit registered under an MRN that was merged away bills under the survivor."""
    conformance.verdict(judge_corrected_claims(conformance, PatientsMerged, ("patient",), "merged patients"))


@then(
    "every claim the payer rejected is raised and billed once registration corrected it",
    "every claim the payer rejected is raised and billed once registration corrected it",
)
def rejected_claims(conformance: ScenarioUnderTest) -> None:
    """The claim of a visit whose member id registration mistyped: rejected by the payer's front end,
    raised as a ``claim_rejected`` exception, and billed - with the id the payer knows - once corrected."""
    conformance.verdict(
        judge_corrected_claims(
            conformance, MemberIdMistyped, ("member",), "visits whose member id registration mistyped"
        )
    )


@then(
    "every emergency and outpatient visit is billed on a professional claim",
    "every emergency and outpatient visit is billed on a professional claim",
)
def professional_claims(conformance: ScenarioUnderTest) -> None:
    """Visits that are not stays bill on a professional claim, without a DRG."""
    conformance.verdict(
        judge_corrected_claims(
            conformance,
            PatientAdmitted,
            ("type", "drg"),
            "emergency and outpatient visits",
            where=lambda fact: getattr(fact, "encounter_type", "") in ("emergency", "outpatient"),
        )
    )
