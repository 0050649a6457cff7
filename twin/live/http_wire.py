"""``TargetRequest`` and ``TargetResponse`` on real HTTP, both ways, by one set of rules.

The sans-IO core speaks in requests shaped like HTTP (``twin.domain.exchange``); the live driver puts
them on the wire and takes them off again, so the integration service (the client side) and the mock
servers (the server side) must agree on how. The rules:

- ``POST``/``PUT``: the body is JSON; ``Idempotency-Key`` carries the request's idempotency key and
  ``X-Correlation-Key`` its business key (for tracing; it is never logged in clear).
- ``GET`` with a body of strings only: the body is the query string. A query with numbers or nested
  values (a reporting window in simulated minutes, a refresh map) goes as ``POST {path}/_search``
  with the JSON body - the convention FHIR uses for searches too long or too rich for a URL - and
  the server reads it as the ``GET`` it stands for.
- ``POST /oauth/token`` is an OAuth2 client-credentials grant, form-encoded (RFC 6749 section 4.4),
  with the client's secret from the service's configuration.
- Errors come back as RFC 9457 problem details (``application/problem+json``): ``type``, ``title``,
  ``status``, ``detail``, and the mock's own members beside them (``errors``, ``problems``,
  ``reasons``), so a client reads the same body in a live run as in a simulated one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from twin.domain.exchange import TOKEN_PATH, TRANSPORT_FAILURE, TargetRequest, TargetResponse

PROBLEM_JSON = "application/problem+json"
SEARCH_SUFFIX = "/_search"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CORRELATION_HEADER = "X-Correlation-Key"
KEPT_RESPONSE_HEADERS = ("retry-after", "www-authenticate", "etag", "location", "content-location")
PROBLEM_TYPE = "urn:twin:problem:"  # + the status: a problem type per HTTP status, dereferenceable in the docs


@dataclass(frozen=True, slots=True)
class Credentials:
    """An OAuth2 client's id and secret, as the service's configuration holds them."""

    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One HTTP request, ready for any client library."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str] | None = None
    json_body: Any = None
    form: dict[str, str] | None = None


def outgoing(request: TargetRequest, credentials: Credentials | None = None) -> HttpCall:
    """How ``request`` goes on the wire (the client side; see the module docstring)."""
    headers = dict(request.headers)
    if request.idempotency_key:
        headers[IDEMPOTENCY_HEADER] = request.idempotency_key
    if request.correlation:
        headers[CORRELATION_HEADER] = request.correlation
    if request.method == "POST" and request.path == TOKEN_PATH:
        form = {"grant_type": "client_credentials", "client_id": str(request.body.get("client_id", ""))}
        if credentials is not None:
            form["client_id"] = credentials.client_id
            form["client_secret"] = credentials.client_secret
        if request.body.get("scope"):
            form["scope"] = str(request.body["scope"])
        return HttpCall("POST", TOKEN_PATH, headers, form=form)
    if request.method == "GET":
        if all(isinstance(value, str) for value in request.body.values()):
            return HttpCall("GET", request.path, headers, params=dict(request.body))
        return HttpCall("POST", request.path + SEARCH_SUFFIX, headers, json_body=request.body)
    return HttpCall(request.method, request.path, headers, json_body=request.body)


def incoming_response(status: int, body: bytes, headers: dict[str, str]) -> TargetResponse:
    """An HTTP answer as the core reads it: the JSON body (problem details included), the headers
    a client acts on (Retry-After, WWW-Authenticate, ETag, Location)."""
    parsed: Any = {}
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"errors": [f"the server answered {status} with a body that is not JSON"]}
    if not isinstance(parsed, dict):
        parsed = {"items": parsed}
    kept = {name.title(): value for name, value in headers.items() if name.lower() in KEPT_RESPONSE_HEADERS}
    return TargetResponse(status, parsed, kept)


NO_ANSWER = TargetResponse(TRANSPORT_FAILURE, {"errors": ["no answer: timeout or connection failure"]})


def request_from_http(
    system: str, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
) -> TargetRequest:
    """A request as it arrived at a mock server (the server side; see the module docstring)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    kept = {"Authorization": lowered["authorization"]} if "authorization" in lowered else {}
    if method == "POST" and path.endswith(SEARCH_SUFFIX):
        method, path = "GET", path[: -len(SEARCH_SUFFIX)]
    elif method == "GET":
        body = dict(query)
    return TargetRequest(
        system,
        method,
        path,
        body if isinstance(body, dict) else {},
        lowered.get(IDEMPOTENCY_HEADER.lower(), ""),
        lowered.get(CORRELATION_HEADER.lower(), ""),
        kept,
    )


def problem(status: int, body: dict[str, Any] | None = None, detail: str | None = None) -> dict[str, Any]:
    """RFC 9457 problem details for an error answer, keeping the mock's own members beside them."""
    body = dict(body or {})
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    if detail is None:
        messages = body.get("errors") or body.get("reasons") or []
        if isinstance(messages, list) and messages:
            detail = "; ".join(map(str, messages))
        else:
            detail = str(body.get("detail") or body.get("error") or title)
    document: dict[str, Any] = {"type": f"{PROBLEM_TYPE}{status}", "title": title, "status": status, "detail": detail}
    for name, value in body.items():
        if name in document:
            if name == "status":  # the mock's own status word ("rejected") keeps its meaning under another name
                document["outcome"] = value
            continue
        document[name] = value
    return document
