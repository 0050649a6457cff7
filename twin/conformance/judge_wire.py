"""Judgements on what crossed the wire: ACKs, the dead-letter queue, the FHIR the integration sent.

The sources' side of the contract: every HL7 message gets an ACK that echoes its control id
(MSH-10 in MSA-2), AA for what was accepted, AE/AR with an ERR segment for what could not be read;
what could not be processed is in the integration's dead-letter queue with the reason (or was
repaired and replayed from it by the support team); and what the integration sends the
clearinghouse is FHIR R4. Evidence shows control ids (they identify messages, not patients) and
never a message's content.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

from twin.conformance.context import Evidence, ScenarioUnderTest
from twin.conformance.judge import (
    DEAD_LETTER_COLUMNS,
    DIFFERENCE_COLUMNS,
    MAX_ROWS,
    dead_letter_rows,
    difference_rows,
    expected_records,
    flow_result,
)
from twin.domain.events import MessageCorrupted
from twin.domain.exchange import MessageRecord
from twin.domain.pseudonym import mask
from twin.domain.support import AS_IT_WAS, REPAIRED
from twin.observe.dead_letter_check import DEAD_DOCUMENT, DEAD_LETTERS, DEAD_MESSAGE

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")
FHIR_SAMPLE = 200  # claims validated per run: fhir.resources takes a few ms each


def _hl7(ctx: ScenarioUnderTest) -> list[MessageRecord]:
    return [r for r in ctx.result.view.records if r.record_type == "hl7"]


def _corrupted(ctx: ScenarioUnderTest, channel: str) -> dict[str, MessageCorrupted]:
    return {
        fact.message_id: fact
        for fact in ctx.result.view.truth
        if isinstance(fact, MessageCorrupted) and fact.channel == channel
    }


def _segment(ack: str, name: str) -> list[str]:
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith(name + "|"):
            return segment.split("|")
    return []


def judge_acknowledged(ctx: ScenarioUnderTest) -> Evidence:
    """Every HL7 message delivered got an ACK, and every well-formed one was accepted with AA."""
    records = _hl7(ctx)
    corrupted = _corrupted(ctx, "hl7")
    codes = Counter(r.outcome for r in records)
    missing = [r for r in records if r.outcome not in ACK_CODES]
    refused = [r for r in records if r.message_id not in corrupted and r.outcome in ACK_CODES and r.outcome != "AA"]
    columns = ("message type", "control id", "ACK")
    rows = [(r.message_type, r.message_id, r.outcome) for r in (missing + refused)[:MAX_ROWS]]
    title = "HL7 acknowledgements"
    tally = ", ".join(f"{code} {count}" for code, count in sorted(codes.items()))
    if not records:
        return Evidence(title, False, "nothing to judge: no HL7 message was delivered")
    if missing or refused:
        return Evidence(
            title,
            False,
            f"{len(missing)} message(s) without an ACK and {len(refused)} well-formed message(s) not accepted "
            f"with AA, of {len(records)} delivered ({tally})",
            columns,
            rows,
        )
    return Evidence(title, True, f"{len(records)} message(s) delivered, every one acknowledged ({tally})", columns)


def judge_ack_echo(ctx: ScenarioUnderTest) -> Evidence:
    """Each ACK's MSA-2 is the control id of a message sent, and each well-formed message's control
    id comes back in an ACK (MSH-10 echoed): the sender can match every answer to its message."""
    view = ctx.result.view
    corrupted = _corrupted(ctx, "hl7")
    sent = Counter(r.message_id for r in _hl7(ctx) if r.message_id not in corrupted)
    acks = view.traffic.get("ACK", [])
    echoed = Counter(_field(_segment(ack, "MSA"), 2) for ack in acks)
    not_echoed = sorted(set(sent) - set(echoed))
    unknown = sorted(mid for mid in echoed if mid and mid not in sent and mid not in corrupted)
    columns = ("problem", "control id")
    rows = [("sent, never echoed in an MSA-2", mid) for mid in not_echoed[:MAX_ROWS]]
    rows += [("echoed, never sent", mid) for mid in unknown[:MAX_ROWS]]
    title = "MSH-10 echoed in MSA-2"
    if not acks:
        return Evidence(title, False, "no ACK text was kept for this run (keep_traffic off?)")
    if not_echoed or unknown:
        return Evidence(
            title,
            False,
            f"{len(not_echoed)} control id(s) never echoed and {len(unknown)} ACK(s) echoing an id never sent, "
            f"of {len(sent)} message(s) and {len(acks)} ACK(s)",
            columns,
            rows,
        )
    return Evidence(title, True, f"{len(acks)} ACK(s) echo the control ids of {len(sent)} message(s)", columns)


def _field(fields: list[str], number: int) -> str:
    value = fields[number] if len(fields) > number else ""
    return value.split("^", 1)[0]


def judge_ack_valid(ctx: ScenarioUnderTest, sample: int = 60) -> Evidence:
    """A sample of the ACKs (every negative one, an even spread of the rest) parses as a valid HL7
    v2 ACK with hl7apy at strict validation."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    acks = ctx.result.view.traffic.get("ACK", [])
    negative = [a for a in acks if _field(_segment(a, "MSA"), 1) != "AA"]
    positive = [a for a in acks if _field(_segment(a, "MSA"), 1) == "AA"]
    step = max(1, len(positive) // sample)
    chosen = negative[:sample] + positive[::step][:sample]
    problems: list[tuple[str, ...]] = []
    for ack in chosen:
        try:
            message = parse_message(ack, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
            message.validate()
        except Exception as exc:  # hl7apy raises several error types for invalid messages
            problems.append((_field(_segment(ack, "MSA"), 2), type(exc).__name__, mask(str(exc))[:160]))
    title = "ACKs valid HL7 v2 (hl7apy, strict)"
    columns = ("MSA-2", "error", "detail")
    if not chosen:
        return Evidence(title, False, "nothing to judge: no ACK was kept for this run")
    if problems:
        return Evidence(
            title, False, f"{len(problems)} of {len(chosen)} sampled ACK(s) invalid", columns, problems[:MAX_ROWS]
        )
    return Evidence(title, True, f"{len(chosen)} sampled ACK(s) of {len(acks)} valid at strict validation", columns)


def judge_negative_acks(ctx: ScenarioUnderTest) -> Evidence:
    """Every malformed message was answered AE or AR, and every negative ACK carries an ERR segment."""
    corrupted = _corrupted(ctx, "hl7")
    records = [r for r in _hl7(ctx) if r.message_id in corrupted]
    accepted = [r for r in records if r.outcome not in ("AE", "AR")]
    acks = ctx.result.view.traffic.get("ACK", [])
    negative = [a for a in acks if _field(_segment(a, "MSA"), 1) in ("AE", "AR", "CE", "CR")]
    without_err = [a for a in negative if not _segment(a, "ERR")]
    columns = ("control id", "message type", "poison variant", "ACK")
    rows = [(r.message_id, r.message_type, corrupted[r.message_id].variant, r.outcome) for r in (accepted or records)][
        :MAX_ROWS
    ]
    title = "negative acknowledgements for malformed messages"
    if not records:
        return Evidence(title, False, "nothing to judge: no malformed message reached the integration")
    if accepted or without_err:
        return Evidence(
            title,
            False,
            f"{len(accepted)} of {len(records)} malformed message(s) were not answered AE/AR, and "
            f"{len(without_err)} negative ACK(s) of {len(negative)} lack an ERR segment",
            columns,
            rows,
        )
    return Evidence(
        title,
        True,
        f"{len(records)} malformed message(s) answered AE/AR, each negative ACK with an ERR segment",
        columns,
        rows,
    )


def judge_parked(ctx: ScenarioUnderTest, channel: str, noun: str) -> Evidence:
    """Every message the fault plan spoiled on ``channel`` reached the dead-letter queue with a
    reason, in time for the support team's next round (the dead-letter check: a spoiled message
    the team looked for and did not find is lost, one found only rounds later is stale, one parked
    without a reason a wrong value)."""
    view = ctx.result.view
    target = DEAD_DOCUMENT if channel == "document" else DEAD_MESSAGE
    due = [e for e in expected_records(ctx, DEAD_LETTERS) if e.target == target]
    problems = [d for d in flow_result(ctx.result, DEAD_LETTERS).differences if d.target == target]
    support = view.faults.support if view.faults is not None else ()
    replays = [action for action in support if action.action in (REPAIRED, AS_IT_WAS) and action.channel == channel]
    rows = [
        (mask(r.message_id), r.channel, mask(r.reason), str(r.attempts), f"{r.parked_at:.1f}", f"{r.at:.1f}", r.action)
        for r in replays[:MAX_ROWS]
    ]
    columns = ("message", "channel", "reason", "attempts", "parked at (min)", "replayed at (min)", "replayed")
    title = f"dead-letter queue: {noun}"
    if not due:
        return Evidence(title, False, f"nothing to judge: no {noun} in this run")
    if problems:
        counts = Counter(d.kind for d in problems)
        return Evidence(
            title,
            False,
            f"{counts['lost']} of {len(due)} {noun} never reached the dead-letter queue, {counts['stale']} only "
            f"rounds later, {counts['wrong_value']} parked without a reason; first: {mask(problems[0].key)}: "
            f"{mask(problems[0].detail)}",
            DIFFERENCE_COLUMNS,
            difference_rows(problems),
        )
    left = len(due) - len({r.message_id for r in replays if r.action == REPAIRED})
    return Evidence(
        title,
        True,
        f"{len(due)} {noun} parked with a reason and found by the support team; {max(left, 0)} not replayed repaired",
        columns,
        rows,
    )


def judge_dead_letters_empty(ctx: ScenarioUnderTest) -> Evidence:
    """Nothing is left in the integration's dead-letter queue at the end of the run."""
    letters = ctx.result.view.dead_letters
    title = "dead-letter queue at the end"
    if letters:
        return Evidence(
            title,
            False,
            f"{len(letters)} dead letter(s) left; first: {mask(letters[0].reason)}",
            DEAD_LETTER_COLUMNS,
            dead_letter_rows(ctx.result),
        )
    return Evidence(title, True, "the dead-letter queue is empty", DEAD_LETTER_COLUMNS)


@lru_cache(maxsize=1)
def _claim_model() -> Any:
    from fhir.resources.R4B.claim import Claim

    return Claim


def judge_fhir_claims(ctx: ScenarioUnderTest) -> Evidence:
    """Every claim the integration submitted to the clearinghouse validates as a FHIR R4 Claim
    (``fhir.resources``, R4B models); up to ``FHIR_SAMPLE`` of them, evenly spread."""
    submissions = ctx.result.view.clearinghouse.submissions
    step = max(1, len(submissions) // FHIR_SAMPLE)
    chosen = submissions[::step][:FHIR_SAMPLE]
    model = _claim_model()
    problems: list[tuple[str, ...]] = []
    for submission in chosen:
        try:
            claim = submission.claim  # parsed from the text the clearinghouse kept
            if not isinstance(claim, dict) or claim.get("resourceType") != "Claim":
                raise ValueError("resourceType is not Claim")
            model.model_validate(claim)
        except Exception as exc:  # pydantic's ValidationError, or a body that is no resource at all
            problems.append((submission.submission_id, mask(submission.claim_number), mask(str(exc))[:200]))
    title = "claims are valid FHIR R4"
    columns = ("submission", "claim", "problem")
    if not chosen:
        return Evidence(title, False, "nothing to judge: the integration submitted no claim")
    if problems:
        return Evidence(
            title, False, f"{len(problems)} of {len(chosen)} validated claim(s) invalid", columns, problems[:MAX_ROWS]
        )
    return Evidence(
        title, True, f"{len(chosen)} of {len(submissions)} submitted claim(s) validated as FHIR R4", columns
    )
