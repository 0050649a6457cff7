"""The judge on the ADT vocabulary a real feed carries: each correction registration makes is planted
as an integration that ignores it (``tests/broken.py``), and the judge names the claim it got wrong.

- an insurance update (A08) ignored: the claim and the receivable go to the pre-update payer;
- a merge (A40) ignored: the claim bills the merged-away MRN;
- a cancelled discharge (A13) ignored, the real discharge taken for a duplicate: the claim bills the
  discharge that was cancelled;
- every claim institutional: the emergency and outpatient visits' claims are the wrong type;

and the reference integration, on the same busy scenario, is in sync (no claim for a cancelled
registration, none for the wrong patient, payer or discharge).
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from tests.conftest import conform, faults_demo, small_scenario
from twin.domain.events import (
    AdmissionCancelled,
    DischargeCancelled,
    MessageCorrupted,
    MessageRepaired,
    PatientAdmitted,
    PatientDischarged,
    PatientsMerged,
    PatientUpdated,
    TransferCancelled,
)
from twin.observe.expectations import CLAIM, EXCEPTION, RECEIVABLE
from twin.scenario import Scenario
from twin.sim import RunResult, Twin
from twin.suts import load_sut

# Registration at its worst: every kind of correction dozens of times in three days of one hospital.
BUSY_ADT = {
    "insurance_update_share": 0.3,
    "cancel_admission_share": 0.1,
    "cancel_transfer_share": 0.3,
    "cancel_discharge_share": 0.2,
    "duplicate_mrn_share": 0.2,
}


def _busy() -> Scenario:
    workload = small_scenario().workload.model_dump()
    workload["adt"] = BUSY_ADT
    return small_scenario(days=3, workload=workload)


@cache
def _run(sut: str) -> RunResult:
    return Twin(_busy(), load_sut(sut).factory).run()


def _wrong(result: RunResult, target: str, field: str) -> set[str]:
    """Keys whose ``target`` record the judge found with a wrong ``field``."""
    return {
        d.key
        for flow in result.flows
        for d in flow.differences
        if d.target == target and d.kind == "wrong_value" and field in d.evidence.get("fields", {})
    }


def test_the_busy_scenario_carries_every_adt_event_and_the_reference_stays_in_sync() -> None:
    result = _run("reference")
    kinds = Counter(type(fact).__name__ for fact in result.view.truth)
    for kind in (PatientUpdated, AdmissionCancelled, TransferCancelled, DischargeCancelled, PatientsMerged):
        assert kinds[kind.__name__] >= 5, (kind.__name__, kinds[kind.__name__])
    types = Counter(e.encounter_type for e in result.view.truth.of_type(PatientAdmitted))  # type: ignore[attr-defined]
    assert set(types) == {"inpatient", "observation", "emergency", "outpatient"}
    assert [d for flow in result.flows for d in flow.differences] == []
    assert result.in_sync
    # a cancelled registration never bills; a merged visit bills under the survivor
    cancelled = {f.visit for f in result.view.truth.of_type(AdmissionCancelled)}  # type: ignore[attr-defined]
    assert cancelled and not cancelled & {s.claim_number for s in result.view.clearinghouse.submissions}
    survivors = {f.visit: f.mrn for f in result.view.truth.of_type(PatientsMerged)}  # type: ignore[attr-defined]
    billed = {s.claim_number: s.patient for s in result.view.clearinghouse.accepted if s.claim_number in survivors}
    assert billed and all(billed[visit] == survivors[visit] for visit in billed)


@pytest.mark.parametrize(
    ("sut", "event", "target", "field"),
    [
        ("ignores_insurance_updates", PatientUpdated, CLAIM, "payer"),
        ("ignores_insurance_updates", PatientUpdated, RECEIVABLE, "customer"),
        ("ignores_merges", PatientsMerged, CLAIM, "patient"),
        ("first_discharge_only", DischargeCancelled, CLAIM, "discharged"),
    ],
)
def test_an_ignored_correction_is_named_on_the_claim_it_spoiled(sut: str, event: type, target: str, field: str) -> None:
    result = _run(f"tests.broken:{sut}")
    corrected = {fact.visit for fact in result.view.truth.of_type(event)}  # type: ignore[attr-defined]
    wrong = _wrong(result, target, field)
    assert wrong, f"{sut}: no {target} found with a wrong {field}"
    assert wrong <= corrected  # only the visits whose correction was ignored
    assert not result.in_sync


def test_a_visit_billed_on_the_wrong_claim_type_is_named() -> None:
    result = _run("tests.broken:institutional_claims_only")
    visits = {
        e.visit
        for e in result.view.truth.of_type(PatientAdmitted)
        if e.encounter_type in ("emergency", "outpatient")  # type: ignore[attr-defined]
    }
    wrong = _wrong(result, CLAIM, "type")
    assert wrong and wrong <= visits


@pytest.mark.parametrize(
    ("sut", "tag", "said"),
    [
        ("ignores_insurance_updates", "req-adt-coverage-update", "visits whose coverage changed wrong or missing"),
        ("ignores_merges", "req-adt-merge", "merged patients wrong or missing"),
        ("first_discharge_only", "req-adt-cancellations", "visits whose discharge was cancelled wrong or missing"),
        ("institutional_claims_only", "req-adt-encounter-types", "emergency and outpatient visits wrong or missing"),
    ],
)
def test_twin_conform_fails_the_scenario_of_the_ignored_correction(sut: str, tag: str, said: str) -> None:
    run = conform(f"tests.broken:{sut}", tags=tag)
    failing = [r for r in run.results if r.verdict == "fail"]
    assert failing, [r.verdict for r in run.results]
    summaries = [e.summary for r in failing for e in r.evidence if not e.passed]
    assert any(said in summary for summary in summaries), summaries


def test_a_mistyped_member_id_is_rejected_raised_corrected_by_a_biller_and_billed_again() -> None:
    result = _run("reference")
    view = result.view
    rejected = {s.claim_number for s in view.clearinghouse.submissions if not s.accepted}
    assert rejected, "registration mistyped no member id in the busy scenario"
    raised = {e.key for e in view.exceptions if e.reason_code == "claim_rejected"}
    assert raised == rejected and all(e.resolved_at is not None for e in view.exceptions)
    corrections = {  # the billers' A08s: after the rejection, with the member id the payer knows
        f.visit
        for f in view.truth.of_type(PatientUpdated)
        if f.visit in rejected  # type: ignore[attr-defined]
    }
    assert corrections == rejected
    accepted = {s.claim_number: s.member_id for s in view.clearinghouse.accepted}
    assert rejected <= set(accepted) and all(accepted[visit] in view.clearinghouse.members for visit in rejected)


def test_a_rejected_claim_the_integration_never_raised_is_named() -> None:
    result = _run("tests.broken:hides_claim_rejections")
    lost = {d.key for flow in result.flows for d in flow.differences if d.kind == "lost" and d.target == EXCEPTION}
    rejected = {s.claim_number for s in result.view.clearinghouse.submissions if not s.accepted}
    assert lost and lost == {f"{visit}:claim_rejected" for visit in rejected}


def test_twin_conform_fails_an_integration_that_never_raised_a_rejected_claim() -> None:
    run = conform("tests.broken:hides_claim_rejections", tags="req-adt-claim-rejection")
    [result] = run.results
    assert result.verdict == "fail"
    summaries = [e.summary for e in result.evidence if not e.passed]
    assert any("visits whose member id registration mistyped wrong or missing" in s for s in summaries), summaries


def test_a_discharge_cancellation_repaired_after_the_patient_left_again_cancels_nothing() -> None:
    """Found by ``tests/probe_scenarios.py``: an observation stay's A13 arrived spoiled (bad MSH), the
    patient was discharged again, and support replayed the repaired A13 after that discharge. The
    reference took it as cancelling the discharge it held and never billed the visit: an A13 cancels
    the discharge before it, never a later one."""
    scenario = faults_demo(
        {
            "days": 2, "seed": 745, "start": "2026-01-05T23:50:00",
            "network": {"hospitals": 2, "beds": {"min": 80, "max": 140}},
            "workload.adt.cancel_discharge_share": 0.2, "workload.adt.cancel_transfer_share": 0.2,
            "billing.coding_deadline_hours": 24, "billing.allowed_lag_minutes": 120,
        }
    )  # fmt: skip
    result = Twin(scenario).run()
    truth = list(result.view.truth)
    cancelled = {f.visit: f.at for f in truth if isinstance(f, DischargeCancelled)}
    spoiled = {f.message_id: f.key for f in truth if isinstance(f, MessageCorrupted) and f.message_type == "ADT^A13"}
    repaired = {
        spoiled[f.message_id]: f.at for f in truth if isinstance(f, MessageRepaired) and f.message_id in spoiled
    }
    [visit] = {
        f.visit
        for f in truth
        if isinstance(f, PatientDischarged) and f.visit in repaired and cancelled[f.visit] < f.at < repaired[f.visit]
    }  # discharged again between its A13 and the A13's replay
    [billing] = [f for f in result.flows if f.flow == "discharge_billing"]
    assert billing.in_sync, [(d.kind, d.key) for d in billing.differences][:5]
    assert any(item.invoice == visit for item in result.view.erp.finance.ar_items)
