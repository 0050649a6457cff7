"""hl7apy as the oracle of the HL7 the EHR writes: strict validation, in any version it sends.

``parse_message`` finds a message's structure in MSH-9.3, or, without it (before 2.3.1), looks
for a structure named after the trigger; hl7apy's 2.3 library has such a structure for A01-A03,
A12 and P01 only. ``parse_strict`` takes the structure from HL7 table 0354 instead, and
``placed`` lists the segments hl7apy placed, since finding groups it drops silently a segment the
structure has no place for (an MRG in an admission), which its validation then never sees.
"""

from __future__ import annotations

from typing import Any

# HL7 table 0354: the message structure of each trigger event the EHR sends (2.3 gives A04, A08 and
# A13 an A01's segments, A11 an A09's, A40 an A39's, as 2.5.1 does).
STRUCTURES = {
    "ADT^A01": "ADT_A01",
    "ADT^A02": "ADT_A02",
    "ADT^A03": "ADT_A03",
    "ADT^A04": "ADT_A01",
    "ADT^A08": "ADT_A01",
    "ADT^A11": "ADT_A09",
    "ADT^A12": "ADT_A12",
    "ADT^A13": "ADT_A01",
    "ADT^A40": "ADT_A39",
    "DFT^P03": "DFT_P03",
    "BAR^P05": "BAR_P05",
    "BAR^P01": "BAR_P01",
    "ACK": "ACK",
}


def parse_strict(text: str) -> Any:
    """``parse_message(text, STRICT, find_groups=True)`` with the structure of MSH-9's type and
    trigger from ``STRUCTURES`` (MSH-9.3, where present, must agree)."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.core import Message
    from hl7apy.parser import get_message_info, parse_segments

    encoding, named, version = get_message_info(text)
    msh_9 = text.split("\r", 1)[0].split("|")[8].split("^")
    structure = STRUCTURES.get("^".join(msh_9[:2])) or STRUCTURES[msh_9[0]]  # an ACK's is ACK whatever the trigger
    assert named in (structure, "_".join(msh_9[:2])), f"MSH-9 names structure {named}, table 0354 {structure}"
    message = Message(structure, version=version, validation_level=VALIDATION_LEVEL.STRICT, encoding_chars=encoding)
    message.children = parse_segments(
        text, message.version, encoding, VALIDATION_LEVEL.STRICT, message.reference, find_groups=True
    )
    return message


def placed(element: Any) -> list[str]:
    """The segments of a parsed message in order, groups flattened."""
    names: list[str] = []
    for child in element.children:
        names.extend(placed(child) if child.classname == "Group" else [child.name])
    return names


def segment_names(text: str) -> list[str]:
    """The segments of an ER7 message as written."""
    return [segment[:3] for segment in text.replace("\n", "\r").split("\r") if segment]
