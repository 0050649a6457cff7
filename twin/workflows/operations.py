"""Integration support as it happens in a network: a team works the spoiled messages on rounds.

Every few hours (``operations.dlq_review_hours``) the team goes over the messages the senders
reported spoiled since the last round - a poison HL7 message, a vendor document in a drifted
schema (the fault plan knows them, as the interface analysts do once a sender complains) - and
repairs each: the sender (or the vendor, asked for it) supplies it again as it should have been.
That repair is the world's doing, on the team's cadence, whatever the integration did: it is a
fact for the truth ledger (``MessageRepaired``), and what the message carried is due from then on.

The team then looks for the spoiled message in the dead-letter queue the integration exposes. If
it is there, they replay it with the repaired payload; if it is not, they cannot, and say so
(``MISSING``): a spoiled message that never reached the queue is the integration's difference,
not a reason for the truth to wait. A request whose retries ran out against an unavailable target
is replayed as it was. Anything else (a message nobody can repair) stays in the queue. Every
action goes to the team's log (``log``), which the judge reads.

Like the data steward (``stewardship``) this is people working the integration's queues; it
decides nothing about the messages themselves, the integration does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from twin.domain.contract import DeadLetter, Integration, Outcome
from twin.domain.events import Fact, MessageRepaired
from twin.domain.model import SimTime
from twin.domain.support import AS_IT_WAS, LEFT, MISSING, REPAIRED, SupportAction
from twin.faults import Corruption, FaultPlan

MAX_REPLAYS = 3  # the team replays one dead letter at most this often, then leaves it for the report


@dataclass(frozen=True, slots=True)
class Replay:
    """One replay the team made, with what the dead letter said when they found it."""

    at: SimTime
    message_id: str
    channel: str
    reason: str
    attempts: int  # the integration's attempts before this replay
    repaired: bool  # replayed with the original restored (else as it was)
    parked_at: SimTime  # when the integration dead-lettered it


class SupportTeam:
    """Repairs what the senders spoiled, and works ``integration.dead_letters()``."""

    def __init__(
        self,
        integration: Integration,
        plan: FaultPlan,
        apply: Callable[[Outcome], None],
        witness: Callable[[Fact], None],
        review_hours: float,
        delivered: Mapping[str, SimTime] | None = None,
    ) -> None:
        """``delivered``: spoiled message (``Corruption.key``) -> when it reached the integration (the
        transport's record); ``None`` takes every message the plan spoiled as delivered."""
        self.integration = integration
        self.plan = plan
        self.apply = apply
        self.witness = witness
        self.rounds = review_hours * 60  # minutes between two reviews
        self.delivered = delivered
        self.replays: list[Replay] = []
        self.log: list[SupportAction] = []  # every action of every round, for the judge (``RunView``)
        self.repaired: dict[str, SimTime] = {}  # spoiled message -> the round that repaired it
        self._tries: dict[tuple[str, str], int] = {}
        self.left: set[tuple[str, str]] = set()  # dead letters nobody can repair (or replayed too often)

    def review(self, now: SimTime) -> int:
        """One round: repair what was spoiled, replay what can be; returns how many were replayed."""
        letters = list(self.integration.dead_letters())
        spoiled_in_queue: dict[str, DeadLetter] = {}
        others: list[tuple[DeadLetter, Corruption | None, str | None]] = []
        for letter in letters:
            found = self.plan.original_for(letter.message_id, letter.payload)
            if found is not None:
                spoiled_in_queue.setdefault(found[0].key, letter)
                others.append((letter, found[0], found[1]))
            else:
                others.append((letter, None, None))
        self._repair(now, spoiled_in_queue)
        done = 0
        for letter, corruption, original in others:
            done += self._work(letter, corruption, original, now)
        return done

    def _repair(self, now: SimTime, in_queue: Mapping[str, DeadLetter]) -> None:
        """The senders supply every message spoiled since the last round again, as it should have been."""
        for key, corruption in self.plan.corrupted.items():
            if key in self.repaired:
                continue
            arrived = corruption.at if self.delivered is None else self.delivered.get(key)
            if arrived is None or arrived > now:
                continue  # not at the integration yet (its door was down): the next round
            self.repaired[key] = now
            self.witness(MessageRepaired(now, key, corruption.channel, corruption.business_key, repaired=True))
            if key not in in_queue:
                self.log.append(
                    SupportAction(now, "", corruption.channel, "", 0, arrived, MISSING, spoiled=corruption.key)
                )

    def _work(self, letter: DeadLetter, corruption: Corruption | None, original: str | None, now: SimTime) -> int:
        """One dead letter: replayed repaired, replayed as it was, or left; 1 when replayed."""
        replay = getattr(self.integration, "replay", None)
        mark = (letter.channel, letter.message_id)
        spoiled = corruption.key if corruption is not None else ""
        repairable = corruption is not None and corruption.key in self.repaired
        if replay is None or self._tries.get(mark, 0) >= MAX_REPLAYS or not (repairable or letter.channel == "request"):
            self.left.add(mark)
            self.log.append(_action(letter, now, LEFT, spoiled))
            return 0
        try:
            outcome = replay(letter.message_id, now, payload=original) if repairable else replay(letter.message_id, now)
        except KeyError:  # it left the queue while the team worked on another one
            return 0
        self._tries[mark] = self._tries.get(mark, 0) + 1
        self.left.discard(mark)
        self.replays.append(self._replay(letter, now, repaired=repairable))
        self.log.append(_action(letter, now, REPAIRED if repairable else AS_IT_WAS, spoiled))
        if not repairable:
            self.witness(MessageRepaired(now, letter.message_id, letter.channel, "", repaired=False))
        self.apply(outcome)
        return 1

    @staticmethod
    def _replay(letter: DeadLetter, now: SimTime, *, repaired: bool) -> Replay:
        return Replay(
            now, letter.message_id, letter.channel, letter.reason, letter.attempts, repaired, letter.received_at
        )


def _action(letter: DeadLetter, now: SimTime, action: str, spoiled: str) -> SupportAction:
    return SupportAction(
        now, letter.message_id, letter.channel, letter.reason, letter.attempts, letter.received_at, action, spoiled
    )
