"""Serving ASGI apps with uvicorn inside a running event loop, on ports bound beforehand.

A live stack serves several apps from one process (each mock system on its own port, as separate
systems are) and must know every port before anyone connects: a test binds ``127.0.0.1`` on port 0
and learns the port the OS chose. So the sockets are bound here, handed to uvicorn, and the servers
run as tasks of the caller's loop. Signals stay the caller's to handle (``twin serve`` stops the
whole stack on Ctrl-C and then judges), so uvicorn does not capture them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Collection, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

LOOPBACK = "127.0.0.1"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that runs it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@dataclass(slots=True)
class Served:
    """One app being served: its URL, the uvicorn server and the task running it."""

    name: str
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]


@dataclass(slots=True)
class Servers:
    """Apps served from this loop; ``stop`` shuts them all down."""

    served: dict[str, Served] = field(default_factory=dict)

    async def start(self, name: str, app: Any, host: str = LOOPBACK, port: int = 0, *, log_level: str = "warning",
                    access_log: bool = False) -> str:  # fmt: skip
        """Serve ``app`` on ``host:port`` and return its base URL once it accepts connections."""
        sock = bind(host, port)
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            lifespan="off",
            timeout_keep_alive=30,
            loop="none",  # the caller's loop
            http="httptools",
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"serve-{name}")
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise it here
            await asyncio.sleep(0.005)
        url = f"http://{host}:{port_of(sock)}"
        self.served[name] = Served(name, url, server, task)
        return url

    def urls(self) -> Mapping[str, str]:
        return {name: served.url for name, served in self.served.items()}

    async def stop(self, keep: Collection[str] = ()) -> None:
        """Stop every server but those named in ``keep`` (open connections are closed: a request in
        flight is answered first) and wait for them."""
        stopping = [served for name, served in self.served.items() if name not in keep]
        for served in stopping:
            served.server.should_exit = True
        for served in stopping:
            with contextlib.suppress(asyncio.CancelledError):
                await served.task
            del self.served[served.name]
