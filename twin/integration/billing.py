"""Discharge-to-billing orchestration: hold the bill until coding is done and charges validate.

The brief's scenario one: transferring the discharge is not enough; the integration must sequence
coding completion, charge validation and exception handling before finance and claims see
anything. Per encounter the state machine is

    open -> discharged -> (coded, charges valid, bill hold over) -> journal sent -> journal posted
         -> claim sent -> billed [-> adjusting journal -> replacement claim -> billed ...]

and anything that stops it (coding overdue, an unmapped code, a target refusing) becomes an
``IntegrationException`` with a reason, never a silent gap. The bill waits the policy's bill hold
after discharge for charges still to come (``bill_hold_minutes``), and for a dead-lettered message
of its encounter until it is replayed (``park``). A charge that arrives once the bill went out is
a late charge: the integration says so (``late_charge``) and bills it by an adjusting journal that
names the original (``adjusts``) and a replacement claim that names the claim it replaces
(``Claim.related``, prior), one adjustment at a time. Sans-IO: inputs are events and responses
with ``now``; outputs are requests, timers and exceptions.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from twin.domain import reasons
from twin.domain.contract import IntegrationException, Outcome
from twin.domain.events import (
    AdmissionCancelled,
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    DischargeCancelled,
    DomainEvent,
    MappingPublished,
    PatientAdmitted,
    PatientDischarged,
    PatientsMerged,
    PatientUpdated,
)
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.domain.reasons import COST_CENTER_PROBLEMS
from twin.domain.timebase import Timebase
from twin.integration.claim import claim_resource, claim_type, journal_body
from twin.integration.crosswalk import SELF_PAY_CUSTOMER, Crosswalk, Unmapped

FLOW = "discharge_billing"


@dataclass(slots=True)
class Account:
    """The integration's view of one encounter's billing."""

    visit: str
    hospital: str
    mrn: str = ""
    plan_code: str = ""
    admitted_at: SimTime | None = None
    discharged_at: SimTime | None = None
    charges: dict[str, ChargeLine] = field(default_factory=dict)
    coding: CodingCompleted | None = None
    billed: tuple[str, ...] = ()  # the charge lines the journals carried: the claim carries the same
    status: str = "open"
    exceptions: list[IntegrationException] = field(default_factory=list)
    journal_id: str = ""  # the ERP's id of the original journal (an adjustment names it)
    claim_id: str = ""  # the clearinghouse's id of the claim as it stands (a replacement names it)
    late: dict[str, ChargeLine] = field(default_factory=dict)  # arrived after the bill went, not yet adjusted
    adjusting: tuple[str, ...] = ()  # the late lines of the adjustment in flight
    adjustments: int = 0
    resubmissions: int = 0  # claims sent again after the payer's front end rejected one
    claim_rejected: bool = False  # the claim bounced: it waits for registration to correct what the edit names
    corrected: bool = False  # ... and registration has corrected it since
    encounter_type: str = "inpatient"
    member_id: str = ""  # the subscriber id registered with the coverage (IN1-36)
    coverage_at: SimTime = -1.0  # when the coverage in ``plan_code`` was registered (A01/A04, then A08)
    discharge_cancelled_at: SimTime = -1.0  # a discharge before this was entered in error (A13)


class BillingOrchestrator:
    def __init__(
        self,
        crosswalk: Crosswalk,
        timebase: Timebase,
        coding_deadline_minutes: float,
        bill_hold_minutes: float = 0.0,
        *,
        adjust: bool = True,
        hold_for_dead_letters: bool = True,
    ) -> None:
        self.crosswalk = crosswalk
        self.timebase = timebase
        self.coding_deadline = coding_deadline_minutes
        self.bill_hold = bill_hold_minutes
        self.adjust = adjust  # planted weakness when False: late charges are raised, never billed
        self.hold_for_dead_letters = hold_for_dead_letters
        self._holds: list[tuple[SimTime, str]] = []  # (hold over, visit): bills waiting for the bill hold
        self.accounts: dict[str, Account] = {}
        self.raised: list[IntegrationException] = []
        self._deadlines: list[tuple[SimTime, str]] = []
        self._held_for: dict[tuple[str, str], set[str]] = {}  # (code set, code) -> accounts waiting for it
        self._parked: Counter[str] = Counter()  # visit -> its messages waiting in the dead-letter queue
        self._visits_of: dict[str, set[str]] = {}  # MRN -> its visits: a merge moves them to the survivor
        self._survivor: dict[str, str] = {}  # merged MRN -> the MRN that survived it

    def park(self, visit: str) -> None:
        """A message of ``visit`` was dead-lettered: its bill waits for the repair rather than go out
        without what the message carried (a coder's charge rejected moments before the final coding)."""
        if self.hold_for_dead_letters:
            self._parked[visit] += 1

    def unpark(self, visit: str, now: SimTime) -> Outcome:
        """A dead letter of ``visit`` was replayed and processed: bill if nothing else holds it."""
        outcome = Outcome()
        if visit not in self._parked:
            return outcome
        self._parked[visit] -= 1
        if self._parked[visit] <= 0:
            del self._parked[visit]
            account = self.accounts.get(visit)
            if account is not None:
                self._try_bill(account, now, outcome)
        return outcome

    def parked(self) -> int:
        """Encounters whose bill waits for a dead letter (for ``health()``)."""
        return len(self._parked)

    def apply(self, event: DomainEvent, now: SimTime) -> Outcome:
        account = self.accounts.get(event.visit)
        if account is None:
            account = self.accounts[event.visit] = Account(event.visit, event.hospital)
        outcome = Outcome()
        if isinstance(event, ChargesPosted):  # first: most messages are charges
            new = [line for line in event.lines if line.txn_id not in account.charges]
            for line in new:
                account.charges[line.txn_id] = line
            if new and account.status not in ("open", "discharged", "held", "cancelled"):  # a held bill takes them
                account.late.update((line.txn_id, line) for line in new)
                self._raise(
                    account,
                    reasons.LATE_CHARGE,
                    f"{len(new)} charge(s) arrived after the bill went out ({account.status}): billed by adjustment",
                    now,
                )
                self._try_adjust(account, now, outcome)
        elif isinstance(event, PatientAdmitted):
            # a merge or a coverage update may have come first (the admission was repaired late)
            account.mrn = self._survivor.get(event.mrn, event.mrn)
            account.admitted_at, account.encounter_type = event.at, event.encounter_type
            self._cover(account, event.plan_code, event.at, event.member_id)
            self._visits_of.setdefault(account.mrn, set()).add(event.visit)
            self._try_bill(account, now, outcome)  # coded already: its admission came late (a repaired message)
        elif isinstance(event, PatientDischarged):
            if event.at < account.discharge_cancelled_at:
                return outcome  # the discharge that was cancelled, repaired or overtaken: it does not count
            account.discharged_at = event.at
            if account.status == "open":
                account.status = "discharged"
            due = event.at + self.coding_deadline
            heapq.heappush(self._deadlines, (due, account.visit))
            outcome.timers.append(max(due, now))
            self._try_bill(account, now, outcome)  # coded already: its discharge came late (a repaired message)
        elif isinstance(event, CodingCompleted):
            account.coding = event
            self._resolve(account, reasons.CODING_OVERDUE, now)
            self._try_bill(account, now, outcome)
        elif isinstance(event, PatientUpdated):
            if event.plan_code:  # an update without IN1 (demographics) leaves the coverage as it was
                self._cover(account, event.plan_code, event.at, event.member_id)
                if account.claim_rejected:  # registration corrected: the claim goes again
                    account.corrected = True
                    self._resubmit(account, now, outcome)
        elif isinstance(event, DischargeCancelled):  # entered in error: the discharge that counts is the next
            account.discharge_cancelled_at = max(account.discharge_cancelled_at, event.at)
            if account.discharged_at is not None and account.discharged_at > event.at:
                return outcome  # repaired late: it cancelled an earlier discharge, and the one held came after it
            account.discharged_at = None
            if account.status == "discharged":
                account.status = "open"
        elif isinstance(event, AdmissionCancelled):  # the visit never happened: it never bills
            if account.status in ("open", "discharged", "held"):
                account.status = "cancelled"
        elif isinstance(event, PatientsMerged):  # the merged MRN's visits bill under the survivor
            self._survivor[event.merged_mrn] = event.mrn
            moved = self._visits_of.pop(event.merged_mrn, set()) | {event.visit}
            for visit in moved:
                merged = self.accounts.get(visit)
                if merged is not None:
                    merged.mrn = event.mrn
            self._visits_of.setdefault(event.mrn, set()).update(moved)
        # a transfer or its cancellation changes nothing billing needs: charges carry their department
        return outcome

    @staticmethod
    def _cover(account: Account, plan_code: str, at: SimTime, member_id: str) -> None:
        """The coverage registered at ``at``, unless a later registration already replaced it."""
        if at >= account.coverage_at:
            account.plan_code, account.member_id, account.coverage_at = plan_code, member_id, at

    def on_timer(self, now: SimTime) -> Outcome:
        while self._deadlines and self._deadlines[0][0] <= now:
            due, visit = heapq.heappop(self._deadlines)
            account = self.accounts[visit]
            if account.discharged_at is None or due != account.discharged_at + self.coding_deadline:
                continue  # the discharge it counted from was cancelled (or a later one counts)
            if account.coding is None and account.status != "cancelled":
                hours = self.coding_deadline / 60
                self._raise(account, reasons.CODING_OVERDUE, f"coding not complete {hours:g} h after discharge", now)
        outcome = Outcome()
        while self._holds and self._holds[0][0] <= now:
            _, visit = heapq.heappop(self._holds)
            self._try_bill(self.accounts[visit], now, outcome)
        return outcome

    def on_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        account = self.accounts[request.correlation]
        outcome = Outcome()
        adjustment = "adjusts" in request.body or "related" in request.body
        if request.system == "erp":
            if response.ok and adjustment:
                account.billed += account.adjusting
                self._resolve_master_data(account, now)
                if account.claim_rejected:  # no accepted claim to replace: the corrected claim will carry it
                    self._billed(account, now, outcome)
                    self._resubmit(account, now, outcome)
                else:
                    self._submit_claim(account, now, outcome, replacement=True)
            elif response.ok:
                account.journal_id = str(response.body.get("journal_id", ""))
                account.status = "journal_posted"
                self._resolve_master_data(account, now)
                self._submit_claim(account, now, outcome)
            elif adjustment:  # the late lines wait for what stopped them (a mapping), then go again
                account.status = "adjust_held"
                account.late.update((txn, account.charges[txn]) for txn in account.adjusting)
                account.adjusting = ()
                self._raise_rejection(account, request, response, now, outcome)
            else:
                account.status = "held"
                self._raise_rejection(account, request, response, now, outcome)
        elif request.system == "clearinghouse":
            if response.ok:
                account.claim_id = str(response.body.get("id", ""))
                account.claim_rejected = False
                self._resolve(account, reasons.CLAIM_REJECTED, now)
                self._billed(account, now, outcome)
            else:  # a person must correct what the edit names; a corrected registration sends it again
                account.status = "billed"  # the journal stands: late charges still adjust it meanwhile
                if not adjustment:
                    account.claim_rejected, account.corrected = True, False
                self._raise(
                    account,
                    reasons.CLAIM_REJECTED,
                    f"clearinghouse rejected the {'replacement ' if adjustment else ''}claim ({response.status}): "
                    + "; ".join(map(str, response.body.get("reasons", []))),
                    now,
                )
        return outcome

    def _resubmit(self, account: Account, now: SimTime, outcome: Outcome) -> None:
        """Send a rejected claim again once registration corrected it and no adjustment is in flight
        (a new claim with every line billed so far, not a replacement: none was accepted)."""
        if account.claim_rejected and account.corrected and account.status == "billed":
            account.resubmissions += 1
            account.corrected = False
            self._submit_claim(account, now, outcome)

    def _billed(self, account: Account, now: SimTime, outcome: Outcome) -> None:
        """The bill (or its last adjustment) is complete: late charges that came meanwhile go next."""
        account.status = "billed"
        if account.adjusting:
            account.adjusting = ()
            if not account.late:
                self._resolve(account, reasons.LATE_CHARGE, now)
        self._try_adjust(account, now, outcome)

    def _try_adjust(self, account: Account, now: SimTime, outcome: Outcome) -> None:
        """Bill the late charges: an adjusting journal beside the original, then a replacement claim."""
        if account.status != "billed" or not account.late or not self.adjust:
            self._resubmit(account, now, outcome)
            return
        body = self._journal(account, account.late.values(), now, held="billed", unmapped="adjust_held")
        if body is None:
            return
        account.adjusting, account.late = tuple(account.late), {}
        if len(body["lines"]) == 0:  # the late lines net to nothing on every account: nothing to post
            account.billed += account.adjusting
            self._billed(account, now, outcome)
            return
        account.adjustments += 1
        account.status = "adjusting"
        body["adjusts"] = account.journal_id
        key = f"journal:{account.visit}:adjustment:{account.adjustments}"
        outcome.requests.append(TargetRequest("erp", "POST", "/finance/journals", body, key, account.visit))

    def on_mapping(self, change: MappingPublished, now: SimTime) -> Outcome:
        """A crosswalk entry was published: bill again every account held for that code."""
        outcome = Outcome()
        for visit in sorted(self._held_for.pop((change.domain, change.code), ())):
            account = self.accounts[visit]
            if account.status == "held":
                self._try_bill(account, now, outcome)
            elif account.status == "adjust_held":
                account.status = "billed"
                self._try_adjust(account, now, outcome)
        return outcome

    def _every_unmapped(self, account: Account, first: Unmapped) -> list[Unmapped]:
        """``first`` and every other department of the account the crosswalk does not know yet."""
        problems = [first]
        for department in sorted({line.department for line in account.charges.values()}):
            if first.domain == "department" and department == first.code:
                continue
            try:
                self.crosswalk.cost_center(department)
            except Unmapped as unmapped:
                problems.append(unmapped)
        return problems

    def _raise_rejection(
        self, account: Account, request: TargetRequest, response: TargetResponse, now: SimTime, outcome: Outcome
    ) -> None:
        """ERP refused the journal. A cost center it does not accept is a master-data problem: the
        exception names the department whose mapping must change, and the account waits for it
        (unless the mapping changed while the journal was on its way: then it is sent again)."""
        errors = "; ".join(map(str, response.body.get("errors", [])))
        for problem in response.body.get("problems", []):
            if not isinstance(problem, dict) or not problem.get("cost_center"):
                continue
            center = str(problem["cost_center"])
            departments = self.crosswalk.codes_for("department", center)
            used = sorted({line.department for line in account.charges.values()} & set(departments))
            remapped = center != self.crosswalk.business_office(account.hospital)  # no department maps to it now
            if not used and remapped and problem.get("code") in COST_CENTER_PROBLEMS:
                if account.status == "adjust_held":  # already remapped: adjust with the new mapping
                    account.status = "billed"
                    self._try_adjust(account, now, outcome)
                else:
                    self._try_bill(account, now, outcome)  # already remapped: bill with the new mapping
                return
            if used:
                reason = reasons.refused_cost_center(str(problem.get("code")))
                self._raise(
                    account,
                    reason,
                    f"ERP refused the journal ({response.status}): {errors}",
                    now,
                    domain="department",
                    code=used[0],
                )
                return
        self._raise(account, reasons.ERP_REJECTED, f"ERP refused the journal ({response.status}): {errors}", now)

    def _try_bill(self, account: Account, now: SimTime, outcome: Outcome) -> None:
        if account.status not in ("open", "discharged", "held") or account.coding is None:
            return
        if account.discharged_at is None or account.admitted_at is None:
            return  # coded before the discharge arrived: bill when it does (ordering is the transport's job)
        if account.visit in self._parked:
            return  # a message of the encounter waits in the dead-letter queue: bill with it, when replayed
        hold_over = account.discharged_at + self.bill_hold
        if now < hold_over:  # the policy's bill hold: charges may still come
            heapq.heappush(self._holds, (hold_over, account.visit))
            outcome.timers.append(hold_over)
            return
        body = self._journal(account, account.charges.values(), now, held="held", unmapped="held")
        if body is None:
            return
        account.status = "journal_sent"
        account.billed = tuple(account.charges)
        outcome.requests.append(
            TargetRequest("erp", "POST", "/finance/journals", body, f"journal:{account.visit}", account.visit)
        )

    def _journal(
        self, account: Account, lines: Iterable[ChargeLine], now: SimTime, *, held: str, unmapped: str
    ) -> dict[str, Any] | None:
        """The revenue journal of ``lines``, or ``None`` with the account in status ``held`` (invalid
        charges) or ``unmapped`` (a code the crosswalk lacks: every one of them raised at once, so the
        steward fixes them together)."""
        problem = self._validate_charges(account)
        if problem:
            account.status = held
            self._raise(account, reasons.CHARGE_INVALID, problem, now)
            return None
        try:
            payer = self.crosswalk.payer(account.plan_code)
            return journal_body(account.visit, account.hospital, payer or SELF_PAY_CUSTOMER, lines, self.crosswalk)
        except Unmapped as gap:
            account.status = unmapped
            for each in self._every_unmapped(account, gap):
                self._raise(account, reasons.unmapped(each.domain), str(each), now, domain=each.domain, code=each.code)
            return None

    def _submit_claim(self, account: Account, now: SimTime, outcome: Outcome, *, replacement: bool = False) -> None:
        payer = self.crosswalk.payer(account.plan_code)
        if payer is None:  # self pay: the patient statement comes from AR, no claim
            self._billed(account, now, outcome)
            return
        coding = account.coding
        assert coding is not None and account.admitted_at is not None and account.discharged_at is not None
        claim = claim_resource(
            visit=account.visit,
            hospital=account.hospital,
            mrn=account.mrn,
            payer_id=payer,
            admitted_at=account.admitted_at,
            discharged_at=account.discharged_at,
            principal_dx=coding.principal_dx,
            secondary_dx=coding.secondary_dx,
            drg=coding.drg,
            lines=[account.charges[txn] for txn in account.billed],
            created_at=now,
            timebase=self.timebase,
            replaces=account.claim_id if replacement else "",
            claim_type=claim_type(account.encounter_type),
            member_id=account.member_id,
        )
        account.status = "claim_sent"
        key = f"claim:{account.visit}" + (f":replacement:{account.adjustments}" if replacement else "")
        if account.resubmissions and not replacement:  # a new claim, not a retry of the rejected one
            key += f":resubmission:{account.resubmissions}"
        outcome.requests.append(TargetRequest("clearinghouse", "POST", "/claims", claim, key, account.visit))

    def _validate_charges(self, account: Account) -> str:
        if not account.charges:
            return "encounter has no charges"
        for line in account.charges.values():
            if line.amount == 0:
                return f"charge {line.txn_id} has a zero amount"
            if line.amount < 0:
                original = account.charges.get(line.reverses or "")
                if original is None:
                    return f"credit {line.txn_id} reverses unknown charge {line.reverses!r}"
                if original.amount != -line.amount:
                    return f"credit {line.txn_id} does not match the amount of charge {original.txn_id}"
        if sum(line.amount for line in account.charges.values()) <= 0:
            return "encounter charges net to zero or less"
        return ""

    def _raise(
        self, account: Account, reason_code: str, reason: str, now: SimTime, *, domain: str = "", code: str = ""
    ) -> None:
        if domain:
            self._held_for.setdefault((domain, code), set()).add(account.visit)
        for existing in account.exceptions:
            if (existing.reason_code, existing.code) != (reason_code, code):
                continue
            if existing.resolved_at is None:
                return
            if not domain:  # one exception per encounter and reason: it recurred (a second late charge), reopen it
                existing.resolved_at = None
                return
        exception = IntegrationException(FLOW, account.visit, reason_code, reason, now, domain=domain, code=code)
        account.exceptions.append(exception)
        self.raised.append(exception)

    def _resolve_master_data(self, account: Account, now: SimTime) -> None:
        """The journal posted: every master-data exception the account waited on is resolved."""
        for existing in account.exceptions:
            if existing.domain and existing.resolved_at is None:
                existing.resolved_at = now

    def _resolve(self, account: Account, reason_code: str, now: SimTime) -> None:
        for existing in account.exceptions:
            if existing.reason_code == reason_code and existing.resolved_at is None:
                existing.resolved_at = now
