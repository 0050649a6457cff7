"""The dead-letter check: every message a sender spoiled reaches the dead-letter queue, with a reason.

What an integration cannot process must never be lost: it parks it whole, with the reason, in a
queue people work. The truth knows every message the fault plan spoiled (``MessageCorrupted``:
a poison HL7 message, a vendor document in a drifted schema) and when it reached the
integration; the support team opened the queue on its rounds and logged what it found
(``RunView.faults.support``). So per spoiled message one record is expected in the queue
(``integration.dead_letter`` for HL7, ``integration.dead_document`` for documents), due when the
message arrived, allowed until the team's next round, carrying a reason. A spoiled message the team
looked for and could not find is lost; one found only rounds later is stale; one without a reason
is a wrong value.
"""

from __future__ import annotations

from twin.domain.events import MessageCorrupted
from twin.domain.support import AS_IT_WAS, LEFT, REPAIRED
from twin.observe.fault_truth import arrival
from twin.observe.records import Expected, Observed
from twin.observe.view import RunView

DEAD_LETTERS = "dead_letter_queue"
DEAD_MESSAGE = "integration.dead_letter"
DEAD_DOCUMENT = "integration.dead_document"
DEAD_LETTER_TARGETS = (DEAD_MESSAGE, DEAD_DOCUMENT)
PARKED = {"parked": True, "reason": True}


def _target(channel: str) -> str:
    return DEAD_DOCUMENT if channel == "document" else DEAD_MESSAGE


def allowed_lag(view: RunView) -> float:
    """Until the support team's next round: that is when the queue is looked at."""
    return view.scenario.operations.dlq_review_hours * 60


def dead_letter_expectations(view: RunView) -> list[Expected]:
    """One parked letter per message a sender spoiled, due when it reached the integration."""
    arrives = arrival(view.outages)
    resend = view.scenario.operations.ack_timeout_minutes  # after an outage, the sender's next resend may wait
    expected = []
    for fact in view.truth:
        if isinstance(fact, MessageCorrupted):
            at = arrives(fact.at)
            expected.append(
                Expected(
                    DEAD_LETTERS,
                    _target(fact.channel),
                    fact.message_id,
                    dict(PARKED),
                    at,
                    grace=resend if at != fact.at else 0.0,
                    why=f"{fact.message_type} spoiled ({fact.variant})"
                    + (", sent while the integration was down" if at != fact.at else ""),
                )
            )
    return expected


def observe_dead_letters(view: RunView) -> list[Observed]:
    """The spoiled messages the support team found in the queue, each at the round it first did."""
    if view.faults is None:
        return []
    found: dict[str, Observed] = {}
    for action in view.faults.support:
        if action.spoiled and action.action in (REPAIRED, LEFT, AS_IT_WAS) and action.spoiled not in found:
            found[action.spoiled] = Observed(
                _target(action.channel),
                action.spoiled,
                {"parked": True, "reason": bool(action.reason.strip())},
                action.at,
                action.message_id,
            )
    return list(found.values())
