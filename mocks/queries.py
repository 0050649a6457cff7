"""Reporting queries the mock systems answer (``GET``, the body as query): their window bounds and
dates checked once, for every system, so a caller's bad bound is a 422 naming it, never a crash of
the run. Sans-IO."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

from twin.domain.exchange import TargetResponse


class BadQuery(ValueError):
    """A reporting query the system cannot answer (a bound that is not a number): answered 422."""


def window_bounds(query: dict[str, Any], low: str, high: str) -> tuple[float | None, float | None]:
    """The query's ``low``/``high`` bounds as simulated minutes (``None``: open)."""
    return _minutes(query, low), _minutes(query, high)


def _minutes(query: dict[str, Any], name: str) -> float | None:
    value = query.get(name)
    if value is None:
        return None
    if not isinstance(value, bool) and isinstance(value, int | float | str):
        try:
            minutes = float(value)
        except (ValueError, OverflowError):  # not a number; an integer beyond any float
            pass
        else:
            if not math.isnan(minutes):  # NaN orders before and after everything: no window at all
                return minutes
    raise BadQuery(f"{name} must be a number of simulated minutes, got {value!r}")


def iso_day(value: Any) -> str | None:
    """``value`` if it is a date as ``YYYY-MM-DD``, else ``None``.

    Days are keys (a work date's timecards, a KPI's period), compared as text: ``20260105`` is the
    same day to ``date.fromisoformat`` but another key, so only the one spelling is a day here."""
    if not isinstance(value, str):
        return None
    try:
        return value if date.fromisoformat(value).isoformat() == value else None
    except ValueError:
        return None


def answer_query(query: Callable[[], dict[str, Any]]) -> TargetResponse:
    """A reporting query's answer: 200 with the rows, or 422 naming the bad bound."""
    try:
        return TargetResponse(200, query())
    except BadQuery as bad:
        return TargetResponse(422, {"errors": [str(bad)]})
