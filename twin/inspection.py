"""``twin inspect``: how the reference integration reads each message of an interface file, or why it rejects it.

An engineer points it at a file of their own interface's traffic - HL7 v2 ER7 (one message or
many; segments ending in CR, LF or CRLF; MLLP framing tolerated) or FHIR JSON (a resource, a
Bundle, NDJSON) - and sees, per message, the canonical event the integration reads from it or
the exact ACK / OperationOutcome it answers when it cannot. The messages go through a fresh
reference integration configured as the default scenario configures it, so the answer is the
integration's own, not a re-implementation; codes its crosswalk does not know are listed as
warnings, since the reading itself does not depend on them.

The output shows the integration's keys (MRN, visit number), because that is what the engineer
is looking for, but never a patient's name: events carry none, and no payload is echoed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.domain.events import ChargesPosted, CodingCompleted, DomainEvent, PatientAdmitted
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk, Unmapped
from twin.integration.reference import ReferenceIntegration

_LINE_END = re.compile(r"\r\n|\r|\n")
_TIME_FIELDS = ("at", "service_at")


class InputError(Exception):
    """The file cannot be inspected at all (missing, not text, neither HL7 v2 nor FHIR)."""


@dataclass(slots=True)
class Inspected:
    """One message of the file and what the integration made of it."""

    number: int  # position in the file, from 1
    line: int  # the line it starts on (lines end at CR, LF or CRLF); 0 for a Bundle entry
    entry: int | None  # FHIR Bundle entry index
    format: str  # "hl7" | "fhir"
    message_type: str  # "ADT^A01", "Encounter", ...
    message_id: str  # MSH-10, or the resource's type/id
    accepted: bool
    answer: str  # the ACK code (AA/AE/AR) or the HTTP status
    event: dict[str, Any] | None = None  # the canonical event as JSON
    ack: str = ""  # the HL7 ACK, ER7
    operation_outcome: dict[str, Any] | None = None
    duplicate: bool = False  # already processed earlier in the file: acknowledged, not processed again
    warnings: list[str] = field(default_factory=list)

    def document(self, path: Path) -> dict[str, Any]:
        """The JSON document ``--json`` prints for this message."""
        document: dict[str, Any] = {
            "file": str(path),
            "message": self.number,
            "line": self.line or None,
            "entry": self.entry,
            "format": self.format,
            "type": self.message_type,
            "id": self.message_id,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "event": self.event,
            "warnings": self.warnings,
        }
        if self.format == "hl7":
            document.update(ack_code=self.answer, ack=self.ack)
        else:
            document.update(status=int(self.answer), operation_outcome=self.operation_outcome)
        return document


@dataclass(frozen=True, slots=True)
class _Chunk:
    line: int
    entry: int | None
    payload: Any  # ER7 text, or a FHIR resource (parsed, or JSON text when it does not parse)


def inspect_file(path: Path, encoding: str = "utf-8") -> list[Inspected]:
    """Every message of ``path`` as the reference integration reads it; ``InputError`` if it cannot be read."""
    text = _read_text(path, encoding)
    kind, chunks = _split(path, text)
    integration = _integration()
    inspect = _inspect_hl7 if kind == "hl7" else _inspect_fhir
    now = 0.0
    results = []
    for number, chunk in enumerate(chunks, start=1):
        inspected, now = inspect(integration, number, chunk, now)
        results.append(inspected)
    return results


def _integration() -> ReferenceIntegration:
    """A fresh reference integration with the default scenario's configuration (crosswalk, clock base)."""
    from twin.scenario import DEFAULT_SCENARIO, load_scenario
    from twin.sim import Twin

    integration = Twin(load_scenario(DEFAULT_SCENARIO), keep_traffic=False).integration
    assert isinstance(integration, ReferenceIntegration)
    return integration


# -- reading the file ----------------------------------------------------------------------------
def _read_text(path: Path, encoding: str) -> str:
    if not path.exists():
        raise InputError(f"{path}: no such file. Give the path of an HL7 v2 (ER7) or FHIR JSON/NDJSON file.")
    if path.is_dir():
        raise InputError(f"{path} is a folder. Give one file of HL7 v2 (ER7) messages or FHIR JSON/NDJSON.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        text = data.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except LookupError:
        raise InputError(f"{path}: unknown text encoding {encoding!r} (try utf-8 or latin-1).") from None
    except UnicodeDecodeError as exc:
        line = len(_LINE_END.split(data[: exc.start].decode("latin-1")))
        raise InputError(
            f"{path}: not {encoding} text - byte {exc.start} (line {line}) cannot be decoded. HL7 v2 files from "
            "older systems are often Latin-1 or Windows-1252: try --encoding latin-1."
        ) from None
    if not text.strip(" \t\r\n\x0b\x1c"):
        raise InputError(f"{path} is empty: there is no message to inspect.")
    return text


def _split(path: Path, text: str) -> tuple[str, list[_Chunk]]:
    """The file's kind ("hl7" | "fhir") and its messages."""
    start = text.lstrip(" \t\r\n\x0b")
    if start[:1] in ("{", "["):
        return "fhir", _fhir_chunks(path, text)
    lines = _LINE_END.split(text)
    if any(line.lstrip("\x0b").startswith("MSH") for line in lines):
        return "hl7", _hl7_chunks(lines)
    first = start.splitlines()[0][:40]
    raise InputError(
        f"{path} is neither HL7 v2 nor FHIR: no line starts with MSH| (an ER7 message) and it does not start with "
        f"{{ (FHIR JSON or NDJSON); it starts with {first!r}."
    )


def _hl7_chunks(lines: list[str]) -> list[_Chunk]:
    """ER7 messages: each starts at a line beginning with MSH; blank lines and MLLP framing separate them."""
    chunks: list[_Chunk] = []
    segments: list[str] = []
    first_line = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.lstrip("\x0b").rstrip("\x1c")
        if not line.strip():
            continue
        if line.startswith("MSH") and segments:
            chunks.append(_Chunk(first_line, None, "\r".join(segments) + "\r"))
            segments = []
        if not segments:
            first_line = number
        segments.append(line)
    if segments:
        chunks.append(_Chunk(first_line, None, "\r".join(segments) + "\r"))
    return chunks


def _fhir_chunks(path: Path, text: str) -> list[_Chunk]:
    """A resource, a Bundle's entries, or NDJSON lines. A line or document that is not JSON is kept
    as text: the integration answers it 400, which is what the engineer needs to see."""
    try:
        document = json.loads(text)
    except ValueError:
        lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if len(lines) > 1 and _is_json_object(lines[0][1]):
            return [_Chunk(number, None, _parsed_or_text(line)) for number, line in lines]
        return [_Chunk(lines[0][0] if lines else 1, None, text)]
    if not isinstance(document, dict):
        raise InputError(
            f"{path}: a JSON {type(document).__name__} is not FHIR. Expected a resource or a Bundle (a JSON object "
            "with resourceType), or NDJSON (one resource per line)."
        )
    if "resourceType" not in document:
        raise InputError(f"{path}: a JSON object without resourceType is not a FHIR resource.")
    if document["resourceType"] == "Bundle":
        entries = document.get("entry") or []
        if not isinstance(entries, list):
            raise InputError(f"{path}: Bundle.entry is not a list of entries.")
        return [_Chunk(0, index, _entry_resource(entry)) for index, entry in enumerate(entries)]
    return [_Chunk(1, None, document)]


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _parsed_or_text(line: str) -> Any:
    try:
        value = json.loads(line)
    except ValueError:
        return line
    return value if isinstance(value, dict) else line


def _entry_resource(entry: Any) -> Any:
    resource = entry.get("resource") if isinstance(entry, dict) else None
    return resource if isinstance(resource, dict) else json.dumps(resource)


# -- asking the integration --------------------------------------------------------------------
def _inspect_hl7(integration: ReferenceIntegration, number: int, chunk: _Chunk, now: float) -> tuple[Inspected, float]:
    read = integration.reader.read(chunk.payload)
    if read.event is not None:
        now = max(now, read.event.at)
    duplicates, exceptions = integration.duplicates_ignored, {id(e) for e in integration.exceptions()}
    outcome = integration.receive_hl7(chunk.payload, now)
    ack = outcome.ack or ""
    code = ack[ack.find("MSA|") + 4 :][:2] if "MSA|" in ack else ""
    header = read.header
    inspected = Inspected(
        number,
        chunk.line,
        None,
        "hl7",
        header.message_type if header else "",
        header.control_id if header else "",
        code == "AA",
        code,
        ack=ack,
        duplicate=integration.duplicates_ignored > duplicates,
    )
    if read.event is not None:
        inspected.event = event_json(read.event, integration.config.timebase)
        inspected.warnings = _warnings(integration, read.event, exceptions)
    return inspected, now


def _inspect_fhir(integration: ReferenceIntegration, number: int, chunk: _Chunk, now: float) -> tuple[Inspected, float]:
    read = integration.fhir_reader.read(chunk.payload)
    if read.event is not None:
        now = max(now, read.event.at)
    duplicates, exceptions = integration.duplicates_ignored, {id(e) for e in integration.exceptions()}
    outcome = integration.receive_fhir(chunk.payload, now)
    inspected = Inspected(
        number,
        chunk.line,
        chunk.entry,
        "fhir",
        read.resource_type,
        read.message_id,
        outcome.status < 300,
        str(outcome.status),
        operation_outcome=outcome.operation_outcome,
        duplicate=integration.duplicates_ignored > duplicates,
    )
    if read.event is not None:
        inspected.event = event_json(read.event, integration.config.timebase)
        inspected.warnings = _warnings(integration, read.event, exceptions)
    return inspected, now


def event_json(event: DomainEvent, timebase: Timebase) -> dict[str, Any]:
    """A canonical event as JSON: its type, then its fields; times as calendar instants."""
    document: dict[str, Any] = {"event": type(event).__name__}
    for name, value in event._asdict().items():
        if name in _TIME_FIELDS:
            value = timebase.iso(value)
        elif name == "lines":
            value = [
                {key: timebase.iso(item) if key in _TIME_FIELDS else item for key, item in line._asdict().items()}
                for line in value
            ]
        elif isinstance(value, tuple):
            value = list(value)
        document[name] = value
    return document


def _warnings(integration: ReferenceIntegration, event: DomainEvent, raised_before: set[int]) -> list[str]:
    """Codes of the event the crosswalk cannot map, and anything else the integration raised for it."""
    found = _unmapped(integration.config.crosswalk, event)
    for exception in integration.exceptions():
        if id(exception) not in raised_before and not exception.domain:  # master data: the codes above
            found.append(f"{exception.reason_code}: {exception.reason}")
    return list(dict.fromkeys(found))


def _unmapped(crosswalk: Crosswalk, event: DomainEvent) -> list[str]:
    checks: list[tuple[str, str]] = []
    if isinstance(event, PatientAdmitted):
        checks += [("insurance plan", event.plan_code), ("facility", event.hospital)]
    elif isinstance(event, ChargesPosted):
        for line in event.lines:
            checks.append(("department", line.department))
            if line.location:
                checks += [("item", line.code), ("location", line.location)]
    elif isinstance(event, CodingCompleted):
        checks.append(("facility", event.hospital))
    lookups = {
        "insurance plan": crosswalk.payer,
        "facility": crosswalk.business_office,
        "department": crosswalk.cost_center,
        "item": crosswalk.item,
        "location": crosswalk.location,
    }
    found = []
    for domain, code in checks:
        try:
            lookups[domain](code)
        except Unmapped:
            if code:
                found.append(f"{domain} {code!r} is not in the crosswalk: its work waits as an exception until mapped")
            else:
                found.append(f"no {domain} in the message: its work waits as an exception")
    return found


# -- printing ------------------------------------------------------------------------------------
def describe(item: Inspected) -> list[str]:
    """The lines the console shows for one message."""
    where = f"line {item.line}" if item.line else f"entry {item.entry}"
    verdict = "read" if item.accepted else "rejected"
    if item.duplicate:
        verdict = "already processed (acknowledged, not processed again)"
    kind, identity = item.message_type or "?", item.message_id or "(no id)"
    lines = [f"#{item.number}  {where}  {kind}  {identity}  {verdict} ({item.answer})"]
    if item.event is not None:
        lines += ["  " + line for line in json.dumps(item.event, indent=2, ensure_ascii=False).splitlines()]
    lines += [f"  warning: {warning}" for warning in item.warnings]
    if not item.accepted:
        if item.format == "hl7":
            lines += ["  " + segment for segment in item.ack.split("\r") if segment]
        else:
            outcome = json.dumps(item.operation_outcome, indent=2, ensure_ascii=False)
            lines += ["  " + line for line in outcome.splitlines()]
    return lines
