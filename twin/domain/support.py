"""What the integration support team did on its rounds: the record a driver hands the judge.

People work an integration's dead-letter queue (``twin.workflows.operations``); each round they
open the queue the integration exposes and act on each letter. Their log says what they found
there and what they did, so the judge can tell a message the integration parked (found, repaired,
replayed) from one it never showed (a spoiled message the team looked for and could not find).
"""

from __future__ import annotations

from typing import NamedTuple

from twin.domain.model import SimTime

REPAIRED, AS_IT_WAS, LEFT, MISSING = "repaired", "as it was", "left", "missing"


class SupportAction(NamedTuple):
    """One thing the team did about one dead letter (or one spoiled message) on one round.

    ``action``: ``repaired`` (replayed with the original restored), ``as it was`` (a request whose
    retries ran out, replayed unchanged), ``left`` (nobody can repair it, or replayed too often),
    ``missing`` (a message the sender reported spoiled that the team could not find in the queue).
    """

    at: SimTime
    message_id: str  # the letter's id as the integration filed it ("" when missing)
    channel: str
    reason: str  # the integration's reason ("" when missing)
    attempts: int  # the integration's attempts before this round
    parked_at: SimTime  # when the integration dead-lettered it (the spoiled message's arrival when missing)
    action: str
    spoiled: str = ""  # the spoiled message it is (``MessageCorrupted.message_id``), "" for none
