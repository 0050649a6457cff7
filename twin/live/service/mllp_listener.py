"""The integration service's MLLP listener: HL7 v2 over TCP, acknowledged only once committed.

Framing is python-hl7's (``hl7.mllp``: ``<VT> message <FS><CR>`` blocks over asyncio streams). Each
message is handed to the host (``twin.live.service.host``) as text; the ACK the integration made
goes back only after the message is on disk. A message whose sender's id (MSH-4 and MSH-10) was
taken before gets the answer it got then, without going to the integration again - a resend after a
lost ACK, or after the service crashed between commit and ACK.

Nothing a sender writes drops the connection: a block without its start character is read as a
message all the same (and rejected by the integration if it is no HL7); bytes that are not UTF-8 in a
message that declares no 8-bit character set (MSH-18) are answered AR with an ERR segment saying where,
and the message is kept whole (as Latin-1) with the service's dead letters for a replay; an integration
that fails on a message answers AE with an ERR segment saying so, and that message is kept too.
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

Handle = Callable[[str, str, str], Awaitable[str | None]]  # (text, sender's id, problem) -> ACK (None: none)
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


EIGHT_BIT = ("8859", "LATIN", "CP1252", "WINDOWS-1252")  # MSH-18 values that say the bytes are not UTF-8


def frame_text(block: bytes) -> str:
    """The message in one block read up to ``<FS><CR>`` (see ``frame_decode``), as text."""
    return frame_decode(block)[0]


def frame_decode(block: bytes) -> tuple[str, str]:
    """The message in one block read up to ``<FS><CR>``: after its ``<VT>`` (or all of it, when the
    sender left that out), as text, and what is wrong with its bytes ("" when nothing). It is UTF-8
    unless MSH-18 declares an 8-bit character set (read as Latin-1 then); bytes that are neither are
    read as Latin-1 so nothing is lost, and the problem says where they are."""
    body = block[: -len(FRAME_END)] if block.endswith(FRAME_END) else block
    start = body.find(START_BLOCK)
    if start >= 0:
        body = body[start + 1 :]
    try:
        return body.decode("utf-8"), ""
    except UnicodeDecodeError as error:
        text = body.decode("latin-1")
        header = text.split("\r", 1)[0].split("|")
        charset = header[17].upper() if len(header) > 17 else ""
        if any(name in charset for name in EIGHT_BIT):
            return text, ""
        return text, f"bytes that are not UTF-8 at offset {error.start} (MSH-18 declares no other character set)"


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
                text, problem = frame_decode(block)
                ack = await self.handle(text, sender_id(text), problem)
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
