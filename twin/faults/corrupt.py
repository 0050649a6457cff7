"""How a fault spoils a message: poison HL7 variants, an unmapped department alias, a drifted document.

Pure text and dict functions, each random choice from the generator it is given. Every poison
variant yields a message a careful receiver can tell is broken (it never yields a different but
well-formed message, which no receiver could catch): MSH names an unsupported event or version,
PID is gone, an escape sequence is broken, MSH-2 declares other encoding characters, or the
message stops in the middle of a segment (never at a segment boundary) with the visit still to
come. The message control id (MSH-10) and channel sequence number (MSH-13) survive wherever MSH
is readable, so the receiver can still acknowledge and dead-letter the message by its id.
"""

from __future__ import annotations

import json
import random
from typing import Any

from twin.domain.accounts import is_room_and_board
from twin.faults.specs import PoisonVariant

SEGMENT_END = "\r"
STANDARD_ENCODING = "^~\\&"
WRONG_ENCODINGS = ("~^\\&", "^~&\\", "^~\\#", "#~\\&")  # declared delimiters the body does not use
BROKEN_ESCAPES = ("\\", "\\Q\\", "\\XZ1\\")  # unterminated, unknown, bad hex
ALIAS_SUFFIX = "-2"
VERSION_MARKER = "api_version"


def poison(payload: str, variant: PoisonVariant, rng: random.Random) -> tuple[str, str]:
    """``payload`` spoiled the way ``variant`` says, and a short note of how (for the report)."""
    segments = payload.split(SEGMENT_END)
    if variant == "bad_msh":
        fields = segments[0].split("|")
        how = rng.choice(("no trigger event", "unknown trigger event", "unsupported version"))
        if how == "no trigger event":
            fields[8] = fields[8].split("^")[0]
        elif how == "unknown trigger event":
            parts = fields[8].split("^")
            fields[8] = "^".join([parts[0], "Z99", *parts[2:]])
        else:
            fields[11] = "9.9"
        segments[0] = "|".join(fields)
        return SEGMENT_END.join(segments), f"MSH: {how}"
    if variant == "missing_pid":
        return SEGMENT_END.join(s for s in segments if not s.startswith("PID|")), "PID segment removed"
    if variant == "broken_escape":
        return _broken_escape(segments, rng)
    if variant == "wrong_encoding":
        fields = segments[0].split("|")
        fields[1] = rng.choice(WRONG_ENCODINGS)
        segments[0] = "|".join(fields)
        return SEGMENT_END.join(segments), f"MSH-2 declares {fields[1]!r}"
    return _truncated(payload, rng)


def _broken_escape(segments: list[str], rng: random.Random) -> tuple[str, str]:
    """A broken escape sequence inside a required identifier: the MRN (PID-3) or the visit (PV1-19)."""
    name, number = rng.choice((("PID", 3), ("PV1", 19)))
    index = next(i for i, s in enumerate(segments) if s.startswith(name + "|"))
    fields = segments[index].split("|")
    first, sep, rest = fields[number].partition("^")
    at = rng.randrange(len(first) + 1)
    broken = rng.choice(BROKEN_ESCAPES)
    fields[number] = first[:at] + broken + first[at:] + sep + rest
    segments[index] = "|".join(fields)
    return SEGMENT_END.join(segments), f"{name}-{number} carries {broken!r}"


def _truncated(payload: str, rng: random.Random) -> tuple[str, str]:
    """Cut strictly inside EVN or PID: the message ends mid-segment, without its segment end, and
    before PV1 (so without the visit every message needs)."""
    ranges = []
    start = 0
    for segment in payload.split(SEGMENT_END):
        if segment.startswith(("EVN|", "PID|")) and len(segment) > 1:
            ranges.append((start + 1, start + len(segment) - 1))  # keep 1..len-1 characters of it
        start += len(segment) + 1
    total = sum(high - low + 1 for low, high in ranges)
    pick = rng.randrange(total)
    for low, high in ranges:
        if pick <= high - low:
            cut = low + pick
            name = payload[low - 1 : low + 2]
            return payload[:cut], f"cut inside {name} after {cut} characters"
        pick -= high - low + 1
    raise AssertionError("unreachable: the pick falls in one of the ranges")


def keeps_visit(variant: str, how: str) -> bool:
    """Can a receiver still tell the spoiled message's encounter (PV1-19 intact)? Not when it was cut
    before PV1 or the escape broke the visit number itself."""
    return variant != "truncated" and not how.startswith("PV1-19")


def alias_code(department: str) -> str:
    """The new EHR code a department is sent under (a code nobody has governed yet)."""
    return department + ALIAS_SUFFIX


def alias_department(payload: str, rng: random.Random) -> tuple[str, str, str, str] | None:
    """One ancillary charge line's FT1-13 department replaced by its alias: (payload, txn id,
    department, alias); ``None`` when the message has no ancillary line. Room-and-board lines are
    left alone: they are the census, which the labor flow counts per nursing unit."""
    segments = payload.split(SEGMENT_END)
    eligible = []
    for index, segment in enumerate(segments):
        if not segment.startswith("FT1|"):
            continue
        fields = segment.split("|")
        if len(fields) <= 13:
            continue
        prefix = fields[7].split("^")[0].split("-", 1)[0]
        if prefix.isdigit() and not is_room_and_board(prefix):
            eligible.append(index)
    if not eligible:
        return None
    index = eligible[rng.randrange(len(eligible))]
    fields = segments[index].split("|")
    department, sep, rest = fields[13].partition("^")
    alias = alias_code(department)
    fields[13] = alias + sep + rest
    segments[index] = "|".join(fields)
    return SEGMENT_END.join(segments), fields[2], department, alias


def charge_lines(payload: str) -> tuple[str, ...]:
    """The transaction ids (FT1-2) a charge message carries."""
    return tuple(s.split("|")[2] for s in payload.split(SEGMENT_END) if s.startswith("FT1|") and s.count("|") >= 2)


def drift(body: dict[str, Any], rename: dict[str, str], version: str) -> dict[str, Any]:
    """The document as the SaaS's new API version sends it: fields renamed, a version marker added."""
    drifted = {rename.get(name, name): value for name, value in body.items()}
    drifted[VERSION_MARKER] = version
    return drifted


def canonical(text: str) -> str | None:
    """JSON text in one spelling (sorted keys), so a document matches however it was written out."""
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except (ValueError, TypeError):
        return None
