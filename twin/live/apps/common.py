"""The thin router every mock system's HTTP API is made of: routes, auth, problem details, OpenAPI.

A mock system is a sans-IO object with ``handle(request, now) -> TargetResponse``; its rules live
there (``mocks/``). Serving it live takes only this: one route per operation the system offers, so
its OpenAPI document (``/openapi.json``, browsable at ``/docs``) says what it does; the bearer token
and scope check of its authorization server (``twin.live.auth``) in front of every route, with the
token endpoint beside them; the request turned into a ``TargetRequest`` and the answer back into
HTTP by the wire rules (``twin.live.http_wire``), errors as RFC 9457 problem details. Nothing here
decides anything about a journal or a claim.

Endpoints are ``async``: they run on the event loop's one thread, as the world that shares the mock
objects does, so a request and a step of the world never interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Body, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2
from starlette.exceptions import HTTPException as StarletteHTTPException

from twin.domain.exchange import TOKEN_PATH, TargetRequest, TargetResponse
from twin.live.auth import AuthServer, Refusal
from twin.live.http_wire import PROBLEM_JSON, SEARCH_SUFFIX, problem, request_from_http

Handler = Callable[[TargetRequest, float], TargetResponse]
Handled = Callable[[TargetRequest, TargetResponse], None]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; the system's own members (errors, problems, reasons) beside them",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": True}
TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string"},
        "expires_in": {"type": "integer"},
        "scope": {"type": "string"},
    },
    "required": ["access_token", "token_type", "expires_in"],
}
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "required": ["error"],
}
CHALLENGE: dict[str, Any] = {"schema": {"type": "string"}, "required": True, "description": "the challenge (RFC 6750)"}
JSON_BODY: Any = Body(...)  # a route's JSON body (FastAPI reads its default as the declaration)
UNPROTECTED = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/health", TOKEN_PATH)


def _problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
    if headers:
        answer["headers"] = headers
    return answer


# What any route may answer besides its success: the system's refusals, the authorization
# server's, and what a live fault (twin.faults) answers in the system's place.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem_response("no valid bearer token", {"WWW-Authenticate": CHALLENGE}),
    400: _problem_response("the body is not JSON"),
    403: _problem_response("the token's scopes do not allow this call"),
    404: _problem_response("no such resource"),
    405: _problem_response("the system does not allow this method here"),
    409: _problem_response("conflicts with the system's state"),
    422: _problem_response("the system refused the request; errors say what and where"),
    429: _problem_response(
        "too many requests",
        {"Retry-After": {"schema": {"type": "string"}, "required": True, "description": "seconds to wait"}},
    ),
    500: _problem_response("server error (a fault the scenario injects)"),
    502: _problem_response("bad gateway (a fault the scenario injects)"),
    503: _problem_response("the system is down or refuses connections (an outage the scenario injects)"),
    504: _problem_response("no answer in time (a fault the scenario injects)"),
}


@dataclass(frozen=True, slots=True)
class Param:
    """A query's parameter as the document shows it. The system checks it, not the router: the
    schema tells a client (and a fuzzer) what the system takes, and the system's 422 says what not."""

    name: str
    meaning: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of a system's API."""

    method: str  # "POST": a command with a JSON body; "GET": a query
    path: str
    scope: str  # the SMART-style system scope it needs, e.g. "system/Journal.c"
    summary: str
    params: tuple[Param, ...] = ()  # a query's parameters
    tag: str = ""
    created: bool = True  # a command answers 201 (else 200)
    body: Mapping[str, Any] | None = None  # the JSON schema of a command's body (a query's: its parameters)
    also: tuple[tuple[int, str], ...] = ()  # other success answers: (status, what it means)


@dataclass(frozen=True, slots=True)
class SystemApi:
    """What the router needs to serve one mock system."""

    system: str
    title: str
    description: str
    routes: tuple[Route, ...]


class ApiError(Exception):
    """A refusal the router answers as problem details (an auth refusal, a body that is no object)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, **members: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.members = members


def problem_response(status: int, body: dict[str, Any] | None = None, detail: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    """An error answer as ``application/problem+json``."""
    return JSONResponse(problem(status, body, detail), status, headers=headers, media_type=PROBLEM_JSON)


def answer(response: TargetResponse) -> Response:
    """A mock's answer as HTTP: JSON on success, problem details on error."""
    if response.status >= 400:
        return problem_response(response.status, response.body, headers=dict(response.headers))
    return JSONResponse(response.body, response.status, headers=dict(response.headers))


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the framework raises (unknown path, wrong method, unreadable body) as problem details."""

    async def http_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        return problem_response(error.status_code, detail=str(error.detail), headers=dict(error.headers or {}))

    async def invalid(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        errors = [f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in error.errors()]
        unreadable = any(e.get("type") == "json_invalid" for e in error.errors())  # syntax, not content
        return problem_response(400 if unreadable else 422, {"errors": errors})

    async def refused(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return problem_response(error.status, dict(error.members), error.detail, error.headers)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(ApiError, refused)


def oauth_scheme(routes: tuple[Route, ...]) -> OAuth2:
    """The OpenAPI security scheme: OAuth2 client credentials with the system's scopes."""
    scopes = {route.scope: route.summary for route in routes}
    flows = OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_PATH, scopes=scopes))
    return OAuth2(flows=flows, scheme_name="oauth2", auto_error=False)


def refusal_error(refusal: Refusal) -> ApiError:
    return ApiError(refusal.status, refusal.detail, {"WWW-Authenticate": refusal.challenge}, error=refusal.error)


def system_app(
    api: SystemApi,
    handler: Handler,
    auth: AuthServer,
    now: Callable[[], float],
    handled: Handled | None = None,
) -> FastAPI:
    """The FastAPI app of one mock system (see the module docstring)."""
    app = FastAPI(title=api.title, description=api.description, version="1.0.0")
    install_problem_handlers(app)
    scheme = oauth_scheme(api.routes)
    add_token_endpoint(app, auth)

    @app.get("/health", tags=["operations"], summary="Liveness", responses={200: {"description": "up"}})
    async def health() -> dict[str, str]:
        return {"status": "up", "system": api.system}

    def dispatch(request: Request, route: Route, body: Any, authorization: str | None) -> Response:
        refusal = auth.check(authorization or "", route.scope)
        if refusal is not None:
            raise refusal_error(refusal)
        if body is not None and not isinstance(body, dict):  # a command's body, or a query's as JSON
            raise ApiError(422, "the body must be a JSON object", errors=["body: expected a JSON object"])
        target = request_from_http(
            api.system, request.method, request.url.path, dict(request.query_params), body, dict(request.headers)
        )
        response = handler(target, now())
        if handled is not None:
            handled(target, response)
        return answer(response)

    for route in api.routes:
        _add_route(app, route, scheme, dispatch)
    return app


def _add_route(app: FastAPI, route: Route, scheme: OAuth2, dispatch: Callable[..., Response]) -> None:
    tags: list[str | Enum] | None = [route.tag] if route.tag else None
    ok = 201 if route.method == "POST" and route.created else 200
    done = {"description": "done", "content": {"application/json": {"schema": OBJECT_SCHEMA}}}
    again = {**done, "description": "done before (the same key or document again): the first answer"}
    responses: dict[int | str, dict[str, Any]] = {200: again if ok == 201 else done, ok: done, **ERROR_RESPONSES}
    responses.update({status: {**done, "description": meaning} for status, meaning in route.also})
    security = Security(scheme, scopes=[route.scope])
    if route.method == "POST":

        async def command(request: Request, body: Any = JSON_BODY, authorization: str | None = security) -> Response:
            return dispatch(request, route, body, authorization)

        app.add_api_route(
            route.path, command, methods=["POST"], summary=route.summary, tags=tags, responses=responses,
            status_code=ok, response_class=JSONResponse, openapi_extra=_object_body(route.body or OBJECT_SCHEMA),
        )  # fmt: skip
        return

    async def query(request: Request, authorization: str | None = security) -> Response:
        return dispatch(request, route, None, authorization)

    parameters = [
        {"name": p.name, "in": "query", "required": p.required, "description": p.meaning, "schema": dict(p.schema)}
        for p in route.params
    ]
    app.add_api_route(
        route.path, query, methods=["GET"], summary=route.summary, tags=tags, responses=responses,
        response_class=JSONResponse, openapi_extra={"parameters": parameters} if parameters else None,
    )  # fmt: skip

    async def search(request: Request, body: Any = JSON_BODY, authorization: str | None = security) -> Response:
        return dispatch(request, route, body, authorization)

    app.add_api_route(
        route.path + SEARCH_SUFFIX, search, methods=["POST"], summary=f"{route.summary} (query as a JSON body)",
        tags=tags, responses=responses, status_code=200, response_class=JSONResponse,
        openapi_extra=_object_body(route.body or _query_body(route.params)),
    )  # fmt: skip


def _query_body(params: tuple[Param, ...]) -> dict[str, Any]:
    """A query's parameters as a JSON object (``POST {path}/_search``)."""
    schema: dict[str, Any] = {"type": "object", "properties": {p.name: dict(p.schema) for p in params}}
    required = [p.name for p in params if p.required]
    return {**schema, "required": required} if required else schema


def _object_body(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": dict(schema)}},
        }
    }


def add_token_endpoint(app: FastAPI, auth: AuthServer) -> None:
    """``POST /oauth/token``: the system's client-credentials grant (``twin.live.auth``)."""

    async def token(request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        status, body = auth.grant(form, request.headers.get("authorization", ""))
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = f'Basic realm="{auth.system}"'
        return JSONResponse(body, status, headers=headers)

    form_schema = {
        "type": "object",
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "scope": {"type": "string"},
        },
        "required": ["grant_type"],
    }
    app.add_api_route(
        TOKEN_PATH,
        token,
        methods=["POST"],
        summary="OAuth2 client-credentials grant",
        tags=["auth"],
        responses={
            200: {"description": "a bearer token", "content": {"application/json": {"schema": TOKEN_SCHEMA}}},
            400: {"description": "bad grant", "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}}},
            401: {
                "description": "unknown client",
                "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
                "headers": {"WWW-Authenticate": {**CHALLENGE, "description": "the challenge (HTTP Basic)"}},
            },
            **{s: ERROR_RESPONSES[s] for s in (429, 500, 502, 503, 504)},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": form_schema}},
            }
        },
    )
