"""Expectation functions: what each target must hold, derived from the truth ledger alone.

They are written from the organisation's master data and accounting policy, independently of
any integration's code, so the oracle does not inherit an integration's bugs.
"""

from __future__ import annotations

from typing import Any

from twin.domain.events import (
    ChargesPosted,
    CodingCompleted,
    CostCenterRetired,
    MappingPublished,
    PatientAdmitted,
    PatientDischarged,
)
from twin.network import Network, business_office
from twin.observe.records import Expected
from twin.observe.truth import TruthLedger, per_ledger

BILLING = "discharge_billing"
JOURNAL = "erp.gl_journal"
RECEIVABLE = "erp.ar_item"
CLAIM = "clearinghouse.claim"
EXCEPTION = "integration.exception"
BILLING_TARGETS = (JOURNAL, RECEIVABLE, CLAIM, EXCEPTION)

SELF_PAY_CUSTOMER = "SELF-PAY"
ROUTINE_REVENUE_MAX = 219  # UB-04 revenue codes 0100-0219 are room and board


def exception_key(visit: str, reason_code: str) -> str:
    """Exceptions are keyed by encounter and reason: one open exception per reason and encounter."""
    return f"{visit}:{reason_code}"


@per_ledger  # the billing check and the KPI oracle both ask
def billing_expectations(
    truth: TruthLedger, network: Network, *, coding_deadline: float, allowed_lag: float
) -> list[Expected]:
    """Per coded encounter: one balanced revenue journal, one receivable, one accepted claim
    (not for self pay), in that order; per encounter whose coding ran past the deadline: one
    ``coding_overdue`` exception.

    Revenue belongs to the cost center governing the department when the bill is due: once
    finance has retired a cost center, its departments' revenue belongs to the replacement, and
    the bill cannot be due before governance published that mapping (``MappingPublished``).
    """
    departments = {d.ehr_code: d for h in network.hospitals for d in h.departments}
    charge_codes = {c.code: c for c in network.chargemaster}
    payer_of = network.payer_crosswalk()
    admitted: dict[str, PatientAdmitted] = {}
    discharged: dict[str, PatientDischarged] = {}
    coded: dict[str, CodingCompleted] = {}
    postings: dict[str, list[ChargesPosted]] = {}
    retired: dict[str, CostCenterRetired] = {}
    published: dict[tuple[str, str], float] = {}
    for event in truth:  # charges first: they are most of the ledger
        if isinstance(event, ChargesPosted):
            if event.lines:
                postings.setdefault(event.visit, []).append(event)
        elif isinstance(event, PatientAdmitted):
            admitted[event.visit] = event
        elif isinstance(event, PatientDischarged):
            discharged[event.visit] = event
        elif isinstance(event, CodingCompleted):
            coded[event.visit] = event
        elif isinstance(event, CostCenterRetired):
            retired[event.cost_center] = event
        elif isinstance(event, MappingPublished):
            published.setdefault((event.domain, event.code), event.at)

    accounts: dict[str, str] = {}  # charge code -> revenue account, worked out once per code
    expected: list[Expected] = []
    for visit, coding in coded.items():
        admission = admitted[visit]
        billed = [posting for posting in postings.get(visit, ()) if posting.at <= coding.at]
        lines = [line for posting in billed for line in posting.lines]
        ready = max([coding.at, discharged[visit].at] + [posting.at for posting in billed])
        revenue: dict[str, int] = {}
        due = ready
        for line in lines:
            account = accounts.get(line.code)
            if account is None:
                code = charge_codes[line.code]
                account = accounts[line.code] = "4000" if int(code.revenue_code) <= ROUTINE_REVENUE_MAX else "4100"
            center = departments[line.department].cost_center
            retirement = retired.get(center)
            if retirement is not None and retirement.at <= ready:
                center = retirement.replacement
                due = max(due, published.get(("department", line.department), float("inf")))
            slot = f"{account}/{center}"
            revenue[slot] = revenue.get(slot, 0) + line.amount
        ready = due
        total = sum(revenue.values())
        payer = payer_of[admission.plan_code]
        hospital = network.hospital(admission.hospital)
        journal: dict[str, Any] = {
            "receivable_cost_center": business_office(hospital),
            "total": total,
            "revenue": {slot: amount for slot, amount in sorted(revenue.items()) if amount},
        }
        expected.append(Expected(BILLING, JOURNAL, visit, journal, ready, seq=0))
        expected.append(
            Expected(
                BILLING, RECEIVABLE, visit, {"customer": payer or SELF_PAY_CUSTOMER, "amount": total}, ready, seq=0
            )
        )
        if payer is not None:
            expected.append(
                Expected(
                    BILLING,
                    CLAIM,
                    visit,
                    {"payer": payer, "total": total, "principal_dx": coding.principal_dx, "drg": coding.drg},
                    ready,
                    seq=1,
                )
            )
    for visit, discharge in discharged.items():
        due = discharge.at + coding_deadline
        coded_at = coded[visit].at if visit in coded else float("inf")
        if coded_at > due:
            # Coding landing within the allowed lag before the deadline races the integration's
            # timer: the exception may or may not be raised, and either is correct.
            optional = coded_at <= due + allowed_lag
            expected.append(
                Expected(
                    BILLING,
                    EXCEPTION,
                    exception_key(visit, "coding_overdue"),
                    {"reason_code": "coding_overdue"},
                    due,
                    optional=optional,
                )
            )
        elif coded_at > due - allowed_lag:
            expected.append(
                Expected(
                    BILLING,
                    EXCEPTION,
                    exception_key(visit, "coding_overdue"),
                    {"reason_code": "coding_overdue"},
                    due,
                    optional=True,
                )
            )
    return expected
