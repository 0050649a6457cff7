"""HL7 v2 ER7 primitives both ends of a feed need: the delimiters and text escaping.

Only the standard's fixed rules live here (v2.5.1 section 2.7); building and reading whole
messages belongs to the systems that do it (the EHR mock writes, the integration reads).
"""

from __future__ import annotations

VERSION = "2.5.1"
FIELD = "|"
COMPONENT = "^"
REPETITION = "~"
ESCAPE = "\\"
SUBCOMPONENT = "&"
ENCODING_CHARACTERS = COMPONENT + REPETITION + ESCAPE + SUBCOMPONENT
SEGMENT_END = "\r"

_ESCAPES = (
    (ESCAPE, "\\E\\"),  # first, so later escape sequences are not re-escaped
    (FIELD, "\\F\\"),
    (COMPONENT, "\\S\\"),
    (SUBCOMPONENT, "\\T\\"),
    (REPETITION, "\\R\\"),
)
_UNESCAPES = {"E": ESCAPE, "F": FIELD, "S": COMPONENT, "T": SUBCOMPONENT, "R": REPETITION}


def escape(text: str) -> str:
    """Escape delimiter characters in free text; line breaks become ``\\X0D\\``/``\\X0A\\``."""
    if not ("|" in text or "^" in text or "&" in text or "~" in text or "\\" in text or "\r" in text or "\n" in text):
        return text
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text.replace("\r", "\\X0D\\").replace("\n", "\\X0A\\")


def unescape(text: str) -> str:
    """Undo ``escape``; raises ``ValueError`` on a broken or unknown escape sequence."""
    if ESCAPE not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != ESCAPE:
            out.append(char)
            i += 1
            continue
        end = text.find(ESCAPE, i + 1)
        if end < 0:
            raise ValueError(f"unterminated escape sequence at offset {i}")
        code = text[i + 1 : end]
        if code in _UNESCAPES:
            out.append(_UNESCAPES[code])
        elif code.startswith("X") and len(code) > 1 and len(code) % 2 == 1:
            try:
                out.append(bytes.fromhex(code[1:]).decode("latin-1"))
            except ValueError as exc:
                raise ValueError(f"bad hex escape \\{code}\\ at offset {i}") from exc
        else:
            raise ValueError(f"unknown escape sequence \\{code}\\ at offset {i}")
        i = end + 1
    return "".join(out)
