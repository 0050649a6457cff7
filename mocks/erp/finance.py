"""ERP finance: general-ledger journals and the accounts-receivable subledger, with the ERP's rules.

Sans-IO: ``handle(request, now)`` validates and posts, answering like the ERP's REST API would
(201 with the posting, 422 with every rule broken, 404 for an unknown path). Rules a real ERP
enforces and an integration must respect: journals balance to the cent, every line names a known
account and an active cost center, and nothing posts into a closed period. A 422 lists the
broken rules as text (``errors``) and, for the ones an integration can act on, as data
(``problems``: ``{"code": "inactive_cost_center", "cost_center": ...}``).

A journal may adjust an earlier one of the same reference and source (``"adjusts": journal id``):
a charge that reached billing after the encounter was billed is posted that way, as an adjusting
entry beside the original, never by changing it; its receivable adjusts the original's AR item.

Besides journals the ledger keeps statistics (patient days per cost center and day: the
denominators of unit-cost KPIs) and answers which cost centers exist and are active. Reporting
services read it through ``GET`` queries over a posting window (AR items, journals by source,
statistics): the same data an ERP's reporting API or data extract exposes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeGuard, TypeVar

from mocks.queries import answer_query, window_bounds
from mocks.replies import Replies
from twin.domain.accounts import ACCOUNTS, PATIENT_RECEIVABLES, STATISTICS, SUBLEDGER_SOURCES
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.reasons import INACTIVE_COST_CENTER_PROBLEM, UNKNOWN_COST_CENTER_PROBLEM
from twin.domain.timebase import Timebase

QUERIES = ("/finance/ar-items", "/finance/journals", "/finance/statistics")  # GET, body as query


class _Posted(Protocol):
    @property
    def posted_at(self) -> float: ...


Posting = TypeVar("Posting", bound=_Posted)


def in_window(postings: Sequence[Posting], query: dict[str, Any]) -> Sequence[Posting]:
    """The postings (kept in posting order) inside the query's window: ``posted_from`` inclusive,
    ``posted_before`` exclusive, simulated minutes; a bound left out is open."""
    start, end = window_bounds(query, "posted_from", "posted_before")
    low = 0 if start is None else bisect_left(postings, start, key=_posted_at)
    high = len(postings) if end is None else bisect_left(postings, end, key=_posted_at)
    return postings[low:high]


def _posted_at(posting: _Posted) -> float:
    return posting.posted_at


@dataclass(frozen=True, slots=True)
class JournalLine:
    account: str
    cost_center: str
    debit: int
    credit: int


@dataclass(frozen=True, slots=True)
class Journal:
    journal_id: str
    reference: str  # the source document: an encounter's visit number for patient billing
    source: str
    posting_date: date
    posted_at: float
    lines: tuple[JournalLine, ...]
    adjusts: str = ""  # the journal this one adjusts ("" for an original entry)
    subledger: bool = False  # posted by the ERP itself (inventory, payables, recurring), not through the API


@dataclass(frozen=True, slots=True)
class Statistic:
    """A statistical posting: a quantity (not money) per cost center and day, e.g. patient days."""

    statistic_id: str
    reference: str
    account: str  # a STATISTICS account
    cost_center: str
    day: date
    quantity: int
    posted_at: float


@dataclass(frozen=True, slots=True)
class ArItem:
    """An open receivable: the amount a customer (payer or patient) owes for one invoice."""

    item_id: str
    invoice: str
    customer: str
    amount: int
    posted_at: float
    journal_id: str
    adjusts: str = ""  # the AR item this one adjusts (a debit or credit memo), "" for an original


class ErpFinance:
    """GL and AR state plus posting rules. Honours ``Idempotency-Key`` as modern ERP APIs do."""

    def __init__(self, timebase: Timebase, cost_centers: tuple[str, ...], closed_through: date | None = None):
        self.timebase = timebase
        self.cost_centers = set(cost_centers)
        self.inactive_cost_centers: set[str] = set()
        self.closed_through = closed_through
        self.journals: list[Journal] = []
        self.ar_items: list[ArItem] = []
        self.statistics: list[Statistic] = []
        self.retired: dict[str, str] = {}  # cost center -> its replacement
        self._replies = Replies()
        self._journals: dict[str, Journal] = {}  # by journal id
        self._ar_of: dict[str, str] = {}  # journal id -> the AR item it opened

    def close_period(self, through: date) -> None:
        """Close every period up to and including ``through``: later postings there are refused."""
        self.closed_through = through

    def retire_cost_center(self, cost_center: str, replacement: str) -> None:
        """Finance closes ``cost_center`` to postings and opens ``replacement`` for its activity."""
        self.cost_centers.add(replacement)
        self.inactive_cost_centers.add(cost_center)
        self.retired[cost_center] = replacement

    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.method == "GET" and request.path == "/finance/cost-centers":
            return TargetResponse(200, self.cost_center_list())
        if request.method == "GET" and request.path in QUERIES:
            return answer_query(lambda: self.query(request.path, request.body))
        if request.method != "POST" or request.path not in ("/finance/journals", "/finance/statistics"):
            return TargetResponse(404, {"errors": [f"no such operation: {request.method} {request.path}"]})
        replied = self._replies.get(request.idempotency_key)
        if replied is not None:
            return replied
        problems: list[dict[str, Any]] = []
        if request.path == "/finance/statistics":
            errors = self.validate_statistic(request.body, problems)
        else:
            errors = self.validate_journal(request.body, now, problems)
        if errors:
            return TargetResponse(422, {"errors": errors, "problems": problems})
        if request.path == "/finance/statistics":
            response = self._post_statistic(request.body, now)
        else:
            response = self._post(request.body, now)
        if request.idempotency_key:
            self._replies.keep(request.idempotency_key, response)
        return response

    def cost_center_list(self) -> dict[str, Any]:
        """Every cost center with its status (what a validation service reads)."""
        return {
            "cost_centers": [
                {
                    "cost_center": center,
                    "active": center not in self.inactive_cost_centers,
                    "replaced_by": self.retired.get(center),
                }
                for center in sorted(self.cost_centers)
            ]
        }

    def query(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        """The ledger's reporting queries (``GET``, body as query), for curated data services.

        Every query takes a posting window, ``posted_from`` (inclusive) and ``posted_before``
        (exclusive), in simulated minutes; postings are kept in posting order, so a window costs
        a binary search, not a scan. Journals filter by ``source``; statistics by ``account``
        and ``day`` (ISO date).
        """
        if path == "/finance/ar-items":
            return {
                "ar_items": [
                    {
                        "item_id": i.item_id,
                        "invoice": i.invoice,
                        "customer": i.customer,
                        "amount": i.amount,
                        "posted_at": i.posted_at,
                        "adjusts": i.adjusts,
                    }
                    for i in in_window(self.ar_items, query)
                ]
            }
        if path == "/finance/journals":
            return {
                "journals": [
                    {
                        "journal_id": j.journal_id,
                        "reference": j.reference,
                        "source": j.source,
                        "posting_date": j.posting_date.isoformat(),
                        "posted_at": j.posted_at,
                        "adjusts": j.adjusts,
                        "lines": [
                            {"account": x.account, "cost_center": x.cost_center, "debit": x.debit, "credit": x.credit}
                            for x in j.lines
                        ],
                    }
                    for j in in_window(self.journals, query)
                    if query.get("source") in (None, j.source)
                ]
            }
        return {
            "statistics": [
                {
                    "statistic_id": st.statistic_id,
                    "reference": st.reference,
                    "account": st.account,
                    "cost_center": st.cost_center,
                    "day": st.day.isoformat(),
                    "quantity": st.quantity,
                    "posted_at": st.posted_at,
                }
                for st in in_window(self.statistics, query)
                if query.get("account") in (None, st.account) and query.get("day") in (None, st.day.isoformat())
            ]
        }

    def check_cost_center(self, center: Any, where: str, errors: list[str], problems: list[dict[str, Any]]) -> None:
        """The ledger's cost-center rule, shared by every subledger that posts to the GL."""
        if not isinstance(center, str) or center not in self.cost_centers:
            errors.append(f"{where}: unknown cost center {center!r}")
            problems.append({"code": UNKNOWN_COST_CENTER_PROBLEM, "cost_center": center})
        elif center in self.inactive_cost_centers:
            errors.append(f"{where}: cost center {center!r} is inactive")
            problems.append({"code": INACTIVE_COST_CENTER_PROBLEM, "cost_center": center})

    def validate_statistic(self, body: dict[str, Any], problems: list[dict[str, Any]] | None = None) -> list[str]:
        """A statistic names a statistical account, a cost center, a day and a whole quantity."""
        problems = [] if problems is None else problems
        errors: list[str] = []
        if not _known(body.get("account"), STATISTICS):
            errors.append(f"unknown statistical account {body.get('account')!r}")
        self.check_cost_center(body.get("cost_center"), "statistic", errors, problems)
        quantity = body.get("quantity")
        if not _cents(quantity) or quantity < 0:
            errors.append("quantity must be a whole number >= 0")
        try:
            date.fromisoformat(str(body.get("day")))
        except ValueError:
            errors.append(f"day {body.get('day')!r} is not an ISO date")
        if not body.get("reference"):
            errors.append("statistic has no reference")
        elif not isinstance(body["reference"], str):
            errors.append(f"reference: expected text, got {body['reference']!r}")
        return errors

    def _post_statistic(self, body: dict[str, Any], now: float) -> TargetResponse:
        statistic = Statistic(
            f"ST{len(self.statistics) + 1:08d}",
            str(body["reference"]),
            str(body["account"]),
            str(body["cost_center"]),
            date.fromisoformat(str(body["day"])),
            int(body["quantity"]),
            now,
        )
        self.statistics.append(statistic)
        return TargetResponse(201, {"statistic_id": statistic.statistic_id})

    def validate_journal(
        self, body: dict[str, Any], now: float, problems: list[dict[str, Any]] | None = None
    ) -> list[str]:
        """Every rule the journal breaks, as messages naming the line and the rule."""
        problems = [] if problems is None else problems
        errors: list[str] = []
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            return ["journal has no lines"]
        if not body.get("reference"):
            errors.append("journal has no reference")
        elif not isinstance(body["reference"], str):
            errors.append(f"reference: expected text, got {body['reference']!r}")
        if not isinstance(body.get("source", ""), str):
            errors.append(f"source: expected text, got {body.get('source')!r}")
        elif body.get("source") in SUBLEDGER_SOURCES:
            errors.append(
                f"source {body.get('source')!r} is posted by the ERP's own subledger, not through the journals API"
            )
        debits = credits = 0
        for number, line in enumerate(lines, start=1):
            if not isinstance(line, dict):
                errors.append(f"line {number}: not an object")
                continue
            debit, credit = line.get("debit", 0), line.get("credit", 0)
            if not _cents(debit) or not _cents(credit) or debit < 0 or credit < 0:
                errors.append(f"line {number}: debit and credit must be non-negative integer cents")
                continue
            if (debit > 0) == (credit > 0):
                errors.append(f"line {number}: exactly one of debit or credit must be positive")
            if not _known(line.get("account"), ACCOUNTS):
                errors.append(f"line {number}: unknown account {line.get('account')!r}")
            self.check_cost_center(line.get("cost_center"), f"line {number}", errors, problems)
            debits += debit
            credits += credit
        if debits != credits:
            errors.append(f"journal does not balance: debits {debits} != credits {credits}")
        adjusts = body.get("adjusts")
        if adjusts is not None:
            original = self._journals.get(str(adjusts))
            if original is None or original.adjusts:
                errors.append(f"adjusts {adjusts!r}, which is no original journal")
            elif (original.reference, original.source) != (body.get("reference"), body.get("source", "")):
                errors.append(f"adjusts {adjusts!r}, a journal of another reference or source")
        posting_date = self.timebase.day(now)
        if self.closed_through is not None and posting_date <= self.closed_through:
            errors.append(f"period of {posting_date.isoformat()} is closed")
        receivable = body.get("receivable")
        if receivable is not None:
            ar_debit = sum(
                line.get("debit", 0) - line.get("credit", 0)
                for line in lines
                if isinstance(line, dict)
                and line.get("account") == PATIENT_RECEIVABLES
                and _cents(line.get("debit", 0))  # a line that is no amount is refused above; it sums to nothing
                and _cents(line.get("credit", 0))
            )
            if not isinstance(receivable, dict) or not receivable.get("customer") or not receivable.get("invoice"):
                errors.append("receivable needs a customer and an invoice")
            elif not isinstance(receivable["customer"], str) or not isinstance(receivable["invoice"], str):
                errors.append("receivable: customer and invoice must be text")
            elif receivable.get("amount") != ar_debit:
                errors.append(f"receivable amount {receivable.get('amount')} != AR debit {ar_debit}")
        return errors

    def post_internal(
        self, *, reference: str, source: str, now: float, lines: tuple[tuple[str, str, int, int], ...]
    ) -> str:
        """A journal the ERP's own subledgers post (inventory, payables): balanced by construction."""
        journal_id = f"JE{len(self.journals) + 1:08d}"
        journal = Journal(
            journal_id,
            reference,
            source,
            self.timebase.day(now),
            now,
            tuple(JournalLine(*line) for line in lines),
            subledger=True,
        )
        self.journals.append(journal)
        self._journals[journal_id] = journal
        return journal_id

    def _post(self, body: dict[str, Any], now: float) -> TargetResponse:
        journal_id = f"JE{len(self.journals) + 1:08d}"
        journal = Journal(
            journal_id=journal_id,
            reference=str(body["reference"]),
            source=str(body.get("source", "")),
            posting_date=self.timebase.day(now),
            posted_at=now,
            lines=tuple(
                JournalLine(line["account"], line["cost_center"], line.get("debit", 0), line.get("credit", 0))
                for line in body["lines"]
            ),
            adjusts=str(body.get("adjusts") or ""),
        )
        self.journals.append(journal)
        self._journals[journal_id] = journal
        reply: dict[str, Any] = {"journal_id": journal_id, "posting_date": journal.posting_date.isoformat()}
        receivable = body.get("receivable")
        if receivable is not None:
            item = ArItem(
                item_id=f"AR{len(self.ar_items) + 1:08d}",
                invoice=str(receivable["invoice"]),
                customer=str(receivable["customer"]),
                amount=int(receivable["amount"]),
                posted_at=now,
                journal_id=journal_id,
                adjusts=self._ar_of.get(journal.adjusts, "") if journal.adjusts else "",
            )
            self.ar_items.append(item)
            self._ar_of[journal_id] = item.item_id
            reply["ar_item_id"] = item.item_id
        return TargetResponse(201, reply)


def _known(code: Any, codes: dict[str, str]) -> bool:
    """Whether ``code`` is one of ``codes`` (what is not text is none of them, and may not even hash)."""
    return isinstance(code, str) and code in codes


def _cents(value: Any) -> TypeGuard[int]:
    """A whole JSON number: an amount in cents, a quantity (``true`` is neither)."""
    return isinstance(value, int) and not isinstance(value, bool)
