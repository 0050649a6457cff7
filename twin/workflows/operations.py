"""Integration support as it happens in a network: a team reviews the dead-letter queue on rounds.

Every few hours (``operations.dlq_review_hours``) someone opens the integration's dead letters
and works them. A message the fault plan spoiled - a poison HL7 message, a vendor document in a
drifted schema - is repaired: the sender (or the vendor, asked for it) supplies it again as it
should have been, and it is replayed with that payload. A request whose retries ran out against
an unavailable target is replayed as it was. Anything else (a message nobody can repair) stays
in the queue, for the report. Each replay is a fact (``MessageRepaired``) for the truth ledger -
what it made possible is due from then on - and its outcome goes where any input's does.

Like the data steward (``stewardship``) this is people working the integration's queues; it
decides nothing about the messages themselves, the integration does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twin.domain.contract import DeadLetter, Integration, Outcome
from twin.domain.events import Fact, MessageRepaired
from twin.domain.model import SimTime
from twin.domain.support import AS_IT_WAS, LEFT, REPAIRED, SupportAction
from twin.faults import FaultPlan

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
    """Reviews ``integration.dead_letters()`` and replays what can be fixed."""

    def __init__(
        self,
        integration: Integration,
        plan: FaultPlan,
        apply: Callable[[Outcome], None],
        witness: Callable[[Fact], None],
        review_hours: float,
    ) -> None:
        self.integration = integration
        self.plan = plan
        self.apply = apply
        self.witness = witness
        self.rounds = review_hours * 60  # minutes between two reviews
        self.replays: list[Replay] = []
        self.log: list[SupportAction] = []  # every action of every round, for the judge (``RunView``)
        self._tries: dict[tuple[str, str], int] = {}
        self.left: set[tuple[str, str]] = set()  # dead letters nobody can repair (or replayed too often)

    def review(self, now: SimTime) -> int:
        """One round: replay every dead letter that can be repaired or retried; returns how many."""
        replay = getattr(self.integration, "replay", None)
        if replay is None:  # an integration without replay: the queue only grows
            return 0
        done = 0
        for letter in self.integration.dead_letters():
            mark = (letter.channel, letter.message_id)
            found = self.plan.original_for(letter.message_id, letter.payload)
            spoiled = found[0].key if found is not None else ""
            if self._tries.get(mark, 0) >= MAX_REPLAYS or (found is None and letter.channel != "request"):
                self.left.add(mark)
                self.log.append(_action(letter, now, LEFT, spoiled))
                continue
            try:
                if found is not None:
                    outcome = replay(letter.message_id, now, payload=found[1])
                else:
                    outcome = replay(letter.message_id, now)
            except KeyError:  # it left the queue while the team worked on another one
                continue
            self._tries[mark] = self._tries.get(mark, 0) + 1
            self.left.discard(mark)
            self.replays.append(self._replay(letter, now, repaired=found is not None))
            self.log.append(_action(letter, now, REPAIRED if found is not None else AS_IT_WAS, spoiled))
            if found is not None:
                corruption = found[0]
                self.witness(
                    MessageRepaired(now, corruption.key, corruption.channel, corruption.business_key, repaired=True)
                )
            else:
                self.witness(MessageRepaired(now, letter.message_id, letter.channel, "", repaired=False))
            self.apply(outcome)
            done += 1
        return done

    @staticmethod
    def _replay(letter: DeadLetter, now: SimTime, *, repaired: bool) -> Replay:
        return Replay(
            now, letter.message_id, letter.channel, letter.reason, letter.attempts, repaired, letter.received_at
        )


def _action(letter: DeadLetter, now: SimTime, action: str, spoiled: str) -> SupportAction:
    return SupportAction(
        now, letter.message_id, letter.channel, letter.reason, letter.attempts, letter.received_at, action, spoiled
    )
