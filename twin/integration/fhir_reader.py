"""Reads FHIR R4 resources from the EHR into domain events; what it cannot read becomes an OperationOutcome.

The FHIR side of the integration's intake, beside the HL7 v2 reader. Each resource is validated
with ``fhir.resources`` (R4B models) first: that is the standard's word on whether it is FHIR at
all, and at ~15k resources/s it is too slow for the HL7 hot path, so it runs here, at the FHIR
boundary, only. Like the HL7 reader it never raises on input: anything it cannot read becomes
``FhirRejected`` with the HTTP status (400 not FHIR, 422 FHIR this interface cannot use) and the
issues an OperationOutcome reports - code, the element's FHIRPath and what was expected.

The mapping is taken from what the EHR's FHIR view (``mocks/ehr/fhir_view.py``) writes, so the
EHR's own FHIR output reads into the same canonical events its HL7 feed gives (a test proves it
field by field):

Encounter, status ``in-progress`` -> ``PatientAdmitted``; ``finished`` -> ``PatientDischarged``;
``entered-in-error`` -> ``AdmissionCancelled`` (a registration entered in error, A11):
  visit          ``identifier`` (visit-number system), else the id     PV1-19
  hospital       ``serviceProvider`` Organization/<code>                MSH-4
  mrn            ``subject`` Patient/<mrn> (or its MRN identifier)     PID-3
  at             ``period.start`` (admitted), ``period.end`` (discharged)  EVN-2, PV1-45
                 cancelled: ``meta.lastUpdated`` (when the server        EVN-2 of the A11
                 recorded it), else ``period.start``
  unit           ``location[0]`` (admitted to), ``location[-1]`` (discharged from)  PV1-3
  attending_npi  ``participant.individual`` NPI identifier             PV1-7
  encounter_type ``class`` (v3 ActCode): IMP inpatient, OBSENC         PV1-2, PV1-18
                 observation, EMER emergency, AMB outpatient; another
                 code, another system or none: inpatient
  disposition    ``hospitalization.dischargeDisposition`` -> table 0112  PV1-36
ChargeItem, status ``billable`` -> ``ChargesPosted`` with one line:
  txn_id         the id                                                FT1-2
  visit          ``context`` Encounter/<visit>                         PV1-19
  hospital       ``performingOrganization`` Organization/<code>        MSH-4
  code           ``code`` (chargemaster system)                        FT1-7
  quantity       ``quantity.value``, 1 when absent                     FT1-10
  amount         ``priceOverride.value``: extended, negative for a credit  FT1-11
  service_at     ``occurrenceDateTime`` (or ``occurrencePeriod.start``)  FT1-4
  reverses       ``partOf`` ChargeItem/<txn>                           FT1-23 of a CD line
  department     ``costCenter``                                        FT1-13
  at             ``enteredDate``, else the service time                EVN-2

Some facts the HL7 feed carries have no place in these resources as the EHR writes them, and
the events carry them empty: an admission's ``bed``, ``plan_code`` and ``financial_class``
(FHIR keeps them on Coverage and Account) and a supply line's storeroom and surgical case. So a
charge read from the view's FHIR bills (its performing department is ``costCenter``) but issues no
inventory: for stock the HL7 feed stays the system of record. Times
are read as the twin writes them: a FHIR offset is normalised to UTC, the twin's local clock.

The rest of the ADT vocabulary travels on the HL7 feed only: a resource shows the chart as it
stands, not the correction that made it so, and this reader reads one resource at a time.
Coverage is not read, so a coverage update (A08) is not read either; a cancelled transfer (A12)
only leaves the Encounter's locations without it; a cancelled discharge (A13) makes the Encounter
``in-progress`` again, which reads as its admission once more (the same facts) and withdraws
nothing; a merge (A40) moves the visit's resources to the surviving Patient, which only an
admission read afterwards would show. So an integration fed by FHIR alone bills such a visit
from its first discharge, without the coverage update, under the MRN it was admitted with.

The Encounter's logical id is its visit number (as in the view), which is what a ChargeItem's
``context`` reference names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from twin.domain.events import (
    AdmissionCancelled,
    ChargeLine,
    ChargesPosted,
    DomainEvent,
    PatientAdmitted,
    PatientDischarged,
)
from twin.domain.timebase import Timebase
from twin.integration.claim import CHARGEMASTER_SYSTEM

MRN_SYSTEM = "urn:twin:mrn"
VISIT_SYSTEM = "urn:twin:visit-number"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
DISCHARGE_DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
# discharge-disposition code -> HL7 table 0112, the inverse of what the EHR's FHIR view writes.
# A code without a table 0112 counterpart is kept as it came.
DISPOSITION_0112 = {"home": "01", "hosp": "06", "snf": "03", "exp": "20"}
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# Encounter.class (v3 ActCode) -> encounter type, the inverse of what the EHR's FHIR view writes;
# another class is read as inpatient (what every Encounter was before the view wrote the class).
ENCOUNTER_TYPE = {"IMP": "inpatient", "OBSENC": "observation", "EMER": "emergency", "AMB": "outpatient"}
ENCOUNTER_STATUSES = ("in-progress", "finished", "entered-in-error")
SUPPORTED = ("Encounter", "ChargeItem")

BAD_REQUEST = 400  # not JSON, or not valid FHIR R4
UNPROCESSABLE = 422  # valid FHIR this interface cannot turn into an event


class Issue(NamedTuple):
    """One OperationOutcome issue: ``code`` from the FHIR issue-type value set, ``expression``
    the FHIRPath of the element ("" for the resource as a whole)."""

    code: str
    expression: str
    diagnostics: str


class FhirRejected(NamedTuple):
    """Why a resource cannot be processed, as the HTTP status and the issues to report."""

    status: int
    issues: tuple[Issue, ...]

    @property
    def reason(self) -> str:
        """The issues in one line, for the dead-letter queue."""
        return "; ".join(f"{i.expression}: {i.diagnostics}" if i.expression else i.diagnostics for i in self.issues)


class FhirRead(NamedTuple):
    """``key`` identifies the resource version for idempotency (type, id, version); ``message_id``
    names it for people and the DLQ (``Encounter/V1/_history/3``)."""

    key: tuple[str, str] | None
    message_id: str
    resource_type: str
    event: DomainEvent | None
    rejected: FhirRejected | None


class _Reject(Exception):
    def __init__(self, status: int, *issues: Issue) -> None:
        super().__init__(issues[0].diagnostics if issues else "")
        self.rejected = FhirRejected(status, issues)


def operation_outcome(rejected: FhirRejected) -> dict[str, Any]:
    """The OperationOutcome a FHIR server answers a rejected resource with (R4)."""
    issues: list[dict[str, Any]] = []
    for issue in rejected.issues:
        entry: dict[str, Any] = {"severity": "error", "code": issue.code, "diagnostics": issue.diagnostics}
        if issue.expression:
            entry["expression"] = [issue.expression]
        issues.append(entry)
    return {"resourceType": "OperationOutcome", "issue": issues}


class FhirReader:
    """Turns a FHIR resource (parsed JSON or JSON text) into a ``FhirRead``."""

    def __init__(self, timebase: Timebase) -> None:
        self.timebase = timebase

    def read(self, resource: Mapping[str, Any] | str) -> FhirRead:
        kind, message_id, key = "", "", None
        try:
            parsed = _parse(resource) if isinstance(resource, str) else resource
            if not isinstance(parsed, Mapping):
                raise _Reject(BAD_REQUEST, Issue("structure", "", "a FHIR resource is a JSON object"))
            resource = parsed
            kind, message_id, key = _identify(resource)
            if not kind:
                raise _Reject(BAD_REQUEST, Issue("required", "resourceType", "resourceType is missing"))
            if kind not in SUPPORTED:
                raise _Reject(
                    UNPROCESSABLE,
                    Issue("not-supported", kind, f"this interface reads {' and '.join(SUPPORTED)}, not {kind}"),
                )
            model = _validate(kind, resource)
            if model.modifierExtension:
                raise _Reject(
                    UNPROCESSABLE,
                    Issue(
                        "not-supported", f"{kind}.modifierExtension", "a modifier extension this interface cannot read"
                    ),
                )
            if not resource.get("id"):
                raise _Reject(UNPROCESSABLE, Issue("required", f"{kind}.id", "the resource id is missing"))
            event = self._encounter(model) if kind == "Encounter" else self._charge(model)
            return FhirRead(key, message_id, kind, event, None)
        except _Reject as reject:
            return FhirRead(key, message_id, kind, None, reject.rejected)
        except Exception as exc:  # noqa: BLE001 - the reader's promise is to never raise on input
            issue = Issue("exception", "", f"unreadable resource: {type(exc).__name__}")
            return FhirRead(key, message_id, kind, None, FhirRejected(BAD_REQUEST, (issue,)))

    # -- Encounter -----------------------------------------------------------------------------
    def _encounter(self, model: Any) -> DomainEvent:
        status = model.status
        if status not in ENCOUNTER_STATUSES:
            raise _Reject(
                UNPROCESSABLE,
                Issue(
                    "not-supported",
                    "Encounter.status",
                    f"status {status!r} is not read: in-progress (an admission), finished (a discharge) or "
                    "entered-in-error (a cancelled registration)",
                ),
            )
        visit = _identifier(model.identifier, VISIT_SYSTEM) or str(model.id)
        hospital = _reference_id(model.serviceProvider, "Organization", "Encounter.serviceProvider")
        period = model.period
        if status == "entered-in-error":  # when it was cancelled is when the server recorded it so
            updated = model.meta.lastUpdated if model.meta is not None else None
            if updated is not None:
                return AdmissionCancelled(self._time(updated, "Encounter.meta.lastUpdated"), hospital, visit)
            return AdmissionCancelled(self._time(period and period.start, "Encounter.period.start"), hospital, visit)
        locations = model.location or []
        if not locations:
            raise _Reject(UNPROCESSABLE, Issue("required", "Encounter.location", "no location: the unit is missing"))
        if status == "in-progress":
            subject = model.subject
            mrn = _identifier(getattr(subject, "identifier", None) and [subject.identifier], MRN_SYSTEM)
            mrn = mrn or _reference_id(subject, "Patient", "Encounter.subject")
            return PatientAdmitted(
                at=self._time(period and period.start, "Encounter.period.start"),
                hospital=hospital,
                visit=visit,
                mrn=mrn,
                unit=_location(locations[0], "Encounter.location[0].location"),
                bed="",
                attending_npi=_attending(model.participant),
                plan_code="",
                financial_class="",
                encounter_type=_encounter_type(model.class_fhir),
            )
        disposition = ""
        hospitalization = model.hospitalization
        if hospitalization is not None and hospitalization.dischargeDisposition is not None:
            code = _code(hospitalization.dischargeDisposition, DISCHARGE_DISPOSITION_SYSTEM)
            disposition = DISPOSITION_0112.get(code, code)
        return PatientDischarged(
            at=self._time(period and period.end, "Encounter.period.end"),
            hospital=hospital,
            visit=visit,
            unit=_location(locations[-1], f"Encounter.location[{len(locations) - 1}].location"),
            disposition=disposition,
        )

    # -- ChargeItem ----------------------------------------------------------------------------
    def _charge(self, model: Any) -> ChargesPosted:
        if model.status != "billable":
            raise _Reject(
                UNPROCESSABLE,
                Issue("not-supported", "ChargeItem.status", f"status {model.status!r} is not read: billable"),
            )
        code = _code(model.code, CHARGEMASTER_SYSTEM)
        if not code:
            raise _Reject(
                UNPROCESSABLE,
                Issue("code-invalid", "ChargeItem.code", f"no coding from the chargemaster ({CHARGEMASTER_SYSTEM})"),
            )
        context = model.context
        visit = _identifier(getattr(context, "identifier", None) and [context.identifier], VISIT_SYSTEM)
        visit = visit or _reference_id(context, "Encounter", "ChargeItem.context")
        hospital = _reference_id(model.performingOrganization, "Organization", "ChargeItem.performingOrganization")
        occurrence = model.occurrenceDateTime
        where = "ChargeItem.occurrenceDateTime"
        if occurrence is None and model.occurrencePeriod is not None:
            occurrence, where = model.occurrencePeriod.start, "ChargeItem.occurrencePeriod.start"
        service_at = self._time(occurrence, where)
        at = self._time(model.enteredDate, "ChargeItem.enteredDate") if model.enteredDate else service_at
        price = model.priceOverride
        if price is None or price.value is None:
            raise _Reject(
                UNPROCESSABLE,
                Issue("required", "ChargeItem.priceOverride", "no amount: priceOverride.value (extended, USD)"),
            )
        if price.currency not in (None, "USD"):
            raise _Reject(
                UNPROCESSABLE,
                Issue("value", "ChargeItem.priceOverride.currency", f"currency {price.currency!r} is not USD"),
            )
        amount = _whole(Decimal(price.value) * 100, "ChargeItem.priceOverride.value", "at most two decimals")
        quantity = 1
        if model.quantity is not None and model.quantity.value is not None:
            quantity = _whole(Decimal(model.quantity.value), "ChargeItem.quantity.value", "a whole number")
            if quantity < 0:
                raise _Reject(UNPROCESSABLE, Issue("value", "ChargeItem.quantity.value", "a quantity is not negative"))
        reverses = None
        if model.partOf:
            reverses = _reference_id(model.partOf[0], "ChargeItem", "ChargeItem.partOf[0]")
        department = _department(model.costCenter)
        line = ChargeLine(str(model.id), code, department, quantity, amount, service_at, reverses)
        return ChargesPosted(at, hospital, visit, (line,))

    def _time(self, value: object, where: str) -> float:
        """Simulated minutes of a FHIR date or dateTime; a dateTime's offset is normalised to UTC."""
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            text = value.strftime("%Y%m%d%H%M%S")
        elif isinstance(value, date):
            text = value.strftime("%Y%m%d")
        elif value is None or value == "":
            raise _Reject(UNPROCESSABLE, Issue("required", where, "the time is missing"))
        else:
            raise _Reject(UNPROCESSABLE, Issue("value", where, "expected a full date or dateTime"))
        try:
            return self.timebase.minutes(text)
        except (ValueError, OverflowError):
            raise _Reject(UNPROCESSABLE, Issue("value", where, "not a calendar time")) from None


def _parse(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise _Reject(BAD_REQUEST, Issue("structure", "", f"not JSON{where}: {detail}")) from None


def _identify(resource: Mapping[str, Any]) -> tuple[str, str, tuple[str, str] | None]:
    """(resource type, message id, idempotency key) of a resource, as far as it can be told."""
    kind = resource.get("resourceType")
    kind = kind if isinstance(kind, str) else ""
    identifier = resource.get("id")
    meta = resource.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    version = meta.get("versionId") or meta.get("lastUpdated")
    if not version:  # no version from the sender: the content is the version (a resend is a duplicate)
        text = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        version = "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    if isinstance(identifier, str) and identifier:
        message_id = f"{kind or 'Resource'}/{identifier}"
        if meta.get("versionId"):
            message_id += f"/_history/{meta['versionId']}"
        return kind, message_id, (f"fhir:{kind}", f"{identifier}|{version}")
    return kind, f"{kind or 'Resource'}#{str(version).removeprefix('sha256:')[:12]}", None


def _model(kind: str) -> Any:
    """The fhir.resources model of a kind this reader reads (imported on first use: it is slow to load)."""
    if kind == "Encounter":
        from fhir.resources.R4B.encounter import Encounter

        return Encounter
    from fhir.resources.R4B.chargeitem import ChargeItem

    return ChargeItem


def _validate(kind: str, resource: Mapping[str, Any]) -> Any:
    try:
        return _model(kind).model_validate(dict(resource))
    except ValueError as exc:
        errors = exc.errors() if hasattr(exc, "errors") else []
        issues = tuple(_issue(kind, error) for error in errors[:20]) or (Issue("invalid", kind, "not valid FHIR R4"),)
        raise _Reject(BAD_REQUEST, *issues) from None


def _issue(kind: str, error: Mapping[str, Any]) -> Issue:
    """An OperationOutcome issue from a pydantic error (its message only: never the input value,
    which may be a patient's name)."""
    path = kind
    for part in error.get("loc", ()):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("root", "__root__"):
            name = str(part).removeprefix("_").removesuffix("__ext")
            path += "." + ("resourceType" if name == "resource_type" else name)
    kind_of_error = str(error.get("type", ""))
    if kind_of_error == "extra_forbidden":
        code, text = "structure", "unknown element"
    elif kind_of_error.endswith("missing"):
        code, text = "required", "required element missing"
    elif kind_of_error.startswith("fhir-validation-wrong-resource-type"):
        code, text = "invalid", "wrong resourceType"
    else:
        code, text = "value", str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return Issue(code, path, text.split("\n")[0][:200])


def _identifier(identifiers: Sequence[Any] | None, system: str) -> str:
    for identifier in identifiers or ():
        if identifier is not None and identifier.system == system and identifier.value:
            return str(identifier.value)
    return ""


def _reference_id(reference: Any, kind: str, where: str) -> str:
    """The id in ``<kind>/<id>`` of a Reference (a relative reference, or the tail of an absolute one)."""
    text = getattr(reference, "reference", None) or ""
    parts = text.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
        return parts[-1]
    if len(parts) >= 4 and parts[-4] == kind and parts[-2] == "_history" and parts[-3]:
        return parts[-3]
    expected = f"a reference to {kind}/<id>"
    raise _Reject(UNPROCESSABLE, Issue("required" if not text else "value", where, expected))


def _code(concept: Any, system: str) -> str:
    for coding in getattr(concept, "coding", None) or ():
        if coding.system == system and coding.code:
            return str(coding.code)
    return ""


def _encounter_type(coding: Any) -> str:
    """The encounter type of an Encounter.class (see ``ENCOUNTER_TYPE``)."""
    if coding is None or coding.system not in (ACT_CODE_SYSTEM, None):
        return "inpatient"
    return ENCOUNTER_TYPE.get(str(coding.code), "inpatient")


def _location(location: Any, where: str) -> str:
    """The unit code of an Encounter.location: its identifier, else its display (as the view writes it)."""
    reference = location.location
    identifier = getattr(reference, "identifier", None)
    unit = (identifier.value if identifier is not None else None) or getattr(reference, "display", None)
    if not unit:
        raise _Reject(UNPROCESSABLE, Issue("required", where, "the unit code is missing (identifier or display)"))
    return str(unit)


def _attending(participants: Sequence[Any] | None) -> str:
    for participant in participants or ():
        individual = participant.individual
        identifier = getattr(individual, "identifier", None)
        if identifier is not None and identifier.system == NPI_SYSTEM and identifier.value:
            return str(identifier.value)
    return ""


def _department(cost_center: Any) -> str:
    if cost_center is None:
        return ""
    identifier = getattr(cost_center, "identifier", None)
    if identifier is not None and identifier.value:
        return str(identifier.value)
    if cost_center.display:
        return str(cost_center.display)
    reference = cost_center.reference or ""
    return str(reference.rsplit("/", 1)[-1]) if reference.startswith("Organization/") else ""


def _whole(value: Decimal, where: str, expected: str) -> int:
    try:
        whole = int(value)
    except (ValueError, OverflowError, InvalidOperation):
        raise _Reject(UNPROCESSABLE, Issue("value", where, f"expected {expected}")) from None
    if whole != value:
        raise _Reject(UNPROCESSABLE, Issue("value", where, f"expected {expected}"))
    return whole
