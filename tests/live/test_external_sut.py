"""``--sut external``: the world sends its traffic to someone else's integration, which calls our mock
systems; the verdict is the same.

"Someone else's" integration here is our integration service started on its own, the way a user starts
their engine: configured with the mock systems' URLs (fixed ports: ``port_base``), the OAuth2 client
the stack registers, and the run's clock. The stack only knows its MLLP address and its HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

from tests.conftest import small_scenario
from twin.live.apps.systems import APIS
from twin.live.service.service import ServiceConfig
from twin.live.stack import LiveOptions, ServiceProcess, run_live

SPEED = 2880


def _free_port_run(count: int) -> int:
    """A port with ``count`` free ports from it on (for the mock systems and the control endpoint)."""
    for base in range(28000, 60000, 97):
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", base + offset))
                sockets.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no run of free ports")


def test_someone_elses_integration_over_mllp_and_http_is_judged_the_same(tmp_path: Path) -> None:
    scenario = small_scenario(days=0.2)
    base = _free_port_run(len(APIS) + 1)
    epoch = time.time() + 8.0
    secret = "their-secret"
    config = ServiceConfig(
        scenario=scenario.model_dump(mode="json"), epoch=epoch, speed=SPEED, db=str(tmp_path / "theirs.sqlite"),
        targets={system: f"http://127.0.0.1:{base + index}" for index, system in enumerate(APIS)},
        client_id="their-engine", client_secret=secret,
    )  # fmt: skip

    async def main() -> object:
        theirs = ServiceProcess(config, tmp_path)
        ready = await theirs.start()
        try:
            options = LiveOptions(
                speed=SPEED, sut="external", ingress=ready["mllp"], api=ready["http"], epoch=epoch, port_base=base,
                client_id="their-engine", client_secret=secret, workdir=tmp_path,
            )  # fmt: skip
            return await run_live(scenario, options)
        finally:
            with contextlib.suppress(Exception):
                await theirs.stop()

    result = asyncio.run(main())
    assert result.view.integration.name.startswith("external mllp://127.0.0.1:")
    differences = [(d.kind, d.target, d.detail[:100]) for f in result.flows for d in f.differences]
    assert result.in_sync, differences[:5]
    assert sum(f.expected for f in result.flows) > 20  # there was work to judge
