"""The network's chart of accounts and its revenue policy: one vocabulary for the ERP, the integration
and the oracle.

The ERP refuses an account it does not know; the reference integration posts to these accounts;
the oracle expects them. Were each to spell them itself, a typo in one would look like a defect of
another, so they are spelt here once. Statistical accounts carry quantities, not money.
"""

from __future__ import annotations

CASH = "1000"
PATIENT_RECEIVABLES = "1200"
SUPPLY_INVENTORY = "1400"
GRNI = "2100"  # goods received, not invoiced
ACCRUED_SALARIES = "2200"
ACCRUED_EXPENSES = "2300"
ROUTINE_REVENUE = "4000"  # inpatient room and board
ANCILLARY_REVENUE = "4100"
SUPPLY_EXPENSE = "5200"
DRUG_EXPENSE = "5300"
SALARIES = "6000"
PURCHASED_SERVICES = "6500"  # contract labor, purchased services and professional fees
OTHER_EXPENSE = "7000"

ACCOUNTS: dict[str, str] = {
    CASH: "Cash",
    PATIENT_RECEIVABLES: "Patient accounts receivable",
    SUPPLY_INVENTORY: "Supply inventory",
    GRNI: "Goods received, not invoiced",
    ROUTINE_REVENUE: "Inpatient routine revenue",
    ANCILLARY_REVENUE: "Inpatient ancillary revenue",
    ACCRUED_SALARIES: "Accrued salaries and wages",
    ACCRUED_EXPENSES: "Accrued operating expenses",
    SUPPLY_EXPENSE: "Medical and surgical supply expense",
    DRUG_EXPENSE: "Pharmaceutical expense",
    SALARIES: "Salaries and wages",
    PURCHASED_SERVICES: "Purchased services and professional fees",
    OTHER_EXPENSE: "Other operating expense",
}

PATIENT_DAYS = "9100"
PAID_MINUTES = "9200"
STATISTICS: dict[str, str] = {PATIENT_DAYS: "Patient days", PAID_MINUTES: "Paid labor minutes"}

ROUTINE_REVENUE_CODES = range(100, 220)  # UB-04 revenue codes 0100-0219: room and board

# Journal sources: which process posted a journal (the ERP keeps it with the journal).
PATIENT_BILLING = "patient-billing"
LABOR_ALLOCATION = "labor-allocation"
INVENTORY_ISSUE = "inventory-issue"
GOODS_RECEIPT = "goods-receipt"
AP_PAYMENT = "ap-payment"
RECURRING_ACCRUAL = "recurring-accrual"
# what the ERP posts itself (its subledgers, its recurring entries): never through the journals API
SUBLEDGER_SOURCES = frozenset({INVENTORY_ISSUE, GOODS_RECEIPT, AP_PAYMENT, RECURRING_ACCRUAL})


def revenue_account(revenue_code: str) -> str:
    """The GL revenue account of a UB-04 revenue code: routine (room and board) or ancillary."""
    return ROUTINE_REVENUE if is_room_and_board(revenue_code) else ANCILLARY_REVENUE


def is_room_and_board(revenue_code: str) -> bool:
    """Whether a revenue code is room and board (the census lines patient days are counted from)."""
    return revenue_code.isdigit() and int(revenue_code) in ROUTINE_REVENUE_CODES
