"""Stable pseudonyms for identifiers that may appear in logs and reports.

Reports must let a person follow one encounter across tables without ever printing its real
identifier, so the same identifier always maps to the same short token.
"""

from __future__ import annotations

import hashlib

_SALT = b"integration-twin/pseudonym/v1"


def pseudonym(identifier: str, prefix: str = "enc") -> str:
    """A stable, non-reversible token for ``identifier`` such as ``enc-3f9a1c2b``."""
    digest = hashlib.blake2b(identifier.encode(), key=_SALT, digest_size=4).hexdigest()
    return f"{prefix}-{digest}"
