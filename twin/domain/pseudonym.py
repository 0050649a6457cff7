"""Stable pseudonyms for identifiers that may appear in logs and reports.

Reports must let a person follow one encounter across tables without ever printing its real
identifier, so the same identifier always maps to the same short token.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

_SALT = b"integration-twin/pseudonym/v1"


@lru_cache(maxsize=1 << 16)  # a visit's key recurs on every one of its messages: the writers ask again and again
def pseudonym(identifier: str, prefix: str = "enc") -> str:
    """A stable, non-reversible token for ``identifier`` such as ``enc-3f9a1c2b``."""
    digest = hashlib.blake2b(identifier.encode(), key=_SALT, digest_size=4).hexdigest()
    return f"{prefix}-{digest}"


# visit numbers (H01V0000007) and MRNs (H01M0000007), wherever they appear in a key or a sentence
_PATIENT_ID = re.compile(r"\b([A-Z][A-Z0-9]{1,5})([VM])(\d{5,})")


def mask(text: str) -> str:
    """``text`` with every visit number and MRN replaced by its stable pseudonym (``enc-…``, ``pat-…``).

    Everything else in a key or a sentence (cost centers, items, dates, KPI names, control ids) is
    master data, not a person, and stays readable; a visit reads the same in every report.
    """
    return _PATIENT_ID.sub(lambda m: pseudonym(m.group(0), "enc" if m.group(2) == "V" else "pat"), text)
