"""The integration service's MLLP listener: HL7 v2 over TCP, acknowledged only once committed.

Framing is python-hl7's (``hl7.mllp``: ``<VT> message <FS><CR>`` blocks over asyncio streams). Each
message is handed to the host (``twin.live.service.host``) as text; the ACK the integration made
goes back only after the message is on disk. A message whose sender's id (MSH-4 and MSH-10) was
taken before gets the answer it got then, without going to the integration again - a resend after a
lost ACK, or after the service crashed between commit and ACK.

Nothing a sender writes drops the connection: a block without its start character is read as a
message all the same (and rejected by the integration if it is no HL7), bytes that are not UTF-8
are read as Latin-1 (HL7's traditional default), and an integration that fails on a message answers
AE with an ERR segment saying so; the message is kept (``Host.failures``) for a replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from socket import socket

from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server
from hl7.mllp.streams import CARRIAGE_RETURN, END_BLOCK, START_BLOCK

log = logging.getLogger("twin.live.service")

FRAME_END = END_BLOCK + CARRIAGE_RETURN
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

Handle = Callable[[str, str], Awaitable[str | None]]  # (message text, sender's id) -> ACK text (None: none)
Observe = Callable[[float], None]  # seconds from message read to ACK written


def sender_id(text: str) -> str:
    """``MSH-4|MSH-10`` of a message (its sender's facility and control id); "" when unreadable."""
    first = text.split("\r", 1)[0].split("\n", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        return ""
    fields = first.split(first[3])
    if len(fields) < 10 or not fields[9]:
        return ""
    return f"{fields[3]}|{fields[9]}"


def frame_text(block: bytes) -> str:
    """The message in one block read up to ``<FS><CR>``: after its ``<VT>`` (or all of it, when the
    sender left that out), decoded as UTF-8 or else Latin-1."""
    body = block[: -len(FRAME_END)] if block.endswith(FRAME_END) else block
    start = body.find(START_BLOCK)
    if start >= 0:
        body = body[start + 1 :]
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


class MllpListener:
    """Serves MLLP on a bound socket; every message goes to ``handle``."""

    def __init__(self, handle: Handle, observe: Observe | None = None) -> None:
        self.handle = handle
        self.observe = observe
        self.server: asyncio.base_events.Server | None = None
        self.connections: set[asyncio.Task[None]] = set()

    async def start(self, sock: socket) -> None:
        self.server = await start_hl7_server(self._connected, sock=sock, limit=MAX_MESSAGE_BYTES)

    async def _connected(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        try:
            while True:
                try:
                    block = await reader.readuntil(FRAME_END)
                except asyncio.IncompleteReadError as partial:
                    if partial.partial.strip():
                        log.warning("mllp: connection closed mid-message (%d bytes)", len(partial.partial))
                    break
                except asyncio.LimitOverrunError:
                    log.warning("mllp: message larger than %d bytes, skipped", MAX_MESSAGE_BYTES)
                    await reader.read(MAX_MESSAGE_BYTES)
                    continue
                started = time.perf_counter()
                text = frame_text(block)
                ack = await self.handle(text, sender_id(text))
                if ack is not None:
                    writer.writeblock(ack.encode("utf-8"))
                    await writer.drain()
                if self.observe is not None:
                    self.observe(time.perf_counter() - started)
        except (ConnectionError, OSError):
            pass
        finally:
            if task is not None:
                self.connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for task in list(self.connections):
                task.cancel()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
