"""The EHR's FHIR R4 server state: versioned resources and the REST interactions on them, sans-IO.

The EHR's chart is the truth; this store is what its FHIR API serves from it. The live driver
renders the resources an event touched (``fhir_view.chart_resources``) and ``publish``-es them; a
resource whose content did not change gets no new version, so ``meta.versionId`` counts real
changes and an ETag stays valid until one happens. Clients may also write (``create``,
``update``): a real EHR's FHIR API accepts writes, and the conditional ones (``If-None-Exist``,
``If-Match``) are what an integration leans on to be idempotent.

Each interaction is one method that takes what the HTTP request carried (the resource type, id,
body, the query's pairs, the conditional headers' values, and ``now`` as an ISO instant for
writes) and returns a ``FhirAnswer``: status, body, headers. Every refusal is an OperationOutcome
naming what is wrong and where. No IO, no clock: the caller says when it is. The methods never
yield, so a check and the write it decides (a conditional create) happen with nothing between them
- the live app calls them from one event-loop thread and must keep it that way.

Searches that need more than one page keep a snapshot (the matching ids and versions) that the
page links name (``_getpages``, ``_offset``): paging through one search sees one state of the
store, whatever is published meanwhile. The oldest snapshots are dropped; a page of a dropped one
is a 410.
"""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mocks.ehr.fhir_search import SEARCH_PARAMS, Pairs, Query, SearchError, date_range, params_of, parse, query_string

JSON = dict[str, Any]
SUPPORTED = tuple(SEARCH_PARAMS)  # Organization, Patient, Coverage, Encounter, ChargeItem, Claim
INTERACTIONS = ("read", "vread", "history-instance", "search-type", "create", "update")
FHIR_VERSION = "4.0.1"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ETAG = re.compile(r'(?:W/)?"([1-9][0-9]{0,8})"')
SNAPSHOTS_KEPT = 256
MAX_ISSUES = 20
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class FhirAnswer:
    """What the server answers: the HTTP status, the body (a resource, a Bundle or an
    OperationOutcome; shared with the store - read it, do not change it) and the headers."""

    status: int
    body: JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome issue: ``code`` from the FHIR issue-type value set, ``expression`` the
    FHIRPath of the element ("" for the request as a whole)."""

    code: str
    diagnostics: str
    expression: str = ""


def outcome(status: int, *issues: Issue, headers: Mapping[str, str] | None = None) -> FhirAnswer:
    """An OperationOutcome answer: every issue an error."""
    entries: list[JSON] = []
    for issue in issues:
        entry: JSON = {"severity": "error", "code": issue.code, "diagnostics": issue.diagnostics}
        if issue.expression:
            entry["expression"] = [issue.expression]
        entries.append(entry)
    return FhirAnswer(status, {"resourceType": "OperationOutcome", "issue": entries}, dict(headers or {}))


def not_found(kind: str, rid: str = "", vid: str = "") -> FhirAnswer:
    if kind not in SUPPORTED:
        return outcome(404, Issue("not-supported", f"this server has no resource type {kind[:64]!r}"))
    what = f"{kind}/{rid[:64]}" + (f"/_history/{vid[:16]}" if vid else "")
    return outcome(404, Issue("not-found", f"no {what} here"))


@dataclass(slots=True)
class _Stored:
    versions: list[JSON]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    resource_type: str
    hits: tuple[tuple[str, int], ...]  # (id, index of the version that matched)
    used: tuple[tuple[str, str], ...]  # the search as the links repeat it


class FhirStore:
    """Versioned FHIR resources of the supported types, and the interactions on them."""

    def __init__(self, snapshots_kept: int = SNAPSHOTS_KEPT) -> None:
        self._resources: dict[str, dict[str, _Stored]] = {kind: {} for kind in SUPPORTED}
        self._assigned = 0
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()
        self._snapshot_seq = 0
        self.snapshots_kept = snapshots_kept

    # -- the EHR's own writes -----------------------------------------------------------------------
    def publish(self, resources: Iterable[JSON], now: str) -> list[str]:
        """Upsert resources rendered from the chart; returns the versions written
        (``Patient/x/_history/2``), leaving out the resources whose content did not change."""
        written = []
        for resource in resources:
            kind, rid = resource.get("resourceType"), resource.get("id")
            if kind not in self._resources or not isinstance(rid, str) or not FHIR_ID.fullmatch(rid):
                raise ValueError(f"cannot publish {kind}/{rid}: not a supported type with a FHIR id")
            version, changed = self._write(kind, rid, copy.deepcopy(resource), now)
            if changed:
                written.append(f"{kind}/{rid}/_history/{version['meta']['versionId']}")
        return written

    def current(self, kind: str, rid: str) -> JSON | None:
        """The current version of a resource (``None``: there is none)."""
        stored = self._resources.get(kind, {}).get(rid)
        return stored.versions[-1] if stored else None

    def versions(self, kind: str, rid: str) -> list[JSON]:
        stored = self._resources.get(kind, {}).get(rid)
        return list(stored.versions) if stored else []

    def count(self, kind: str) -> int:
        return len(self._resources.get(kind, {}))

    # -- read, vread, history -----------------------------------------------------------------------
    def read(self, kind: str, rid: str) -> FhirAnswer:
        current = self.current(kind, rid)
        return _resource_answer(200, current) if current else not_found(kind, rid)

    def vread(self, kind: str, rid: str, vid: str) -> FhirAnswer:
        stored = self._resources.get(kind, {}).get(rid)
        if stored is None or not vid.isdigit() or not 1 <= int(vid) <= len(stored.versions):
            return not_found(kind, rid, vid)
        return _resource_answer(200, stored.versions[int(vid) - 1])

    def history(self, kind: str, rid: str, base: str = "") -> FhirAnswer:
        """The instance's versions, newest first (a ``history`` Bundle)."""
        stored = self._resources.get(kind, {}).get(rid)
        if stored is None:
            return not_found(kind, rid)
        entries = []
        for version in reversed(stored.versions):
            vid = version["meta"]["versionId"]
            entries.append(
                {
                    "fullUrl": f"{base}/{kind}/{rid}",
                    "resource": version,
                    "request": {"method": "POST" if vid == "1" else "PUT", "url": f"{kind}/{rid}"},
                    "response": {
                        "status": "201" if vid == "1" else "200",
                        "etag": f'W/"{vid}"',
                        "lastModified": version["meta"]["lastUpdated"],
                    },
                }
            )
        link = [{"relation": "self", "url": f"{base}/{kind}/{rid}/_history"}]
        return FhirAnswer(200, {"resourceType": "Bundle", "type": "history", "total": len(entries), "link": link,
                                "entry": entries})  # fmt: skip

    # -- search ---------------------------------------------------------------------------------------
    def search(self, kind: str, pairs: Pairs, base: str = "", strict: bool = False) -> FhirAnswer:
        """A ``searchset`` Bundle of the matches, one page of them (see the module docstring)."""
        if kind not in self._resources:
            return not_found(kind)
        try:
            query = parse(kind, pairs, strict)
        except SearchError as error:
            return outcome(error.status, Issue(error.code, error.diagnostics, error.expression))
        if query.getpages is not None:
            snapshot = self._snapshots.get(query.getpages)
            if snapshot is None or snapshot.resource_type != kind:
                return outcome(410, Issue("expired", "the pages of that search are gone; search again", "_getpages"))
            hits, used, snapshot_id = snapshot.hits, snapshot.used, query.getpages
        else:
            hits, used, snapshot_id = self._matches(query), _without_count(query.used), None
            if query.count and (query.offset or len(hits) > query.count):  # more than this page: keep them
                snapshot_id = self._keep(_Snapshot(kind, hits, used))
        stored = self._resources[kind]
        page = hits[query.offset : query.offset + query.count]
        entries = [
            {"fullUrl": f"{base}/{kind}/{rid}", "resource": stored[rid].versions[index], "search": {"mode": "match"}}
            for rid, index in page
        ]
        bundle: JSON = {"resourceType": "Bundle", "type": "searchset", "total": len(hits)}
        if snapshot_id is not None:
            bundle["id"] = snapshot_id
        bundle["link"] = _links(f"{base}/{kind}", used, query, len(hits), snapshot_id)
        if entries:
            bundle["entry"] = entries
        return FhirAnswer(200, bundle)

    def _matches(self, query: Query) -> tuple[tuple[str, int], ...]:
        # a dict keeps the order its keys arrived in: the default order of results, stable across pages
        found = [(stored, rid) for rid, stored in self._resources[query.resource_type].items()
                 if query.matches(stored.versions[-1])]  # fmt: skip
        for key, descending in reversed(query.sort):  # stable sorts, last key first
            if key == "_id":
                found.sort(key=lambda hit: hit[1], reverse=descending)
            else:
                found.sort(key=lambda hit: _instant(hit[0].versions[-1]["meta"]["lastUpdated"]), reverse=descending)
        return tuple((rid, len(stored.versions) - 1) for stored, rid in found)

    def _keep(self, snapshot: _Snapshot) -> str:
        self._snapshot_seq += 1
        snapshot_id = f"s{self._snapshot_seq}"
        self._snapshots[snapshot_id] = snapshot
        while len(self._snapshots) > self.snapshots_kept:
            self._snapshots.popitem(last=False)
        return snapshot_id

    # -- create, update -------------------------------------------------------------------------------
    def create(self, kind: str, body: object, now: str, if_none_exist: Pairs | None = None,
               base: str = "") -> FhirAnswer:  # fmt: skip
        """``POST /{kind}``: a new resource with a server-assigned id (the body's id is ignored, as
        R4 says); with ``If-None-Exist`` (its query's pairs) only when nothing matches - one match
        is answered 200 with it and nothing written, several are a 412."""
        if kind not in self._resources:
            return not_found(kind)
        refused = _refusal(kind, body)
        if refused is not None:
            return refused
        assert isinstance(body, dict)
        if if_none_exist is not None:
            if not if_none_exist:
                return outcome(400, Issue("invalid", "If-None-Exist is empty: it must be a search", "If-None-Exist"))
            try:  # strict: a criterion ignored would turn "create unless it exists" into "unless anything does"
                query = parse(kind, if_none_exist, strict=True)
            except SearchError as error:
                return outcome(400, Issue(error.code, f"If-None-Exist: {error.diagnostics}", "If-None-Exist"))
            if not query.criteria:
                return outcome(400, Issue("invalid", "If-None-Exist names no search criterion", "If-None-Exist"))
            matches = self._matches(query)
            if len(matches) == 1:
                return _resource_answer(200, self._resources[kind][matches[0][0]].versions[-1])
            if len(matches) > 1:
                return outcome(412, Issue("multiple-matches", f"If-None-Exist matches {len(matches)} {kind}s"))
        rid = self._new_id(kind)
        version, _ = self._write(kind, rid, copy.deepcopy({k: v for k, v in body.items() if k != "id"}), now)
        return _resource_answer(201, version, base)

    def update(self, kind: str, rid: str, body: object, now: str, if_match: str | None = None,
               base: str = "") -> FhirAnswer:  # fmt: skip
        """``PUT /{kind}/{rid}``: a new version when the content changed (the same content is
        answered with the current version); with ``If-Match`` only when it names the current
        version. A resource that does not exist yet is created with the client's id (201)."""
        if kind not in self._resources:
            return not_found(kind)
        if not FHIR_ID.fullmatch(rid):
            return outcome(400, Issue("value", "the id in the URL is not a FHIR id ([A-Za-z0-9-.]{1,64})", "id"))
        refused = _refusal(kind, body)
        if refused is not None:
            return refused
        assert isinstance(body, dict)
        if body.get("id") != rid:
            detail = "the resource has no id" if "id" not in body else "the resource's id is not the id in the URL"
            return outcome(400, Issue("invalid", f"{detail}: an update must carry it", f"{kind}.id"))
        current = self.current(kind, rid)
        if if_match is not None:
            wanted = _ETAG.fullmatch(if_match.strip())
            if wanted is None:
                return outcome(400, Issue("invalid", 'If-Match must be a version ETag: W/"<versionId>"', "If-Match"))
            have = current["meta"]["versionId"] if current else None
            if have != wanted.group(1):
                now_is = f'W/"{have}"' if have else "none (it does not exist)"
                return outcome(412, Issue("conflict", f"If-Match {if_match.strip()} is not the current version: "
                                                      f"{now_is}", "If-Match"))  # fmt: skip
        version, _ = self._write(kind, rid, copy.deepcopy(body), now)
        return _resource_answer(201 if current is None else 200, version, base)

    def _new_id(self, kind: str) -> str:
        while True:
            self._assigned += 1
            rid = f"{kind.lower()}-{self._assigned}"
            if rid not in self._resources[kind]:
                return rid

    def _write(self, kind: str, rid: str, resource: JSON, now: str) -> tuple[JSON, bool]:
        """Store ``resource`` as the next version unless its content is the current one's."""
        stored = self._resources[kind].get(rid)
        if stored is not None and _content(stored.versions[-1]) == _content(resource):
            return stored.versions[-1], False
        vid = str(len(stored.versions) + 1 if stored else 1)
        meta = {**(resource.get("meta") or {}), "versionId": vid, "lastUpdated": now}
        version = {"resourceType": kind, "id": rid, "meta": meta}
        version.update((k, v) for k, v in resource.items() if k not in version)
        if stored is None:
            self._resources[kind][rid] = _Stored([version])
        else:
            stored.versions.append(version)
        return version, True

    # -- what the server can do -------------------------------------------------------------------------
    def capability_statement(self, base: str, token_url: str, date: str) -> JSON:
        """The server's CapabilityStatement, from the types, interactions and search parameters it has."""
        resources = []
        for kind in SUPPORTED:
            params = [{"name": p.name, "type": p.kind, "documentation": p.documentation}
                      for p in params_of(kind).values()]  # fmt: skip
            resources.append(
                {
                    "type": kind,
                    "interaction": [{"code": code} for code in INTERACTIONS],
                    "versioning": "versioned-update",
                    "readHistory": True,
                    "updateCreate": True,
                    "conditionalCreate": True,
                    "conditionalUpdate": False,
                    "searchParam": params,
                }
            )
        oauth = {"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                 "extension": [{"url": "token", "valueUri": token_url}]}  # fmt: skip
        service = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                "code": "SMART-on-FHIR"}]}  # fmt: skip
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": date,
            "kind": "instance",
            "software": {"name": "integration twin EHR mock"},
            "implementation": {"description": "the EHR's FHIR R4 API (synthetic data)", "url": base},
            "fhirVersion": FHIR_VERSION,
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "extension": [oauth],
                        "service": [service],
                        "description": "OAuth2 client credentials; SMART system scopes system/<type>.<cruds>",
                    },
                    "resource": resources,
                }
            ],
        }


# -- helpers -----------------------------------------------------------------------------------------
def _content(resource: Mapping[str, Any]) -> JSON:
    """What a version says, without what the server stamps on it."""
    content = dict(resource)
    meta = {k: v for k, v in (content.pop("meta", None) or {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        content["meta"] = meta
    return content


def _resource_answer(status: int, version: JSON, base: str | None = None) -> FhirAnswer:
    meta = version["meta"]
    headers = {"ETag": f'W/"{meta["versionId"]}"'}
    modified = http_date(meta["lastUpdated"])
    if modified:
        headers["Last-Modified"] = modified
    if status == 201 and base is not None:
        headers["Location"] = f"{base}/{version['resourceType']}/{version['id']}/_history/{meta['versionId']}"
    return FhirAnswer(status, version, headers)


def _refusal(kind: str, body: object) -> FhirAnswer | None:
    """Why ``body`` cannot be stored as a ``kind`` (an OperationOutcome), or ``None``."""
    if not isinstance(body, dict):
        return outcome(400, Issue("structure", f"the body must be a {kind} resource (a JSON object)"))
    if body.get("resourceType") != kind:
        said = body.get("resourceType")
        return outcome(400, Issue("invalid", f"resourceType must be {kind} (the URL's type), not {str(said)[:64]!r}",
                                  "resourceType"))  # fmt: skip
    issues = validation_issues(kind, _server_fields_removed(body))
    return outcome(400, *issues) if issues else None


def _server_fields_removed(body: JSON) -> JSON:
    """The body as the client controls it: the id is checked on its own, versionId and lastUpdated are the server's."""
    checked = {k: v for k, v in body.items() if k != "id"}
    if isinstance(checked.get("meta"), dict):
        checked["meta"] = {k: v for k, v in checked["meta"].items() if k not in ("versionId", "lastUpdated")}
    return checked


def validation_issues(kind: str, resource: JSON) -> list[Issue]:
    """What the R4B model of ``kind`` (``fhir.resources``) finds wrong with ``resource``: one issue
    per error, located by FHIRPath. The messages never repeat the value (it may be a patient's name)."""
    from fhir.resources.R4B import get_fhir_model_class  # slow to import: only when a client writes

    try:
        get_fhir_model_class(kind).model_validate(resource)
    except ValueError as error:
        errors = error.errors() if hasattr(error, "errors") else []
        return [_issue(kind, e) for e in errors[:MAX_ISSUES]] or [Issue("invalid", f"not a valid FHIR R4 {kind}")]
    return []


def _issue(kind: str, error: Mapping[str, Any]) -> Issue:
    path = kind
    for part in error.get("loc", ()):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("root", "__root__"):
            name = str(part).removeprefix("_").removesuffix("__ext")
            path += "." + ("resourceType" if name == "resource_type" else name)
    kind_of_error = str(error.get("type", ""))
    if kind_of_error == "extra_forbidden":
        return Issue("structure", "unknown element", path)
    if kind_of_error.endswith("missing"):
        return Issue("required", "required element missing", path)
    text = str(error.get("msg", "invalid value")).removeprefix("Value error, ").split("\n")[0]
    return Issue("value", text[:200], path)


def _without_count(used: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(pair for pair in used if pair[0] != "_count")


def _links(url: str, used: Sequence[tuple[str, str]], query: Query, total: int, snapshot: str | None) -> list[JSON]:
    count = query.count

    def link(relation: str, offset: int | None) -> JSON:
        pairs = [*used, ("_count", str(count))]
        if snapshot is not None and offset is not None:
            pairs += [("_getpages", snapshot), ("_offset", str(offset))]
        return {"relation": relation, "url": f"{url}?{query_string(pairs)}"}

    if snapshot is None:
        return [link("self", None)]
    offset = query.offset
    links = [link("self", offset), link("first", 0)]
    if offset > 0 and count > 0:
        links.append(link("previous", max(0, offset - count)))
    if count > 0 and offset + count < total:
        links.append(link("next", offset + count))
    if count > 0:
        links.append(link("last", max(0, (total - 1) // count * count)))
    return links


def _instant(text: str) -> float:
    found = date_range(text)
    return found[0] if found else 0.0


def http_date(instant: str) -> str:
    """An ISO instant as an HTTP-date (RFC 9110), the form Last-Modified takes; "" if it is not one."""
    try:
        moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    t = moment.astimezone(UTC)
    return f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} {t:%H:%M:%S} GMT"
