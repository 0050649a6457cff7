"""FHIR R4 search for the EHR's resource store: which parameters each type has, and what they match.

A search arrives as the (name, value) pairs of a query string, in order; a parameter repeated is an
AND, a comma inside one value an OR (FHIR R4, search 3.1.1.4). ``parse`` turns the pairs into a
``Query`` or refuses them with a ``SearchError`` naming the parameter; ``Query.matches`` tests one
resource. The four kinds of parameter the EHR's resources need:

- token: ``code``, ``system|code``, ``|code`` (no system), ``system|`` - on an Identifier, a Coding, a
  CodeableConcept, a code or a boolean;
- string: starts with, ignoring case (``:exact``: equal; ``:contains``: anywhere);
- date: with a prefix (``eq ne gt lt ge le sa eb ap``) on an implicit range (``2026-01`` is the whole
  month), compared with the element's own range (a Period; a dateTime at its precision) as R4 defines
  each prefix - ``ap`` is "the ranges overlap";
- reference: ``Patient/x``, ``x``, an absolute URL ending in ``Patient/x``, or ``:Patient`` and ``x``.

Every parameter takes ``:missing=true|false``. An unknown modifier is always refused: silently
dropping a modifier changes what a search means. An unknown parameter is ignored (and left out of
the self link, so the client sees it was not used) unless the client asked for strict handling.

Pure functions of the pairs and the resources: no IO, no clock, no ``urllib`` (the percent-encoding
of the links is here, small, because the core may not import the network's libraries).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

JSON = dict[str, Any]
Pairs = Sequence[tuple[str, str]]

TOKEN, STRING, DATE, REFERENCE = "token", "string", "date", "reference"
DEFAULT_COUNT = 50
MAX_COUNT = 500
PAGING = ("_getpages", "_offset")  # a page of a search already run (the store's snapshot and where in it)
SORTABLE = ("_id", "_lastUpdated")
NO_EFFECT = ("_format", "_pretty", "_total")  # answered the same way whatever their value (JSON, totals always)
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter: its FHIR type and the elements it reads (paths of JSON keys)."""

    name: str
    kind: str
    paths: tuple[tuple[str, ...], ...]
    documentation: str
    targets: tuple[str, ...] = ()  # a reference's resource types


def _p(name: str, kind: str, paths: str, documentation: str, targets: tuple[str, ...] = ()) -> SearchParam:
    """``paths`` as FHIRPath-ish text: ``name.family|name.given``."""
    return SearchParam(name, kind, tuple(tuple(p.split(".")) for p in paths.split("|")), documentation, targets)


_COMMON = (
    _p("_id", TOKEN, "id", "the logical id"),
    _p("_lastUpdated", DATE, "meta.lastUpdated", "when the current version was stored"),
)
_PATIENT, _ENCOUNTER, _ORG = ("Patient",), ("Encounter",), ("Organization",)
SEARCH_PARAMS: dict[str, tuple[SearchParam, ...]] = {
    "Organization": (
        _p("identifier", TOKEN, "identifier", "an identifier of the organization"),
        _p("name", STRING, "name|alias", "its name or an alias"),
        _p("type", TOKEN, "type", "its kind (prov: a hospital, pay: a payer)"),
        _p("active", TOKEN, "active", "whether the record is in use"),
    ),
    "Patient": (
        _p("identifier", TOKEN, "identifier", "a patient identifier (the MRN: urn:twin:mrn|H01M...)"),
        _p("family", STRING, "name.family", "the family name"),
        _p("given", STRING, "name.given", "a given name"),
        _p("name", STRING, "name.family|name.given|name.text", "any part of the name"),
        _p("birthdate", DATE, "birthDate", "the date of birth"),
        _p("gender", TOKEN, "gender", "male | female | other | unknown"),
        _p("active", TOKEN, "active", "whether the record is in use (false: merged into another, see link)"),
        _p("link", REFERENCE, "link.other", "a patient this record links to (replaced-by: merged into it)", _PATIENT),
    ),
    "Coverage": (
        _p("patient", REFERENCE, "beneficiary", "the covered patient", _PATIENT),
        _p("beneficiary", REFERENCE, "beneficiary", "the covered patient", _PATIENT),
        _p("payor", REFERENCE, "payor", "who pays (a payer organization, or the patient)", ("Organization", "Patient")),
        _p("status", TOKEN, "status", "active | cancelled | draft | entered-in-error"),
    ),
    "Encounter": (
        _p("identifier", TOKEN, "identifier", "the visit number (urn:twin:visit-number|H01V...)"),
        _p("patient", REFERENCE, "subject", "the patient", _PATIENT),
        _p("subject", REFERENCE, "subject", "the patient", _PATIENT),
        _p("status", TOKEN, "status", "in-progress | finished | entered-in-error (a cancelled registration)"),
        _p("date", DATE, "period", "the stay's period (admission to discharge; open while in house)"),
        _p("class", TOKEN, "class", "IMP inpatient, OBSENC observation, EMER emergency, AMB outpatient"),
        _p("service-provider", REFERENCE, "serviceProvider", "the hospital", _ORG),
    ),
    "ChargeItem": (
        _p("identifier", TOKEN, "identifier", "a business identifier of the charge"),
        _p("patient", REFERENCE, "subject", "the patient charged", _PATIENT),
        _p("subject", REFERENCE, "subject", "the patient charged", _PATIENT),
        _p("context", REFERENCE, "context", "the encounter the charge belongs to", _ENCOUNTER),
        _p("code", TOKEN, "code", "the chargemaster code (urn:twin:chargemaster|...)"),
        _p("entered-date", DATE, "enteredDate", "when the charge was entered"),
        _p("occurrence", DATE, "occurrenceDateTime|occurrencePeriod", "when the service was given"),
    ),
    "Claim": (
        _p("identifier", TOKEN, "identifier", "the visit number the claim bills"),
        _p("patient", REFERENCE, "patient", "the patient", _PATIENT),
        _p("use", TOKEN, "use", "claim | preauthorization | predetermination"),
        _p("status", TOKEN, "status", "active | cancelled | draft | entered-in-error"),
        _p("created", DATE, "created", "when the claim was created"),
        _p("insurer", REFERENCE, "insurer", "the payer billed", _ORG),
    ),
}
MODIFIERS = {TOKEN: ("not", "missing"), STRING: ("exact", "contains", "missing"), DATE: ("missing",)}


class SearchError(Exception):
    """A search the server refuses: the OperationOutcome's issue code, what is wrong and where."""

    def __init__(self, diagnostics: str, expression: str = "", code: str = "invalid", status: int = 400) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.expression = expression
        self.code = code
        self.status = status


def params_of(resource_type: str) -> dict[str, SearchParam]:
    return {p.name: p for p in (*_COMMON, *SEARCH_PARAMS[resource_type])}


@dataclass(frozen=True, slots=True)
class Criterion:
    """One parameter as asked: a resource matches when any of ``values`` does (``missing``: presence)."""

    param: SearchParam
    modifier: str
    values: tuple[str, ...]
    name: str  # as written, with its modifier (for the self link)

    def matches(self, resource: JSON) -> bool:
        found = [v for path in self.param.paths for v in _walk(resource, path)]
        if self.modifier == "missing":
            return (not found) == (self.values[0] == "true")
        if self.modifier == "not":
            return not any(_token(v, value) for value in self.values for v in found)
        return any(self._one(v, value) for value in self.values for v in found)

    def _one(self, element: Any, value: str) -> bool:
        kind = self.param.kind
        if kind == TOKEN:
            return _token(element, value)
        if kind == STRING:
            return _string(element, value, self.modifier)
        if kind == DATE:
            return _date(element, value)
        return _reference(element, value, self.modifier)


@dataclass(slots=True)
class Query:
    """A parsed search: criteria (all must match), the result parameters, and what was not used."""

    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (parameter, descending)
    getpages: str | None = None
    offset: int = 0
    used: list[tuple[str, str]] = field(default_factory=list)  # the pairs the answer honoured (self link)
    ignored: list[str] = field(default_factory=list)

    def matches(self, resource: JSON) -> bool:
        return all(c.matches(resource) for c in self.criteria)


def parse(resource_type: str, pairs: Pairs, strict: bool = False) -> Query:
    """The query the pairs ask for, or ``SearchError`` (see the module docstring)."""
    known = params_of(resource_type)
    query = Query(resource_type)
    for raw_name, value in pairs:
        name, _, modifier = raw_name.partition(":")
        if name == "_count":
            query.count = min(_whole(raw_name, value), MAX_COUNT)
        elif name == "_offset":
            query.offset = _whole(raw_name, value)
            continue  # a page's position, not part of the search (the links set it)
        elif name == "_getpages":
            query.getpages = value
            continue
        elif name == "_sort":
            query.sort = _sort(value, strict)
            if not query.sort:
                continue
            value = ",".join(("-" if desc else "") + key for key, desc in query.sort)
        elif name in NO_EFFECT:
            pass
        elif name in known:
            query.criteria.append(_criterion(known[name], raw_name, modifier, value))
        elif strict:
            raise SearchError(f"unknown search parameter {raw_name!r} for {resource_type}", raw_name, "not-supported")
        else:
            query.ignored.append(raw_name)
            continue
        query.used.append((raw_name, value))
    return query


def _whole(name: str, value: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise SearchError(f"{name} must be a whole number 0..999999999, got {value[:40]!r}", name)
    return int(value)


def _sort(value: str, strict: bool) -> list[tuple[str, bool]]:
    keys = []
    for key in (k.strip() for k in value.split(",")):
        name = key.removeprefix("-")
        if name in SORTABLE:
            keys.append((name, key.startswith("-")))
        elif strict:
            raise SearchError(f"cannot sort by {key[:40]!r}: sortable are {', '.join(SORTABLE)}", "_sort")
    return keys


def _criterion(param: SearchParam, raw_name: str, modifier: str, value: str) -> Criterion:
    values = tuple(_split(value))
    if not values or any(v == "" for v in values):
        raise SearchError(f"{raw_name} has an empty value", raw_name)
    if modifier == "missing":
        if value not in ("true", "false"):
            raise SearchError(f"{raw_name} must be true or false", raw_name)
    elif modifier and param.kind == REFERENCE:
        if param.targets and modifier not in param.targets:
            raise SearchError(f"{param.name} refers to {', '.join(param.targets)}, not {modifier[:40]}", raw_name)
    elif modifier and modifier not in MODIFIERS.get(param.kind, ()):
        raise SearchError(f"unknown modifier :{modifier[:40]} on {param.name} (a {param.kind} parameter)", raw_name)
    if param.kind == DATE and modifier != "missing":
        for v in values:
            _date_value(v, raw_name)  # refuse a malformed date now, not silently match nothing
    return Criterion(param, modifier, values, raw_name)


def _split(value: str) -> Iterator[str]:
    """A value's OR-alternatives: split on commas that are not escaped (``\\,``)."""
    for part in re.split(r"(?<!\\),", value):
        yield part.replace("\\,", ",")


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Every value at ``path`` under ``node``, lists flattened."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from _walk(node[path[0]], path[1:])


# -- token ------------------------------------------------------------------------------------------
def _token(element: Any, value: str) -> bool:
    if "|" in value:
        system, _, code = value.partition("|")
    else:
        system, code = None, value
    if isinstance(element, dict) and "coding" in element:
        return any(_token(coding, value) for coding in element["coding"] if isinstance(coding, dict))
    if isinstance(element, dict):
        have_system, have_code = element.get("system"), element.get("code", element.get("value"))
    elif isinstance(element, bool):
        have_system, have_code = None, "true" if element else "false"
    else:
        have_system, have_code = None, element
    if system is not None and (have_system or "") != system:
        return False
    return code == "" or (isinstance(have_code, str) and have_code == code)


# -- string -----------------------------------------------------------------------------------------
def _string(element: Any, value: str, modifier: str) -> bool:
    if not isinstance(element, str):
        return False
    if modifier == "exact":
        return element == value
    if modifier == "contains":
        return value.casefold() in element.casefold()
    return element.casefold().startswith(value.casefold())


# -- reference --------------------------------------------------------------------------------------
def _reference(element: Any, value: str, type_modifier: str) -> bool:
    reference = element.get("reference") if isinstance(element, dict) else None
    if not isinstance(reference, str):
        return False
    have_type, have_id = _type_and_id(reference)
    want_type, want_id = _type_and_id(value)
    want_type = type_modifier or want_type
    return have_id == want_id and (not want_type or want_type == have_type)


def _type_and_id(reference: str) -> tuple[str, str]:
    """``http://x/fhir/Patient/7/_history/2`` -> ("Patient", "7"); ``7`` -> ("", "7")."""
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])


# -- date -------------------------------------------------------------------------------------------
_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d{1,9})?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_INF = float("inf")


def date_range(text: str) -> tuple[float, float] | None:
    """A FHIR date, dateTime or instant as the range of seconds (since 1970, UTC) it stands for:
    ``[start, end)``; ``None`` when it is not one. A time without a zone is taken as UTC."""
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    g = match.groupdict()
    year, month, day = int(g["y"]), int(g["m"] or 1), int(g["d"] or 1)
    try:
        zone = UTC
        if g["tz"] and g["tz"] != "Z":
            sign = -1 if g["tz"][0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(g["tz"][1:3]), minutes=int(g["tz"][4:6])))
        start = datetime(year, month, day, int(g["H"] or 0), int(g["M"] or 0), int(g["S"] or 0), tzinfo=zone)
        if g["f"]:
            start += timedelta(microseconds=int((g["f"][1:] + "000000")[:6]))
        low = start.timestamp()
        if g["H"] is not None:
            width = 10.0 ** -len(g["f"][1:]) if g["f"] else 1.0 if g["S"] else 60.0
            return low, low + width
        if g["d"] is not None:
            return low, low + 86400
        next_year, next_month = divmod(month - 1 + (1 if g["m"] is not None else 12), 12)
        if year + next_year > 9999:
            return low, _INF
        return low, datetime(year + next_year, next_month + 1, 1, tzinfo=zone).timestamp()
    except (ValueError, OverflowError):  # no 31st of February, no hour 25, no year 0, no zone +25:00
        return None


def _date_value(value: str, name: str) -> tuple[str, tuple[float, float]]:
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    found = date_range(text)
    if found is None:
        raise SearchError(f"{name}: {value[:40]!r} is not a FHIR date (YYYY[-MM[-DD[Thh:mm[:ss][zone]]]])", name)
    return prefix, found


def _target_range(element: Any) -> tuple[float, float] | None:
    if isinstance(element, str):
        return date_range(element)
    if isinstance(element, dict):  # a Period: an open end is open
        start = date_range(element["start"]) if isinstance(element.get("start"), str) else None
        end = date_range(element["end"]) if isinstance(element.get("end"), str) else None
        if start is None and end is None:
            return None
        return (start[0] if start else -_INF), (end[1] if end else _INF)
    return None


def _date(element: Any, value: str) -> bool:
    target = _target_range(element)
    if target is None:
        return False
    prefix, (low, high) = _date_value(value, "date")
    t_low, t_high = target
    within = low <= t_low and t_high <= high
    if prefix == "eq":
        return within
    if prefix == "ne":
        return not within
    if prefix == "gt":
        return t_high > high
    if prefix == "lt":
        return t_low < low
    if prefix == "ge":
        return t_high > high or within
    if prefix == "le":
        return t_low < low or within
    if prefix == "sa":
        return t_low >= high
    if prefix == "eb":
        return t_high <= low
    return t_low < high and t_high > low  # ap: the ranges overlap


# -- links ------------------------------------------------------------------------------------------
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/,")


def quote(text: str) -> str:
    """``text`` percent-encoded for a query string (RFC 3986, UTF-8)."""
    return "".join(c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def query_string(pairs: Pairs) -> str:
    return "&".join(f"{quote(name)}={quote(value)}" for name, value in pairs)
