"""``python -m twin.live.service CONFIG.json``: run one integration service until SIGTERM or SIGINT.

Prints one JSON line on stdout when ready (``{"ready": true, "mllp": ..., "http": ..., "replayed": N}``)
so the process that started it knows where it listens; logs go to stderr (or ``log_file``) as JSON
lines, with pseudonyms only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

from twin.live.service.logs import configure_logging
from twin.live.service.service import IntegrationService, ServiceConfig


async def _main(path: str) -> int:
    config = ServiceConfig.read(path)
    configure_logging(config.log_file)
    service = IntegrationService(config)
    addresses = await service.start()
    print(json.dumps({"ready": True, "mllp": addresses.mllp, "http": addresses.http,
                      "replayed": addresses.replayed}), flush=True)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m twin.live.service CONFIG.json", file=sys.stderr)
        return 2
    try:
        import uvloop

        return uvloop.run(_main(args[0]))
    except (OSError, ValueError) as error:
        print(f"integration service: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
