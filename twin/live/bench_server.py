"""``python -m twin.live.bench_server bare|mock``: one server for ``twin bench --live`` to load.

``bare``: a bare ASGI app under uvicorn answering a constant JSON body - the floor any HTTP mock
stands on. ``mock``: the dashboard mock system as a live stack serves it - its door, its
authorization server and its router in front of the sans-IO dashboard. Both on a free loopback port,
uvicorn with httptools on uvloop; the ready line on stdout gives the port and a bearer token.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from twin.live.serving import Servers

BODY = json.dumps({"kpis": []}).encode()


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest ASGI app that answers like the mock's endpoint: 200 with a JSON body."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


async def main(kind: str) -> None:
    servers = Servers()
    if kind == "bare":
        app: Any = bare
        token = "-"
    else:
        app, token = build_mock()
    url = await servers.start(kind, app)
    print(json.dumps({"port": int(url.rsplit(":", 1)[1]), "token": token}), flush=True)
    await asyncio.Event().wait()


def build_mock() -> tuple[Any, str]:
    from mocks.saas.dashboard import Dashboard
    from twin.live.apps.common import system_app
    from twin.live.apps.systems import DASHBOARD
    from twin.live.auth import AuthServer, Client
    from twin.live.clock import LiveClock
    from twin.live.door import Door
    from twin.live.records import WireLog

    clock = LiveClock.starting_now()
    auth = AuthServer("dashboard", {"bench": Client("bench", "bench")}, clock.now)
    status, grant = auth.grant({"grant_type": "client_credentials", "client_id": "bench", "client_secret": "bench"})
    assert status == 200
    dashboard = Dashboard()
    app = Door(system_app(DASHBOARD, dashboard.handle, auth, clock.now), "dashboard", clock, WireLog())  # type: ignore[arg-type]
    return app, str(grant["access_token"])


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(sys.argv[1] if len(sys.argv) > 1 else "bare"))
