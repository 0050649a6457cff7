"""The EHR's FHIR R4 REST API: a thin router over ``mocks.ehr.fhir_store.FhirStore``.

Everything FHIR decides - versions, ETags, conditional writes, search, OperationOutcomes - is the
store's (sans-IO, tested without a socket). This app only carries HTTP to it and back: the path,
the query's pairs (``GET``, or ``POST /{type}/_search`` with a form body), the JSON body, the
``If-None-Exist``, ``If-Match`` and ``Prefer: handling=strict`` headers, the base URL its links are
absolute to, and the time of a write.

Routes are declared per resource type (``/Patient/{id}``, ...), so the OpenAPI document states each
operation with every status it can answer and the shape of each answer, under
``application/fhir+json``. Auth is the EHR's own authorization server (``twin.live.auth``): a bearer
token from ``POST /oauth/token`` with SMART system scopes - ``system/<Type>.r`` to read, ``.s`` to
search, ``.c`` to create, ``.u`` to update. This is a FHIR server, so every refusal, its own or the
framework's (an unknown path, a wrong method), is an OperationOutcome, not problem details; only the
faults a ``Door`` injects in front of it (429, 502-504) answer as every mock's door does.

Endpoints are ``async`` and never ``await`` after reading the request: the store's check and write
run back to back on the loop's one thread, so a conditional create cannot race another.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mocks.ehr.fhir_search import params_of
from mocks.ehr.fhir_store import SUPPORTED, FhirAnswer, FhirStore, Issue, outcome
from twin.domain.exchange import TOKEN_PATH
from twin.live.apps.common import ERROR_RESPONSES, Route, add_token_endpoint, oauth_scheme
from twin.live.auth import AuthServer

FHIR_JSON = "application/fhir+json"
JSON_BODIES = ("application/fhir+json", "application/json", "application/json+fhir")
FORM = "application/x-www-form-urlencoded"
ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


# -- the OpenAPI shapes of the answers -----------------------------------------------------------------
OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["severity", "code"],
            },
        },
    },
    "required": ["resourceType", "issue"],
}
_HEADER = {"schema": {"type": "string"}}


def resource_schema(kind: str) -> dict[str, Any]:
    """A stored resource: its type, id and version; the rest is the FHIR R4 resource."""
    meta = {"type": "object", "properties": {"versionId": {"type": "string"}, "lastUpdated": {"type": "string"}},
            "required": ["versionId", "lastUpdated"]}  # fmt: skip
    return {
        "type": "object",
        "description": f"a FHIR R4 {kind}",
        "properties": {"resourceType": {"type": "string", "enum": [kind]}, "id": {"type": "string"}, "meta": meta},
        "required": ["resourceType", "id", "meta"],
        "additionalProperties": True,
    }


def bundle_schema(kind: str, bundle_type: str) -> dict[str, Any]:
    link = {"type": "object", "properties": {"relation": {"type": "string"}, "url": {"type": "string"}},
            "required": ["relation", "url"]}  # fmt: skip
    entry = {"type": "object", "properties": {"fullUrl": {"type": "string"}, "resource": resource_schema(kind)},
             "required": ["fullUrl", "resource"]}  # fmt: skip
    return {
        "type": "object",
        "properties": {
            "resourceType": {"type": "string", "enum": ["Bundle"]},
            "type": {"type": "string", "enum": [bundle_type]},
            "total": {"type": "integer", "minimum": 0},
            "link": {"type": "array", "items": link},
            "entry": {"type": "array", "items": entry},
        },
        "required": ["resourceType", "type", "total", "link"],
    }


def _fhir(description: str, schema: dict[str, Any], headers: tuple[str, ...] = ()) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {FHIR_JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = {name: _HEADER for name in headers}
    return answer


def _refused(description: str) -> dict[str, Any]:
    return _fhir(description, OUTCOME_SCHEMA)


_SERVER_ERROR: dict[str, Any] = {
    "description": "server error (an OperationOutcome; problem details when a fault the scenario injects)",
    "content": {FHIR_JSON: {"schema": OUTCOME_SCHEMA}, **ERROR_RESPONSES[500]["content"]},
}
COMMON_RESPONSES: dict[int, dict[str, Any]] = {
    401: _fhir("no valid bearer token", OUTCOME_SCHEMA, ("WWW-Authenticate",)),
    403: _refused("the token's scopes do not allow this interaction"),
    405: _refused("the path does not take this method"),
    **{status: ERROR_RESPONSES[status] for status in (429, 502, 503, 504)},
    500: _SERVER_ERROR,
}
_VERSIONED = ("ETag", "Last-Modified")


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None,
           required: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


def _id_param(name: str = "id", description: str = "the resource's logical id") -> dict[str, Any]:
    return _param(name, "path", description, {"type": "string", "pattern": ID_PATTERN}, required=True)


def _search_params(kind: str) -> list[dict[str, Any]]:
    params = [_param(p.name, "query", f"{p.kind}: {p.documentation}") for p in params_of(kind).values()]
    params += [
        _param("_count", "query", "results per page (at most 500)", {"type": "integer", "minimum": 0}),
        _param("_sort", "query", "_id or _lastUpdated, - for descending, comma-separated"),
        _param("_getpages", "query", "a page of a search run before (the links carry it)"),
        _param("_offset", "query", "where the page starts", {"type": "integer", "minimum": 0}),
        _param("Prefer", "header", "handling=strict: refuse unknown search parameters instead of ignoring them"),
    ]
    return params


_PATIENT_REF = {"reference": "Patient/H01M9999999"}
_CODE = "http://terminology.hl7.org/CodeSystem/"
EXAMPLES: dict[str, dict[str, Any]] = {  # a valid resource of each type: what /docs offers to send
    "Organization": {"name": "Example Health Plan", "type": [{"coding": [{"system": _CODE + "organization-type",
                                                                         "code": "pay"}]}]},
    "Patient": {"identifier": [{"system": "urn:twin:mrn", "value": "H01M9999999"}], "gender": "female",
                "name": [{"family": "Example", "given": ["Pat"]}], "birthDate": "1970-01-01"},
    "Coverage": {"status": "active", "beneficiary": _PATIENT_REF, "payor": [{"reference": "Organization/payer-MCR-A"}]},
    "Encounter": {"status": "in-progress", "class": {"system": _CODE + "v3-ActCode", "code": "IMP"},
                  "subject": _PATIENT_REF, "period": {"start": "2026-01-05T08:00:00+00:00"}},
    "ChargeItem": {"status": "billable", "code": {"coding": [{"system": "urn:twin:chargemaster", "code": "300"}]},
                   "subject": _PATIENT_REF, "context": {"reference": "Encounter/H01V9999999"}},
    "Claim": {"status": "active", "type": {"coding": [{"system": _CODE + "claim-type", "code": "institutional"}]},
              "use": "claim", "patient": _PATIENT_REF, "created": "2026-01-06T00:00:00+00:00",
              "provider": {"reference": "Organization/H01"}, "priority": {"coding": [{"code": "normal"}]},
              "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/H01V9999999"}}]},
}  # fmt: skip


def _json_body(kind: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"resourceType": {"type": "string", "enum": [kind]}},
              "required": ["resourceType"], "additionalProperties": True}  # fmt: skip
    example = {"resourceType": kind, **EXAMPLES[kind]}
    return {"required": True, "content": {media: {"schema": schema, "example": example} for media in JSON_BODIES[:2]}}


# -- the app -----------------------------------------------------------------------------------------
def fhir_app(store: FhirStore, auth: AuthServer, now_iso: Callable[[], str]) -> FastAPI:
    """The EHR's FHIR API over ``store``; ``now_iso`` stamps writes (an ISO instant with its zone)."""
    app = FastAPI(
        title="EHR FHIR R4 API",
        description="The EHR's FHIR R4 server (synthetic data): read, vread, history, search, create "
        "(conditional with If-None-Exist) and update (If-Match) of " + ", ".join(SUPPORTED) + ".",
        version="1.0.0",
    )
    _install_outcome_handlers(app)
    add_token_endpoint(app, auth)
    routes = tuple(
        Route(method, f"/{kind}", f"system/{kind}.{permission}", f"{what} {kind}")
        for kind in SUPPORTED
        for method, permission, what in (("GET", "r", "read"), ("GET", "s", "search"), ("POST", "c", "create"),
                                         ("PUT", "u", "update"))
    )  # fmt: skip
    scheme = oauth_scheme(routes)

    @app.get("/health", tags=["operations"], summary="Liveness", responses={200: {"description": "up"}})
    async def health() -> dict[str, str]:
        return {"status": "up", "system": auth.system}

    async def metadata(request: Request) -> Response:
        base = _base(request)
        return _answer(FhirAnswer(200, store.capability_statement(base, base + TOKEN_PATH, now_iso())))

    capability = {"type": "object", "required": ["resourceType", "fhirVersion", "rest"],
                  "properties": {"resourceType": {"type": "string", "enum": ["CapabilityStatement"]}}}  # fmt: skip
    app.add_api_route(
        "/metadata", metadata, methods=["GET"], summary="The server's CapabilityStatement", tags=["capabilities"],
        response_class=FhirResponse, responses={200: _fhir("what this server does", capability)},
    )  # fmt: skip
    for kind in SUPPORTED:
        _add_type(app, kind, store, auth, now_iso, scheme)
    return app


def _add_type(app: FastAPI, kind: str, store: FhirStore, auth: AuthServer, now_iso: Callable[[], str],
              scheme: Any) -> None:  # fmt: skip
    """The routes of one resource type."""

    def refusal(authorization: str | None, permission: str) -> Response | None:
        refused = auth.check(authorization or "", f"system/{kind}.{permission}")
        if refused is None:
            return None
        code = "login" if refused.status == 401 else "forbidden"
        return _answer(
            outcome(refused.status, Issue(code, refused.detail), headers={"WWW-Authenticate": refused.challenge})
        )

    read_scope = Security(scheme, scopes=[f"system/{kind}.r"])
    search_scope = Security(scheme, scopes=[f"system/{kind}.s"])
    create_scope = Security(scheme, scopes=[f"system/{kind}.c"])
    update_scope = Security(scheme, scopes=[f"system/{kind}.u"])

    async def read(request: Request, authorization: str | None = read_scope) -> Response:
        return refusal(authorization, "r") or _answer(store.read(kind, request.path_params["id"]))

    async def vread(request: Request, authorization: str | None = read_scope) -> Response:
        path = request.path_params
        return refusal(authorization, "r") or _answer(store.vread(kind, path["id"], path["vid"]))

    async def history(request: Request, authorization: str | None = read_scope) -> Response:
        return refusal(authorization, "r") or _answer(store.history(kind, request.path_params["id"], _base(request)))

    async def search(request: Request, authorization: str | None = search_scope) -> Response:
        refused = refusal(authorization, "s")
        if refused:
            return refused
        pairs = request.query_params.multi_items()
        return _answer(store.search(kind, pairs, _base(request), _strict(request)))

    async def search_form(request: Request, authorization: str | None = search_scope) -> Response:
        refused = refusal(authorization, "s")
        if refused:
            return refused
        raw = await request.body()
        if raw and _media_type(request) != FORM:
            return _answer(outcome(415, Issue("not-supported", f"a search body must be {FORM}")))
        pairs = request.query_params.multi_items() + parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return _answer(store.search(kind, pairs, _base(request), _strict(request)))

    async def create(request: Request, authorization: str | None = create_scope) -> Response:
        refused = refusal(authorization, "c")
        if refused:
            return refused
        body = await _resource_body(request)
        if isinstance(body, FhirAnswer):
            return _answer(body)
        condition = request.headers.get("if-none-exist")  # a query, perhaps written as "Patient?identifier=..."
        query = None if condition is None else condition.partition("?")[2] or condition
        pairs = None if query is None else parse_qsl(query, keep_blank_values=True)
        return _answer(store.create(kind, body, now_iso(), pairs, _base(request)))  # no await since the body: atomic

    async def update(request: Request, authorization: str | None = update_scope) -> Response:
        refused = refusal(authorization, "u")
        if refused:
            return refused
        body = await _resource_body(request)
        if isinstance(body, FhirAnswer):
            return _answer(body)
        if_match = request.headers.get("if-match")
        return _answer(store.update(kind, request.path_params["id"], body, now_iso(), if_match, _base(request)))

    resource = resource_schema(kind)
    not_found = _refused(f"no such {kind} (or version)")
    invalid = _refused("not a valid FHIR R4 resource of this type, or an id that does not fit; issues say where")
    unsupported = _refused("the body's media type is not taken here")
    tags: list[Any] = [kind]

    def add(
        path: str,
        endpoint: Callable[..., Any],
        method: str,
        summary: str,
        responses: dict[int, Any],
        parameters: list[dict[str, Any]],
        body: dict[str, Any] | None = None,
        status: int = 200,
    ) -> None:
        extra: dict[str, Any] = {"parameters": parameters}
        answers: dict[int | str, dict[str, Any]] = {k: v for d in (responses, COMMON_RESPONSES) for k, v in d.items()}
        if body is not None:
            extra["requestBody"] = body
        app.add_api_route(
            path, endpoint, methods=[method], summary=summary, tags=tags, status_code=status,
            response_class=FhirResponse, responses=answers, openapi_extra=extra,
        )  # fmt: skip

    searched: dict[int, Any] = {
        200: _fhir("a searchset Bundle: one page of the matches", bundle_schema(kind, "searchset")),
        400: _refused("a search parameter or value the server cannot use; issues say which"),
        410: _refused("the pages of that search are gone (it was long ago): search again"),
    }
    form = {"type": "object", "properties": {p.name: {"type": "string"} for p in params_of(kind).values()}}
    form_body = {"required": False, "content": {FORM: {"schema": form}}}
    prefer = [p for p in _search_params(kind) if p["in"] == "header"]
    read_answers = {200: _fhir(f"the current {kind}", resource, _VERSIONED), 404: not_found}
    history_answers = {200: _fhir("a history Bundle, newest first", bundle_schema(kind, "history")), 404: not_found}
    vread_answers = {200: _fhir(f"that version of the {kind}", resource, _VERSIONED), 404: not_found}
    created = {
        201: _fhir("created: version 1", resource, ("Location", *_VERSIONED)),
        200: _fhir("If-None-Exist matched one: that one, nothing written", resource, _VERSIONED),
        400: invalid,
        404: not_found,
        412: _refused("If-None-Exist matched more than one"),
        415: unsupported,
    }
    updated = {
        200: _fhir("updated (a new version when the content changed)", resource, _VERSIONED),
        201: _fhir("created with the client's id", resource, ("Location", *_VERSIONED)),
        400: invalid,
        404: not_found,
        412: _refused("If-Match is not the current version"),
        415: unsupported,
    }
    condition = _param(
        "If-None-Exist", "header", "a search (identifier=urn:twin:mrn|H01M...): create unless it matches"
    )
    if_match = _param("If-Match", "header", 'the version replaced, as its ETag: W/"3"')
    vid = _param("vid", "path", "the versionId", required=True)
    add(f"/{kind}", search, "GET", f"Search {kind}", searched, _search_params(kind))
    add(f"/{kind}/_search", search_form, "POST", f"Search {kind} (a form body)", {**searched, 415: unsupported},
        prefer, form_body)  # fmt: skip
    add(f"/{kind}/{{id}}", read, "GET", f"Read a {kind}", read_answers, [_id_param()])
    add(f"/{kind}/{{id}}/_history", history, "GET", f"Every version of a {kind}", history_answers, [_id_param()])
    add(f"/{kind}/{{id}}/_history/{{vid}}", vread, "GET", f"Read a version of a {kind}", vread_answers,
        [_id_param(), vid])  # fmt: skip
    add(f"/{kind}", create, "POST", f"Create a {kind} (If-None-Exist)", created, [condition], _json_body(kind), 201)
    add(f"/{kind}/{{id}}", update, "PUT", f"Update a {kind} (If-Match)", updated, [_id_param(), if_match],
        _json_body(kind))  # fmt: skip


# -- HTTP in, HTTP out -------------------------------------------------------------------------------
def _answer(answer: FhirAnswer) -> Response:
    return FhirResponse(answer.body, answer.status, headers=answer.headers)


def _base(request: Request) -> str:
    """The server's base URL as the client reached it: links and fullUrls are absolute to it."""
    return str(request.base_url).rstrip("/")


def _strict(request: Request) -> bool:
    prefer = request.headers.get("prefer", "")
    return any(part.strip().lower() == "handling=strict" for part in prefer.replace(";", ",").split(","))


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def _resource_body(request: Request) -> Any:
    """The request's JSON body, or the OperationOutcome refusing it."""
    media = _media_type(request)
    if media and media not in JSON_BODIES:
        return outcome(415, Issue("not-supported", f"the body must be {FHIR_JSON} (or application/json)"))
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return outcome(400, Issue("structure", "the body is not JSON"))


def _install_outcome_handlers(app: FastAPI) -> None:
    """The framework's own refusals (unknown path, wrong method, a crash) as OperationOutcomes."""

    async def http_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404:
            issue = Issue("not-supported", "no such resource type or interaction on this server")
        else:
            issue = Issue("not-supported" if error.status_code == 405 else "processing", str(error.detail))
        return _answer(outcome(error.status_code, issue, headers=dict(error.headers or {})))

    async def invalid(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return _answer(outcome(400, Issue("invalid", "the request is malformed")))

    async def crashed(_request: Request, _error: Exception) -> Response:
        return _answer(outcome(500, Issue("exception", "the server failed to answer this request")))

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)
