"""Reporting queries the mock systems answer (``GET``, the body as query): their window bounds
checked once, for every system, so a caller's bad bound is a 422 naming it, never a crash of the run.
Sans-IO."""

from __future__ import annotations

from collections.abc import Callable
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
            return float(value)
        except ValueError:
            pass
    raise BadQuery(f"{name} must be a number of simulated minutes, got {value!r}")


def answer_query(query: Callable[[], dict[str, Any]]) -> TargetResponse:
    """A reporting query's answer: 200 with the rows, or 422 naming the bad bound."""
    try:
        return TargetResponse(200, query())
    except BadQuery as bad:
        return TargetResponse(422, {"errors": [str(bad)]})
