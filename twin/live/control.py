"""The live stack's control endpoint: the judge on demand, and the run's clock for outsiders.

- ``GET /check``: the judge's verdict on the run as it stands (``twin check`` prints it): the same
  summary as ``twin run`` writes, with what is not due yet counted as pending. The judge reads the
  mock systems on the event loop they run on, so the stack pauses for the moment it takes.
- ``GET /check?final=true``: waits for the run to end (its workload, the settle, the cut) and
  returns its final summary - the one ``twin serve`` prints (``twin load --target`` asks for it).
- ``POST /hurry``: the rest of the run at the integration's pace, the clock jumping over idle time
  (after a load, nobody wants to wait out the simulated hours that are left at the served speed).
- ``GET /clock``: the run's clock - its segments (wall instant, simulated minute, speed) and the
  scenario's start - so an external integration's scheduled flows can follow simulated time.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

if TYPE_CHECKING:
    from twin.live.world import LiveWorld


def control_app(world: LiveWorld) -> FastAPI:
    app = FastAPI(title="Live stack control", description=__doc__, version="1.0.0")

    @app.get("/check", summary="The judge's verdict on the run as it stands")
    async def check(final: bool = False) -> Response:
        from twin.observe.report import build_summary

        if final:
            await world.over.wait()
            if world.final is None:  # the stack stopped without judging (it failed, or nobody loaded it)
                return JSONResponse({"detail": "the run ended without a verdict: see twin serve's log"}, 503)
            return JSONResponse(world.final)
        started = time.perf_counter()
        result = world.judge(world.live.now(), started)
        return JSONResponse(build_summary(result))

    @app.post("/hurry", summary="The rest of the run at the integration's pace")
    async def hurry() -> Response:
        world.hurry()
        return JSONResponse({"now_minute": world.live.now(), "workload_minutes": world.workload})

    @app.get("/clock", summary="The run's clock: segments and the scenario's start")
    async def clock() -> Response:
        return JSONResponse(
            {
                "start": world.scenario.start.isoformat(),
                "now_minute": world.live.now(),
                "segments": [dataclasses.asdict(segment) for segment in world.live.segments],
            }
        )

    return app
