"""Reads the target systems' state (and the integration's exposed exceptions) into flat records.

This is the only place that knows how each mock stores what it holds; the checker sees records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mocks.erp.finance import ArItem, ErpFinance, Journal
from mocks.erp.supply_chain import ErpSupplyChain
from mocks.saas.clearinghouse import ClaimSubmission, Clearinghouse
from mocks.saas.vendor import VendorPortal
from twin.domain.accounts import LABOR_ALLOCATION, PATIENT_RECEIVABLES
from twin.domain.contract import IntegrationException
from twin.observe.expectations import CLAIM, EXCEPTION, JOURNAL, RECEIVABLE, exception_key
from twin.observe.records import Observed
from twin.observe.replenishment import chain_key, snapshot_key
from twin.observe.supply_expectations import INVOICE, ISSUE, ON_HAND, PURCHASE_ORDER, SUPPLY_EXCEPTION, VENDOR_ORDER
from twin.observe.view import Snapshot


def observe_billing(
    erp: ErpFinance, clearinghouse: Clearinghouse, exceptions: Sequence[IntegrationException]
) -> list[Observed]:
    """Per encounter what finance and the payer hold: each original revenue journal, receivable and
    accepted claim, with the value it stands at after every adjustment or replacement of it, when it
    first landed and when it was last amended."""
    observed: list[Observed] = []
    adjustments: dict[str, list[Journal]] = {}
    # Every journal posted through the ERP's API that is not labor's is this flow's to judge, whatever
    # source it claims: a second revenue journal under another source is a duplicate, not invisible.
    billed = [j for j in erp.journals if not j.subledger and j.source != LABOR_ALLOCATION]
    for journal in billed:
        if journal.adjusts:
            adjustments.setdefault(journal.adjusts, []).append(journal)
    for journal in billed:
        if journal.adjusts:
            continue
        later = adjustments.get(journal.journal_id, [])
        value = _journal_value(journal, later)
        settled = max((entry.posted_at for entry in later), default=None)
        first = _journal_value(journal, []) if later else None
        observed.append(
            Observed(JOURNAL, journal.reference, value, journal.posted_at, journal.journal_id, settled, first)
        )
    memos: dict[str, list[ArItem]] = {}
    for item in erp.ar_items:
        if item.adjusts:
            memos.setdefault(item.adjusts, []).append(item)
    for item in erp.ar_items:
        if item.adjusts:
            continue
        later_items = memos.get(item.item_id, [])
        amount = item.amount + sum(memo.amount for memo in later_items)
        settled = max((memo.posted_at for memo in later_items), default=None)
        observed.append(
            Observed(
                RECEIVABLE,
                item.invoice,
                {"customer": item.customer, "amount": amount},
                item.posted_at,
                item.item_id,
                settled,
                {"customer": item.customer, "amount": item.amount} if later_items else None,
            )
        )
    by_id = {submission.submission_id: submission for submission in clearinghouse.submissions}
    for submission in clearinghouse.accepted:
        if submission.replaces:
            continue
        current = submission  # the claim as it stands: the last accepted replacement of it
        while current.submission_id in clearinghouse.replaced_by:
            current = by_id[clearinghouse.replaced_by[current.submission_id]]
        observed.append(
            Observed(
                CLAIM,
                submission.claim_number,
                _claim_value(current),
                submission.received_at,
                submission.submission_id,
                None if current is submission else current.received_at,
                None if current is submission else _claim_value(submission),
            )
        )
    for number, exception in enumerate(exceptions, start=1):
        if exception.flow == "discharge_billing" and not exception.domain:  # master data: checked apart
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


def _journal_value(journal: Journal, adjustments: Sequence[Journal]) -> dict[str, Any]:
    """A revenue journal as it stands after ``adjustments``: its source, receivable cost center,
    total and net revenue per account and cost center."""
    revenue: dict[str, int] = {}
    receivable_center = ""
    total = 0
    for line in (line for entry in (journal, *adjustments) for line in entry.lines):
        if line.account == PATIENT_RECEIVABLES:
            receivable_center = line.cost_center
            total += line.debit - line.credit
        else:
            slot = f"{line.account}/{line.cost_center}"
            revenue[slot] = revenue.get(slot, 0) + line.credit - line.debit
    return {
        "source": journal.source,
        "receivable_cost_center": receivable_center,
        "total": total,
        "revenue": {slot: amount for slot, amount in sorted(revenue.items()) if amount},
    }


def _claim_value(submission: ClaimSubmission) -> dict[str, Any]:
    return {
        "payer": submission.payer_id,
        "total": submission.total,
        "principal_dx": submission.principal_dx,
        "drg": submission.drg,
        "patient": submission.patient,
        "type": submission.claim_type,
        "discharged": submission.period_end,
        "member": submission.member_id,
    }


def observe_supply(
    erp: ErpSupplyChain,
    vendor: VendorPortal,
    snapshots: Sequence[Snapshot],
    exceptions: Sequence[IntegrationException],
) -> list[Observed]:
    """What ERP inventory, purchasing and payables hold, and the orders the vendor portal received.

    POs are numbered per item-location in the order the ERP created them (``chain_key``); a vendor
    order is filed under the number of the ERP PO it names (one naming no ERP PO is keyed by its
    own PO number, and so unexpected). An invoice is what the ERP's payables hold: paid only on
    the ERP's own three-way match."""
    observed: list[Observed] = []
    for issue in erp.issues:
        observed.append(
            Observed(
                ISSUE,
                issue.reference,
                {
                    "location": issue.location,
                    "item": issue.item,
                    "quantity": issue.quantity,
                    "cost_center": issue.cost_center,
                    "cost": issue.cost,
                },
                issue.posted_at,
                issue.issue_id,
            )
        )
    for at, levels in snapshots:
        for (location, item), level in sorted(levels.items()):
            observed.append(
                Observed(ON_HAND, snapshot_key(location, item, at), {"on_hand": level}, at, f"snapshot@{at:.0f}")
            )
    count: dict[tuple[str, str], int] = {}
    numbered: dict[str, str] = {}  # PO -> its chain key
    for order in sorted(erp.orders.values(), key=lambda o: (o.created_at, o.po)):
        key = (order.location, order.item)
        count[key] = count.get(key, 0) + 1
        numbered[order.po] = chain_key(order.location, order.item, count[key])
        observed.append(
            Observed(PURCHASE_ORDER, numbered[order.po], {"quantity": order.quantity}, order.created_at, order.po)
        )
    for placed in vendor.orders.values():
        observed.append(
            Observed(
                VENDOR_ORDER,
                numbered.get(placed.po, f"po:{placed.po}"),
                {"quantity": placed.quantity, "vendor": placed.vendor},
                placed.received_at,
                placed.confirmation,
            )
        )
    for invoice in erp.invoices:
        observed.append(
            Observed(
                INVOICE,
                invoice.po,
                {"status": invoice.status, "amount": invoice.amount},
                invoice.paid_at if invoice.paid_at is not None else invoice.received_at,
                invoice.invoice_id,
            )
        )
    for number, exception in enumerate(exceptions, start=1):
        if exception.flow == "usage_inventory" and not exception.domain:  # master data: checked apart
            observed.append(
                Observed(
                    SUPPLY_EXCEPTION,
                    exception_key(exception.key, exception.reason_code),
                    {"reason_code": exception.reason_code},
                    exception.raised_at,
                    f"EXC{number:06d}",
                )
            )
    return observed
