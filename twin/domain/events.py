"""Domain events: past-tense facts about an encounter.

The same types serve twice. Workflows append them to the truth ledger as what really happened;
the integration reconstructs them from the EHR's HL7/FHIR traffic as what it was told. Comparing
the two worlds is the whole point of the twin, so they must speak one vocabulary.
"""

from __future__ import annotations

from typing import NamedTuple

from twin.domain.model import Cents, SimTime


class PatientAdmitted(NamedTuple):
    at: SimTime
    hospital: str
    visit: str
    mrn: str
    unit: str
    bed: str
    attending_npi: str
    plan_code: str
    financial_class: str
    # inpatient (ADT^A01, PV1-2 I), observation (A01, PV1-2 O, PV1-18 OBS), emergency (A04, PV1-2 E) or
    # outpatient (A04, PV1-2 O): registrations (A04) are visits without a bed; ``unit`` is the department
    encounter_type: str = "inpatient"
    member_id: str = ""  # IN1-36 as registration keyed it ("" when the feed carries none)


ENCOUNTER_TYPES = ("inpatient", "observation", "emergency", "outpatient")
BEDDED = ("inpatient", "observation")  # stays in a bed on a nursing unit, admitted with A01


class PatientUpdated(NamedTuple):
    """Registration changed the visit's insurance (ADT^A08, with the IN1 as it now stands): the claim
    goes to the payer current at coding. An A08 without IN1 (a demographic update) carries an empty
    ``plan_code`` and changes nothing billing needs."""

    at: SimTime
    hospital: str
    visit: str
    mrn: str
    plan_code: str
    financial_class: str
    member_id: str = ""  # IN1-36 as it now stands: a biller correcting a mistyped member id sends an A08 too


class AdmissionCancelled(NamedTuple):
    """The admission or registration was entered in error (ADT^A11): the visit never happened and
    must never bill."""

    at: SimTime
    hospital: str
    visit: str


class TransferCancelled(NamedTuple):
    """The last transfer was entered in error (ADT^A12): the patient is back on ``to_unit``."""

    at: SimTime
    hospital: str
    visit: str
    from_unit: str  # the unit the cancelled transfer had moved the patient to
    to_unit: str  # the unit the patient is back on
    bed: str


class DischargeCancelled(NamedTuple):
    """The discharge was entered in error (ADT^A13): the patient is in house again on ``unit``; the
    discharge that counts is the next one."""

    at: SimTime
    hospital: str
    visit: str
    unit: str
    bed: str


class PatientsMerged(NamedTuple):
    """Two medical record numbers were one patient (ADT^A40, PID survivor, MRG merged): everything of
    ``merged_mrn`` - here its open ``visit`` - now belongs to ``mrn``, and bills under it."""

    at: SimTime
    hospital: str
    visit: str
    mrn: str  # the surviving MRN
    merged_mrn: str


class PatientTransferred(NamedTuple):
    at: SimTime
    hospital: str
    visit: str
    from_unit: str
    to_unit: str
    bed: str


class PatientDischarged(NamedTuple):
    at: SimTime
    hospital: str
    visit: str
    unit: str
    disposition: str  # HL7 table 0112, e.g. "01" home


class ChargeLine(NamedTuple):
    """One FT1: a charge (positive) or a credit reversing an earlier charge (negative amount).

    A supply line (an item used in a surgical case) is a charge with a ``location`` and a
    ``case``: the same fact drives billing (its charge) and inventory (its consumption).
    """

    txn_id: str
    code: str
    department: str  # EHR department code of the performing department
    quantity: int
    amount: Cents  # extended amount, negative for credits
    service_at: SimTime
    reverses: str | None = None  # txn_id of the charge a credit reverses
    location: str = ""  # supply lines: the EHR storeroom the item was taken from
    case: str = ""  # supply lines: the surgical case that used it


class ChargesPosted(NamedTuple):
    at: SimTime
    hospital: str
    visit: str
    lines: tuple[ChargeLine, ...]


class CodingCompleted(NamedTuple):
    """Health-information management finished coding the encounter: billing may proceed."""

    at: SimTime
    hospital: str
    visit: str
    principal_dx: str  # ICD-10-CM
    secondary_dx: tuple[str, ...]
    drg: str  # MS-DRG; "" for an outpatient, emergency or observation visit (not paid by DRG)
    queried: bool  # a coding query to the physician delayed it


DomainEvent = (
    PatientAdmitted
    | PatientTransferred
    | PatientDischarged
    | ChargesPosted
    | CodingCompleted
    | PatientUpdated
    | AdmissionCancelled
    | TransferCancelled
    | DischargeCancelled
    | PatientsMerged
)
"""Facts about an encounter: what the EHR publishes."""


class GoodsReceived(NamedTuple):
    """Receiving staff counted a vendor shipment into a storeroom (posted in the ERP by them)."""

    at: SimTime
    hospital: str
    location: str  # ERP inventory location
    item: str  # ERP item number
    quantity: int
    po: str


class GoodsShipped(NamedTuple):
    """A vendor shipped an order and invoiced it at once: the goods go to the dock (counted in later,
    ``GoodsReceived``), the invoice to the integration. Until the goods are counted in, ERP payables
    hold the invoice: it has no three-way match yet."""

    at: SimTime
    vendor: str
    po: str
    location: str  # ERP inventory location
    item: str  # ERP item number
    quantity: int


class CaseCompleted(NamedTuple):
    """A surgical case ended in an OR room (supply usage is documented with it)."""

    at: SimTime
    hospital: str
    visit: str
    case: str
    case_type: str
    service_line: str
    room: str
    started_at: SimTime


class CostCenterRetired(NamedTuple):
    """Finance retired a cost center in the ERP (postings to it are refused from now on)."""

    at: SimTime
    cost_center: str
    replacement: str  # the cost center that takes over its activity


class MappingPublished(NamedTuple):
    """Reference-data governance published one crosswalk entry (a data steward's decision).

    ``domain`` names the code set ("department", "item", "location", "insurance plan",
    "org unit", "charge code", "facility"); ``code`` is the source system's code and
    ``target`` the governed code in the target system. Publishing a mapping again corrects it.
    """

    at: SimTime
    domain: str
    code: str
    target: str
    reason: str = ""


class ShiftScheduled(NamedTuple):
    """Scheduling put a member of staff on a shift (the HCM holds it, open until they clock out).

    With ``ShiftWorked`` it tells which work dates are over: a date with a shift scheduled and not
    worked yet is still open, whatever else was worked that day (a run cut mid-shift).
    """

    at: SimTime
    hospital: str
    employee: str
    org_unit: str
    work_date: str  # ISO date, the calendar day the shift starts


class ShiftWorked(NamedTuple):
    """A member of staff clocked out of a shift in the HCM's own time clock (no interface involved).

    ``work_date`` is the calendar day the shift started (a night shift belongs to the evening it
    began); ``hours`` are the paid hours, exact quarter hours (``paid_quarter_hours``).
    """

    at: SimTime  # clock-out
    hospital: str
    employee: str
    ehr_department: str  # the department as EHR scheduling staffed it
    org_unit: str  # the same department as the HCM knows it
    work_date: str  # ISO date
    hours: float
    rate: Cents  # hourly rate, cents


class StockCounted(NamedTuple):
    """Storeroom staff counted an item-location (a cycle count) and entered it in the ERP.

    ``physical`` is what was really on the shelf; ``count_id`` the ERP's count document, so a
    report's lineage can name the count.
    """

    at: SimTime
    hospital: str
    location: str  # ERP inventory location
    item: str  # ERP item number
    physical: int
    count_id: str


class MessageCorrupted(NamedTuple):
    """A source message reached the integration spoiled (a poison HL7 message, a document in a
    drifted schema): what it stood for cannot be known downstream until someone repairs it."""

    at: SimTime
    message_id: str  # the HL7 control id (MSH-10), or the document's key
    channel: str  # "hl7" | "document"
    key: str  # the business key: the visit (HL7), the purchase order (vendor invoice)
    message_type: str  # "ADT^A01", "DFT^P03", ..., "invoice"
    variant: str  # the poison variant, or "schema_drift"
    lines: tuple[str, ...] = ()  # charge lines (FT1-2) the message carried
    visit_readable: bool = True  # False: spoiled past telling its encounter (cut before PV1, PV1-19 broken)


class MessageRepaired(NamedTuple):
    """The integration support team replayed a dead letter: with its original restored
    (``repaired``), or as it was (a request whose retries ran out)."""

    at: SimTime
    message_id: str  # the corrupted message's id (``MessageCorrupted.message_id``), or the dead letter's
    channel: str  # "hl7" | "document" | "request" | ...
    key: str  # the business key (visit, purchase order), when known
    repaired: bool = True


class DepartmentAliased(NamedTuple):
    """The EHR sent a charge line under a new code for an existing department (same cost center),
    one the crosswalk has never seen: the line's department is still ``department``."""

    at: SimTime
    visit: str
    txn_id: str
    department: str  # the EHR department the line really belongs to
    alias: str  # the code the message carried


class MemberIdMistyped(NamedTuple):
    """Registration keyed a visit's member id wrong (``keyed``, in IN1-36) - the payer knows the patient
    as ``member_id``: its front end will reject the claim until registration corrects it."""

    at: SimTime
    hospital: str
    visit: str
    keyed: str
    member_id: str


Fact = (
    DomainEvent
    | MemberIdMistyped
    | GoodsReceived
    | GoodsShipped
    | CaseCompleted
    | CostCenterRetired
    | MappingPublished
    | ShiftWorked
    | ShiftScheduled
    | StockCounted
    | MessageCorrupted
    | MessageRepaired
    | DepartmentAliased
)
"""Everything the truth ledger records."""
