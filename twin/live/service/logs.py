"""Structured logs for the live processes: one JSON object per line, identifiers masked.

Every record becomes ``{"ts", "level", "logger", "msg", ...extra}``; the message and every string
extra go through ``twin.domain.pseudonym.mask`` on the way out, so a visit number or an MRN that
slipped into a log line is printed as its stable pseudonym, never in clear.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from twin.domain.pseudonym import mask

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = mask(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(path: str = "", level: int = logging.INFO) -> None:
    """JSON lines to ``path`` (stderr when empty) for the ``twin`` loggers."""
    handler: logging.Handler = (
        logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonLines())
    root = logging.getLogger("twin")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
