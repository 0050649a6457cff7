"""The integration service's HTTP API: documents in, the queues people work, health and metrics.

- ``POST /webhooks/{source}``: a document a SaaS system pushes (the vendor's invoice). 202 once it
  is on disk; the same ``Idempotency-Key`` again is taken once. A body that is not JSON is not turned
  away: the integration gets it as it came (``{"unreadable": text}``) and parks it with its reason.
- ``POST /master-data``: reference-data governance publishes a crosswalk entry.
- ``GET /exceptions`` (``?open=true``), ``GET /dead-letters``: the contract's queues, as JSON.
- ``POST /dead-letters/{message_id}/replay`` (optionally ``{"payload": corrected}``), and
  ``POST /dead-letters/replay`` with ``{"message_id", "payload"}`` (any id, the empty one included), a
  filter (``channel``, ``reason_contains``) or ``{"all": true}``.
- ``GET /health``, ``GET /status`` (in flight, next timer: for a driver waiting for it to settle),
  ``GET /metrics`` (Prometheus text format).

It is the same API an external integration implements for the live world to reach it
(``twin serve --sut external --webhooks URL``): the world pushes documents and publications here,
the steward and the support team read the queues and replay through it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from twin.live.apps.common import install_problem_handlers, problem_response
from twin.live.http_wire import IDEMPOTENCY_HEADER

if TYPE_CHECKING:
    from twin.live.service.service import IntegrationService

CHANGE_FIELDS = ("at", "domain", "code", "target", "reason")


def service_api(service: IntegrationService) -> FastAPI:
    """The FastAPI app of one integration service (see the module docstring)."""
    app = FastAPI(
        title=f"Integration service ({service.name})",
        description=__doc__,
        version="1.0.0",
    )
    install_problem_handlers(app)

    @app.post("/webhooks/{source}", status_code=202, tags=["intake"], summary="A document a SaaS system pushes")
    async def webhook(source: str, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError as error:
            body = {"unreadable": raw.decode("utf-8", "replace"), "error": f"not JSON: {error}"}
        if not isinstance(body, dict):
            body = {"unreadable": raw.decode("utf-8", "replace"), "error": "not a JSON object"}
        await service.take_document(source, body, request.headers.get(IDEMPOTENCY_HEADER, ""))
        return JSONResponse({"accepted": True}, 202)

    @app.post("/master-data", status_code=202, tags=["intake"], summary="Governance publishes a crosswalk entry")
    async def master_data(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return problem_response(400, detail="the publication is not JSON")
        missing = [name for name in CHANGE_FIELDS[:4] if not isinstance(body, dict) or name not in body]
        if missing:
            return problem_response(422, {"errors": [f"missing {name}" for name in missing]})
        change = {name: body[name] for name in CHANGE_FIELDS if name in body}
        if not isinstance(change["at"], int | float):
            return problem_response(422, {"errors": ["at: simulated minutes expected"]})
        await service.take_master_data(change)
        return JSONResponse({"accepted": True}, 202)

    @app.get("/exceptions", tags=["queues"], summary="The integration's exceptions")
    async def exceptions(open: bool = False) -> Response:  # noqa: A002 - the query parameter's name
        found = [e for e in service.exceptions() if not open or e.resolved_at is None]
        return JSONResponse([dataclasses.asdict(e) for e in found])

    @app.get("/dead-letters", tags=["queues"], summary="The dead-letter queue")
    async def dead_letters() -> Response:
        return JSONResponse([_letter(letter) for letter in service.dead_letters()])

    @app.post("/dead-letters/{message_id}/replay", tags=["queues"], summary="Replay one dead letter")
    async def replay_one(message_id: str, request: Request) -> Response:
        payload = await _payload(request)
        if not await service.replay(message_id, payload):
            return problem_response(404, detail=f"no dead letter with message id {message_id!r}")
        return JSONResponse({"replayed": [message_id]})

    @app.post("/dead-letters/replay", tags=["queues"], summary="Replay dead letters by filter, or all")
    async def replay_many(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return problem_response(400, detail="the filter is not JSON")
        if not isinstance(body, dict):
            return problem_response(422, {"errors": ["the filter must be a JSON object"]})
        if "message_id" in body:  # exactly one, perhaps corrected (its id may be anything, "" included)
            message_id, payload = str(body["message_id"]), body.get("payload")
            if not await service.replay(message_id, payload if isinstance(payload, str) else None):
                return problem_response(404, detail=f"no dead letter with message id {message_id!r}")
            return JSONResponse({"replayed": [message_id]})
        if not ({"channel", "reason_contains"} & set(body) or body.get("all") is True):
            wanted = "give message_id, or channel and/or reason_contains, or all: true"
            return problem_response(422, {"errors": [wanted]})
        chosen = [
            letter.message_id
            for letter in service.dead_letters()
            if (body.get("channel") in (None, letter.channel))
            and (str(body.get("reason_contains", "")) in letter.reason)
        ]
        replayed = [message_id for message_id in chosen if await service.replay(message_id, None)]
        return JSONResponse({"replayed": replayed})

    @app.post("/clock", tags=["operations"], summary="Move the run's clock forward (the world, when all is idle)")
    async def clock(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            minute = float(body["minute"])
            speed = None if body.get("speed") is None else float(body["speed"])
            if speed is not None and not speed > 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return problem_response(
                422, {"errors": ["minute: the simulated minute to move to; speed (optional): a positive number"]}
            )
        segment = await service.jump(minute, speed)
        return JSONResponse(dataclasses.asdict(segment))

    @app.get("/health", tags=["operations"], summary="Liveness and queue figures")
    async def health() -> Response:
        return JSONResponse({"status": "up", "sut": service.name, **service.state()})

    @app.get("/status", tags=["operations"], summary="In flight and next timer: is the service idle?")
    async def status() -> Response:
        return JSONResponse(service.status())

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(service.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _letter(letter: Any) -> dict[str, Any]:
    data = dataclasses.asdict(letter)
    data["history"] = [list(entry) for entry in letter.history]
    return data


async def _payload(request: Request) -> str | None:
    raw = await request.body()
    if not raw:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")  # the corrected message itself, as text
    if isinstance(body, dict) and isinstance(body.get("payload"), str):
        return str(body["payload"])
    return None
