"""Expectation functions: what each target must hold, derived from the truth ledger alone.

They are written from the organisation's master data and accounting policy, independently of
any integration's code, so the oracle does not inherit an integration's bugs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from twin.domain import reasons
from twin.domain.accounts import revenue_account
from twin.domain.events import (
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    CostCenterRetired,
    MappingPublished,
    PatientAdmitted,
    PatientDischarged,
)
from twin.faults import OutageWindow
from twin.network import Network, business_office
from twin.observe.fault_truth import arrival, fault_facts
from twin.observe.records import Expected
from twin.observe.truth import TruthLedger, per_ledger

BILLING = "discharge_billing"
JOURNAL = "erp.gl_journal"
RECEIVABLE = "erp.ar_item"
CLAIM = "clearinghouse.claim"
EXCEPTION = "integration.exception"
BILLING_TARGETS = (JOURNAL, RECEIVABLE, CLAIM, EXCEPTION)

SELF_PAY_CUSTOMER = "SELF-PAY"


def exception_key(visit: str, reason_code: str) -> str:
    """Exceptions are keyed by encounter and reason: one open exception per reason and encounter."""
    return f"{visit}:{reason_code}"


@per_ledger  # the billing check and the KPI oracle both ask
def billing_expectations(
    truth: TruthLedger,
    network: Network,
    *,
    coding_deadline: float,
    allowed_lag: float,
    outages: Sequence[OutageWindow] = (),
) -> list[Expected]:
    """Per coded encounter: one balanced revenue journal, one receivable, one accepted claim
    (not for self pay), in that order; per encounter whose coding ran past the deadline: one
    ``coding_overdue`` exception.

    Revenue belongs to the cost center governing the department when the bill is due: once
    finance has retired a cost center, its departments' revenue belongs to the replacement, and
    the bill cannot be due before governance published that mapping (``MappingPublished``).
    Faults move a bill's due moment the same way (``fault_truth``): a spoiled message the bill
    needs holds it until repaired; a line sent under a department alias, until the alias is governed;
    a message sent while the integration was down (``outages``) arrives when the window ended.
    """
    faults = fault_facts(truth)
    arrives = arrival(outages)
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

    def bill(visit: str, lines: list[ChargeLine], ready: float) -> tuple[dict[str, int], float]:
        """Revenue per account/cost-center slot of a bill of ``lines``, and when it is due."""
        revenue: dict[str, int] = {}
        # (account, retired cost center) -> [net amount, when its departments' mappings were
        # published]: a retired center's revenue that nets to zero posts nothing the ERP could refuse
        retired_slots: dict[tuple[str, str], list[float]] = {}
        due = ready
        for line in lines:
            account = accounts.get(line.code)
            if account is None:
                account = accounts[line.code] = revenue_account(charge_codes[line.code].revenue_code)
            center = departments[line.department].cost_center
            retirement = retired.get(center)
            alias = faults.aliased.get(line.txn_id) if faults.aliased else None
            if alias is not None:  # the same department's cost center, once governance mapped the alias
                since = -1.0
                if retirement is not None and retirement.at <= ready:
                    center, since = retirement.replacement, retirement.at
                due = max(due, faults.alias_published(alias.alias, since))
            elif retirement is not None and retirement.at <= ready:
                waiting = retired_slots.setdefault((account, center), [0, 0.0])
                waiting[0] += line.amount
                waiting[1] = max(waiting[1], published.get(("department", line.department), float("inf")))
                center = retirement.replacement
            slot = f"{account}/{center}"
            revenue[slot] = revenue.get(slot, 0) + line.amount
        due = max([due] + [mapped for amount, mapped in retired_slots.values() if amount])
        if not faults.empty:
            due = max(due, faults.bill_hold(visit, [line.txn_id for line in lines]))
        return revenue, due

    expected: list[Expected] = []
    for visit, coding in coded.items():
        admission = admitted[visit]
        billed = [posting for posting in postings.get(visit, ()) if posting.at <= coding.at]
        lines = [line for posting in billed for line in posting.lines]
        arrived = arrives(max([coding.at, discharged[visit].at] + [posting.at for posting in billed]))
        revenue, ready = bill(visit, lines, arrived)
        unattributed = faults.unattributed(visit) if not faults.empty else {}
        late = {txn: at for txn, at in unattributed.items() if at > ready}
        if late:  # billed without them; their repair brings them late, and the integration must say so
            lines = [line for line in lines if line.txn_id not in late]
            revenue, ready = bill(visit, lines, arrived)
            first = min(late.values())
            if first < math.inf:
                expected.append(
                    Expected(
                        BILLING,
                        EXCEPTION,
                        exception_key(visit, reasons.LATE_CHARGE),
                        {"reason_code": reasons.LATE_CHARGE},
                        first,
                    )
                )
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
