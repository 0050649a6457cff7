"""Replaying dead letters in bulk - one, by filter, or all - for any integration of the contract.

An operator rarely replays one message: after an outage every request whose retries ran out goes
again, after a fix every message rejected for the same reason does. These helpers select dead
letters and replay each through ``Integration.replay``, which owns exactly-once (its idempotency
keys and duplicate checks), so replaying a letter whose work in fact happened posts nothing twice.
Sans-IO like the contract: ``now`` is passed in and the merged ``Outcome`` goes where any does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twin.domain.contract import DeadLetter, Integration, Outcome
from twin.domain.model import SimTime


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """Which dead letters to take: every condition given must hold (none given: all of them)."""

    channel: str | None = None  # "hl7" | "fhir" | "request" | "document"
    reason_contains: str | None = None  # case-insensitive substring of the reason
    received_before: SimTime | None = None
    message_ids: frozenset[str] | None = None

    def __call__(self, letter: DeadLetter) -> bool:
        return (
            (self.channel is None or letter.channel == self.channel)
            and (self.reason_contains is None or self.reason_contains.lower() in letter.reason.lower())
            and (self.received_before is None or letter.received_at < self.received_before)
            and (self.message_ids is None or letter.message_id in self.message_ids)
        )


@dataclass(slots=True)
class BulkReplay:
    """What a bulk replay did: the letters replayed, those that went back to the queue, and the
    requests and timers the integration asked for on the way."""

    replayed: list[str] = field(default_factory=list)
    still_dead: list[str] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)


def replay_dead_letters(
    integration: Integration,
    now: SimTime,
    where: Callable[[DeadLetter], bool] | None = None,
    repair: Callable[[DeadLetter], str | None] | None = None,
) -> BulkReplay:
    """Replay every dead letter ``where`` selects, oldest first, each once: with the payload
    ``repair`` gives for it, else as it was. A letter that fails again stays in the queue (the
    integration counts the attempt) and is named in ``still_dead``."""
    result = BulkReplay()
    select = where or LetterFilter()
    chosen = sorted((letter for letter in integration.dead_letters() if select(letter)), key=lambda d: d.received_at)
    for letter in chosen:
        try:
            outcome = integration.replay(letter.message_id, now, repair(letter) if repair else None)
        except KeyError:  # it left the queue while another replay ran (its work released it)
            continue
        result.replayed.append(letter.message_id)
        result.outcome.requests.extend(outcome.requests)
        result.outcome.timers.extend(outcome.timers)
    remaining = {letter.message_id for letter in integration.dead_letters()}
    result.still_dead = [message_id for message_id in result.replayed if message_id in remaining]
    return result
