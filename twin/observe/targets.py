"""Reads the target systems' state (and the integration's exposed exceptions) into flat records.

This is the only place that knows how each mock stores what it holds; the checker sees records.
"""

from __future__ import annotations

from mocks.erp.finance import ErpFinance
from mocks.saas.clearinghouse import Clearinghouse
from twin.integration.contract import IntegrationException
from twin.observe.expectations import CLAIM, EXCEPTION, JOURNAL, RECEIVABLE, exception_key
from twin.observe.records import Observed


def observe_billing(
    erp: ErpFinance, clearinghouse: Clearinghouse, exceptions: list[IntegrationException]
) -> list[Observed]:
    observed: list[Observed] = []
    for journal in erp.journals:
        if journal.source != "patient-billing":
            continue
        revenue: dict[str, int] = {}
        receivable_center = ""
        total = 0
        for line in journal.lines:
            if line.account == "1200":
                receivable_center = line.cost_center
                total += line.debit - line.credit
            else:
                slot = f"{line.account}/{line.cost_center}"
                revenue[slot] = revenue.get(slot, 0) + line.credit - line.debit
        value = {
            "receivable_cost_center": receivable_center,
            "total": total,
            "revenue": {slot: amount for slot, amount in sorted(revenue.items()) if amount},
        }
        observed.append(Observed(JOURNAL, journal.reference, value, journal.posted_at, journal.journal_id))
    for item in erp.ar_items:
        observed.append(
            Observed(
                RECEIVABLE,
                item.invoice,
                {"customer": item.customer, "amount": item.amount},
                item.posted_at,
                item.item_id,
            )
        )
    for submission in clearinghouse.accepted:
        observed.append(
            Observed(
                CLAIM,
                submission.claim_number,
                {
                    "payer": submission.payer_id,
                    "total": submission.total,
                    "principal_dx": submission.principal_dx,
                    "drg": submission.drg,
                },
                submission.received_at,
                submission.submission_id,
            )
        )
    for number, exception in enumerate(exceptions, start=1):
        if exception.flow == "discharge_billing":
            observed.append(
                Observed(
                    EXCEPTION,
                    exception_key(exception.key, exception.reason_code),
                    {"reason_code": exception.reason_code},
                    exception.raised_at,
                    f"EXC{number:06d}",
                )
            )
    return observed
