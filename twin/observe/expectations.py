"""Expectation functions: what each target must hold, derived from the truth ledger alone.

They are written from the organisation's master data and accounting policy, independently of
any integration's code, so the oracle does not inherit an integration's bugs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from twin.domain import reasons
from twin.domain.accounts import PATIENT_BILLING, revenue_account
from twin.domain.events import (
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    MemberIdMistyped,
    PatientAdmitted,
    PatientDischarged,
    PatientsMerged,
    PatientUpdated,
)
from twin.domain.timebase import Timebase
from twin.faults import OutageWindow
from twin.network import Network, business_office
from twin.observe.fault_truth import arrival, fault_facts
from twin.observe.governance_facts import governance_facts
from twin.observe.records import Expected
from twin.observe.truth import TruthLedger, per_ledger

BILLING = "discharge_billing"
JOURNAL = "erp.gl_journal"
RECEIVABLE = "erp.ar_item"
CLAIM = "clearinghouse.claim"
EXCEPTION = "integration.exception"
BILLING_TARGETS = (JOURNAL, RECEIVABLE, CLAIM, EXCEPTION)

SELF_PAY_CUSTOMER = "SELF-PAY"
PROFESSIONAL_ENCOUNTERS = ("emergency", "outpatient")  # visits billed on a professional claim


def claim_type(encounter_type: str) -> str:
    """The FHIR claim-type an encounter bills as: institutional for a stay, professional for a visit."""
    return "professional" if encounter_type in PROFESSIONAL_ENCOUNTERS else "institutional"


def exception_key(visit: str, reason_code: str) -> str:
    """Exceptions are keyed by encounter and reason: one open exception per reason and encounter."""
    return f"{visit}:{reason_code}"


def _bill(
    revenue: dict[str, int], office: str, payer: str | None, coding: CodingCompleted, patient: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The journal, receivable and claim that bill ``revenue`` for an encounter; ``patient``: what
    the claim says of the patient and the visit (MRN, claim type, the discharge it bills)."""
    amount = sum(revenue.values())
    journal = {
        "source": PATIENT_BILLING,
        "receivable_cost_center": office,
        "total": amount,
        "revenue": {slot: cents for slot, cents in sorted(revenue.items()) if cents},
    }
    receivable = {"customer": payer or SELF_PAY_CUSTOMER, "amount": amount}
    claim = {"payer": payer, "total": amount, "principal_dx": coding.principal_dx, "drg": coding.drg, **patient}
    return journal, receivable, claim


# Late lines that became billable at one moment may reach a bill in any order (a support team replays
# its dead letters one by one, and a bill may go out between two replays of the same round): up to this
# many such lines, every subset of them is a state the bill may first hold; beyond it, their order.
TIED_SUBSETS = 8


def _billable_states(revenue: dict[str, int], late: list[tuple[float, str, str, int, float]]) -> list[dict[str, int]]:
    """What a bill of ``revenue`` may hold as it first lands, when the ``late`` lines (known, why, slot,
    amount, arrived) became billable after it was due: all but the late lines, then the lines known
    by each later moment - with any subset of the lines that became known at that same moment."""
    if not late:
        return []
    billable = dict(revenue)
    for _known, _why, slot, amount, _arrived in late:
        billable[slot] -= amount
    states = [dict(billable)]
    moments: dict[float, list[tuple[str, int]]] = {}
    for known, _why, slot, amount, _arrived in late:
        moments.setdefault(known, []).append((slot, amount))
    for _known, lines in sorted(moments.items()):
        if len(lines) <= TIED_SUBSETS:
            partial = [subset for size in range(1, len(lines)) for subset in combinations(lines, size)]
        else:  # too many to try every subset: in the order the truth lists them
            partial = [tuple(lines[:size]) for size in range(1, len(lines))]
        for subset in partial:
            state = dict(billable)
            for slot, amount in subset:
                state[slot] += amount
            if state not in states:
                states.append(state)
        for slot, amount in lines:
            billable[slot] += amount
        states.append(dict(billable))
    return states


@per_ledger  # the billing check and the KPI oracle both ask
def billing_expectations(
    truth: TruthLedger,
    network: Network,
    *,
    coding_deadline: float,
    allowed_lag: float,
    outages: Sequence[OutageWindow] = (),
    bill_hold: float = 0.0,
    timebase: Timebase,
) -> list[Expected]:
    """Per coded encounter: one balanced revenue journal, one receivable, one accepted claim
    (not for self pay), in that order; per encounter whose coding ran past the deadline: one
    ``coding_overdue`` exception.

    The bill is due once coding is complete and the discharge known, and no earlier than the
    scenario's bill hold after the discharge (``bill_hold``, minutes); it holds every charge the
    integration could know by then. A charge it could only know later - posted late, repaired
    after its message was spoiled, sent under a department code governance had yet to map, or
    revenue of a cost center finance retired, before the mapping that moves it - is a late
    charge: by the scenario's policy it is billed by an adjusting journal and a replacement claim.
    A correct integration may instead hold the whole bill until its late charges are in, so the
    first posting may wait that long (``grace``); either way the journal, the receivable and the
    claim must end at the encounter's full value, due when its last late charge arrived
    (``settles_at``). A ``late_charge`` exception may be raised; it is not what makes it right.

    A claim naming a member id registration mistyped is rejected by the payer's front end: the
    integration must raise it (``claim_rejected``), and the accepted claim is due once a biller's
    correction (an A08 with the right id) reached the integration.

    The bill goes to the payer of the coverage registered last before coding (an A08 corrects it),
    under the MRN that survived every merge of the visit's MRN (A40), as the claim type of its
    encounter type, for the discharge that counted (a cancelled one, A13, does not); a cancelled
    registration (A11) has no coding and so no bill - any bill for it is one too many.

    Revenue belongs to the cost center governing the department when the bill is due. Faults and
    outages move the moments the integration could know things (``fault_truth``): a spoiled
    admission, discharge or final coding holds the bill until repaired, a message sent while the
    integration was down (``outages``) arrives when the window ended.
    """
    faults = fault_facts(truth)
    governance = governance_facts(truth)
    arrives = arrival(outages)
    departments = {d.ehr_code: d for h in network.hospitals for d in h.departments}
    charge_codes = {c.code: c for c in network.chargemaster}
    payer_of = network.payer_crosswalk()
    admitted: dict[str, PatientAdmitted] = {}
    discharged: dict[str, PatientDischarged] = {}
    coded: dict[str, CodingCompleted] = {}
    postings: dict[str, list[ChargesPosted]] = {}
    coverage: dict[str, list[PatientUpdated]] = {}
    survivor: dict[str, str] = {}  # merged MRN -> the MRN it was merged into
    true_member: dict[str, str] = {}  # visit -> the member id the payer knows, where registration mistyped it
    for event in truth:  # charges first: they are most of the ledger
        if isinstance(event, ChargesPosted):
            if event.lines:
                postings.setdefault(event.visit, []).append(event)
        elif isinstance(event, PatientAdmitted):
            admitted[event.visit] = event
        elif isinstance(event, PatientUpdated):
            if event.plan_code:
                coverage.setdefault(event.visit, []).append(event)
        elif isinstance(event, PatientsMerged):
            survivor[event.merged_mrn] = event.mrn
        elif isinstance(event, MemberIdMistyped):
            true_member[event.visit] = event.member_id
        elif isinstance(event, PatientDischarged):
            discharged[event.visit] = event
        elif isinstance(event, CodingCompleted):
            coded[event.visit] = event
    accounts: dict[str, str] = {}  # charge code -> revenue account, worked out once per code

    def placed(line: ChargeLine, posted: float, due: float) -> tuple[str, float, str, float]:
        """(revenue slot, when the integration could first bill it, why then, when it reached the
        integration) of one line of a bill due at ``due``."""
        account = accounts.get(line.code)
        if account is None:
            account = accounts[line.code] = revenue_account(charge_codes[line.code].revenue_code)
        center = departments[line.department].cost_center
        known, why = arrives(posted), ""
        retirement = governance.retired.get(center)
        alias = faults.aliased.get(line.txn_id) if faults.aliased else None
        if alias is not None:  # the same department's cost center, once governance mapped the alias
            since = -1.0
            if retirement is not None and retirement.at <= due:
                center, since = retirement.replacement, retirement.at
            known, why = (
                max(known, faults.alias_published(alias.alias, since)),
                f"department code {alias.alias} governed",
            )
        elif retirement is not None and retirement.at <= due:
            center = retirement.replacement
            known = max(known, governance.first_published("department", line.department))
            why = f"cost center {retirement.cost_center} retired, {line.department} remapped"
        arrived = arrives(posted)
        if not faults.empty:
            repaired = faults.line_hold(line.txn_id)
            arrived = max(arrived, repaired)
            if repaired > known:
                known, why = repaired, "its spoiled charge message repaired"
        return f"{account}/{center}", known, why, arrived

    expected: list[Expected] = []
    for visit, coding in coded.items():
        admission = admitted[visit]
        discharge = discharged[visit]
        due = max(arrives(coding.at), arrives(discharge.at), discharge.at + bill_hold)
        while not faults.empty:  # a message of the visit spoiled before the bill: it waits for the repair
            held = faults.message_hold(visit, by=due)
            if held <= due:
                break
            due = held
        revenue: dict[str, int] = {}
        late: list[tuple[float, str, str, int, float]] = []  # known, why, slot, amount, arrived
        for posting in postings.get(visit, ()):
            for line in posting.lines:
                slot, known, why, arrived = placed(line, posting.at, due)
                revenue[slot] = revenue.get(slot, 0) + line.amount
                if known > due:
                    late.append((known, why or "posted after the bill was due", slot, line.amount, arrived))
        settles = max((entry[0] for entry in late), default=None)
        grace = 0.0 if settles is None else settles - due
        why = "" if settles is None else "late charges: " + "; ".join(sorted({entry[1] for entry in late}))
        plan = admission.plan_code
        for update in coverage.get(visit, ()):
            if update.at <= coding.at:
                plan = update.plan_code
        payer = payer_of[plan]
        office = business_office(network.hospital(admission.hospital))
        mrn = admission.mrn
        while mrn in survivor:
            mrn = survivor[mrn]
        # The subscriber id: the payer's front end rejects a mistyped one, so the claim is accepted only
        # once registration corrected it (the last one registered is the right one).
        keyed = [(admission.at, admission.member_id), *((u.at, u.member_id) for u in coverage.get(visit, ()))]
        member = true_member.get(visit, keyed[-1][1])
        at_bill = [m for at, m in keyed if arrives(at) <= due]
        rejected = bool(at_bill) and at_bill[-1] != member
        corrected = next((at for at, m in keyed if arrives(at) > due and m == member), None) if rejected else None
        patient = {
            "patient": mrn,
            "type": claim_type(admission.encounter_type),
            "discharged": timebase.iso(discharge.at),
            "member": member,
        }

        journal, receivable, claim = _bill(revenue, office, payer, coding, patient)
        # What a bill that is amended later may first hold: what was billable at some moment from its
        # due time on - all but the late lines, then each late line added as it became known.
        firsts = [_bill(billable, office, payer, coding, patient) for billable in _billable_states(revenue, late)]
        for target, value, seq, index in ((JOURNAL, journal, 0, 0), (RECEIVABLE, receivable, 0, 1)):
            expected.append(
                Expected(BILLING, target, visit, value, due, seq, grace=grace, settles_at=settles, why=why,
                         firsts=tuple(states[index] for states in firsts))
            )  # fmt: skip
        if payer is not None:
            claim_due = due
            if rejected:  # accepted once the correction's A08 came (it may have been spoiled and repaired too)
                claim_due = math.inf if corrected is None else arrives(corrected)
                claim_due = max(due, claim_due, 0.0 if faults.empty else faults.message_hold(visit))
            # Not corrected (a live run cut before the billers got to it; a settled run waits for them): the
            # claim cannot be judged yet - the rejection it bounced off is (the exception below).
            expected.append(
                Expected(BILLING, CLAIM, visit, claim, claim_due, 1, grace=grace, settles_at=settles, why=why,
                         firsts=tuple(states[2] for states in firsts), optional=rejected and corrected is None)
            )  # fmt: skip
            if rejected:  # the first claim bounced off the payer's front end: the integration must say so
                value = {"reason_code": reasons.CLAIM_REJECTED}
                key = exception_key(visit, reasons.CLAIM_REJECTED)
                # raised when the first claim bounced: after the bill was due (later where it was held, or
                # a target was down or slow), and before the billers' correction it led to
                wait = claim_due - due if math.isfinite(claim_due) else 0.0
                expected.append(Expected(BILLING, EXCEPTION, key, value, due, grace=max(grace, wait)))
        if settles is not None:  # the integration may say so when one arrives; adjusting is what counts
            key = exception_key(visit, reasons.LATE_CHARGE)
            # from when the first late charge reached the integration (not when governance made it billable)
            first = max(due, min(entry[4] for entry in late))
            value = {"reason_code": reasons.LATE_CHARGE}
            expected.append(Expected(BILLING, EXCEPTION, key, value, first, grace=settles - first, optional=True))
    for visit, discharge in discharged.items():
        due = discharge.at + coding_deadline
        coded_at = arrives(coded[visit].at) if visit in coded else float("inf")
        if not faults.empty:  # a spoiled final coding message: the integration learns of it when repaired
            coded_at = max(coded_at, faults.coding_hold(visit))
        if coded_at > due:
            # Coding landing within the allowed lag before the deadline races the integration's
            # timer: the exception may or may not be raised, and either is correct.
            optional = coded_at <= due + allowed_lag
            expected.append(
                Expected(
                    BILLING,
                    EXCEPTION,
                    exception_key(visit, reasons.CODING_OVERDUE),
                    {"reason_code": reasons.CODING_OVERDUE},
                    due,
                    optional=optional,
                )
            )
        elif coded_at > due - allowed_lag:
            expected.append(
                Expected(
                    BILLING,
                    EXCEPTION,
                    exception_key(visit, reasons.CODING_OVERDUE),
                    {"reason_code": reasons.CODING_OVERDUE},
                    due,
                    optional=True,
                )
            )
    return expected
