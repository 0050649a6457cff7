"""The integration service's durable state: one SQLite file, WAL, ``synchronous=FULL``.

The integration's logic is the sans-IO core, whose state lives in memory; what makes the service
crash-safe is that every *input* the core was given is written here before anyone is told it was
taken (an ACK, a 202, a request on the wire). After a crash the service builds a fresh core and
feeds it the journal again (``twin.live.service.host``): the core is deterministic for its inputs,
so it ends where it was. The tables:

- ``journal`` (the inbox): every input in order - an HL7 message, a target's answer, a pushed
  document, a governance publication, a timer, a replay - with the simulated minute it was given at.
- ``outbox``: every request the core asked to send, by the sequence in which it asked, with its
  state (``pending`` until an answer was journaled, then ``done``), attempts, the worker's lease and
  the last status. After a crash the pending ones go out again with their idempotency keys.
- ``dead_letters``: the core's dead-letter queue as it stood after the last commit (what the admin
  API lists; the core is the authority, this is its durable copy).
- ``idempotency``: every source message and document taken, by its sender's id (MSH-4 and MSH-10;
  a document's source and number), with the answer given - a resend gets the same answer again.

Writes come in batches (``Batch``): everything one turn of the event loop produced is one
transaction, committed (and fsynced) once - a group commit - on the store's own thread, so the loop
keeps taking input while the disk works.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    journal_seq INTEGER NOT NULL,
    system TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    status INTEGER,
    created_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS dead_letters (
    message_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL,
    history TEXT NOT NULL,
    PRIMARY KEY (channel, message_id)
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    journal_seq INTEGER NOT NULL,
    answer TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    kind: str  # "start" | "hl7" | "response" | "webhook" | "master" | "timer" | "replay"
    at: float
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    journal_seq: int
    system: str
    method: str
    path: str
    idempotency_key: str
    request: dict[str, Any]  # the whole TargetRequest as JSON
    state: str
    attempts: int
    status: int | None


@dataclass(slots=True)
class Batch:
    """The writes of one group commit."""

    journal: list[tuple[int, str, float, str]] = field(default_factory=list)
    outbox: list[tuple[int, int, str, str, str, str, str, float]] = field(default_factory=list)
    answered: list[tuple[int, float, int]] = field(default_factory=list)  # outbox seq, at, status
    leases: list[tuple[float, int]] = field(default_factory=list)  # lease until, outbox seq (an attempt)
    idempotency: list[tuple[str, int, str]] = field(default_factory=list)
    dead_letters: list[tuple[str, str, str, float, int, str, str, str]] | None = None  # the whole queue, if changed

    def __bool__(self) -> bool:
        return bool(
            self.journal or self.outbox or self.answered or self.leases or self.idempotency
            or self.dead_letters is not None
        )  # fmt: skip


class Store:
    """The SQLite file (see the module docstring). Not thread-safe: one thread uses it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- meta: what this file belongs to ------------------------------------------------------
    def meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    # -- writing ----------------------------------------------------------------------------------
    def commit(self, batch: Batch) -> None:
        """One transaction for the whole batch; returns once it is on disk."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if batch.journal:
                db.executemany("INSERT INTO journal (seq, kind, at, data) VALUES (?, ?, ?, ?)", batch.journal)
            if batch.outbox:
                db.executemany(
                    "INSERT INTO outbox (seq, journal_seq, system, method, path, idempotency_key, request, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    batch.outbox,
                )
            if batch.leases:
                db.executemany("UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE seq = ?", batch.leases)
            if batch.answered:
                db.executemany(
                    "UPDATE outbox SET state = 'done', done_at = ?, status = ?, lease_until = NULL WHERE seq = ?",
                    [(at, status, seq) for seq, at, status in batch.answered],
                )
            if batch.idempotency:
                db.executemany(
                    "INSERT OR IGNORE INTO idempotency (key, journal_seq, answer) VALUES (?, ?, ?)", batch.idempotency
                )
            if batch.dead_letters is not None:
                db.execute("DELETE FROM dead_letters")
                db.executemany(
                    "INSERT OR REPLACE INTO dead_letters (message_id, channel, reason, received_at, attempts, source,"
                    " payload, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    batch.dead_letters,
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- reading ----------------------------------------------------------------------------------
    def journal(self) -> Iterator[JournalEntry]:
        """Every input, in the order the core was given them."""
        for seq, kind, at, data in self.db.execute("SELECT seq, kind, at, data FROM journal ORDER BY seq"):
            yield JournalEntry(int(seq), str(kind), float(at), json.loads(data))

    def outbox(self, *, pending_only: bool = False) -> list[OutboxRow]:
        where = " WHERE state = 'pending'" if pending_only else ""
        rows = self.db.execute(
            "SELECT seq, journal_seq, system, method, path, idempotency_key, request, state, attempts, status"
            f" FROM outbox{where} ORDER BY seq"
        )
        return [
            OutboxRow(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], int(r[8]), r[9])
            for r in rows
        ]

    def last_sequences(self) -> tuple[int, int]:
        """The highest journal and outbox sequence numbers written (0 when empty)."""
        journal = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
        outbox = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
        return int(journal), int(outbox)

    def answers(self) -> dict[str, str]:
        """The idempotency store: sender's id -> the answer given."""
        return {str(key): str(answer) for key, answer in self.db.execute("SELECT key, answer FROM idempotency")}

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT message_id, channel, reason, received_at, attempts, source, payload, history FROM dead_letters"
            " ORDER BY received_at, message_id"
        )
        return [
            {
                "message_id": r[0],
                "channel": r[1],
                "reason": r[2],
                "received_at": r[3],
                "attempts": r[4],
                "source": r[5],
                "payload": r[6],
                "history": json.loads(r[7]),
            }
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Queue figures for health and metrics."""
        pending = self.db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
        letters = self.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        journal = self.db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
        return {"outbox_pending": int(pending), "dead_letters": int(letters), "journal": int(journal)}


def rows_of(letters: Iterable[Any]) -> list[tuple[str, str, str, float, int, str, str, str]]:
    """``DeadLetter``s as ``dead_letters`` rows."""
    return [
        (
            letter.message_id,
            letter.channel,
            letter.reason,
            float(letter.received_at),
            int(letter.attempts),
            letter.source,
            letter.payload,
            json.dumps([[at, what] for at, what in letter.history]),
        )
        for letter in letters
    ]
