"""Schemathesis against a served app's OpenAPI document: bounded, deterministic, every failure kept.

The live tests fuzz apps that answer on a real socket. What they share is here: run the cases of
every operation (positive and negative data, plus any strategies the test adds, e.g. a body the
system accepts so the success answers are checked too), collect each failure as text instead of
stopping at the first, and count the statuses each operation answered, so a test can assert the
fuzzing reached what it claims to check rather than passing on refusals alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
Extra = Callable[[Any], Sequence[SearchStrategy[Any]]]  # an operation -> strategies beyond the generated ones


def fuzz(url: str, headers: dict[str, str], *, examples: int, extra: Extra | None = None,
         checks: Sequence[Any] = CHECKS) -> tuple[list[str], dict[str, Counter[int]]]:  # fmt: skip
    """Every operation of ``url``'s ``/openapi.json``: ``examples`` positive and negative cases,
    and the cases of ``extra(operation)``. Returns the failures and the statuses each operation
    answered (keyed by its label, e.g. ``POST /kpis``)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # an operation the document does not describe well enough to call
            failures.append(f"unusable operation: {result.err()}")
            continue
        operation = result.ok()
        seen = statuses.setdefault(operation.label, Counter())
        strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
        strategies += extra(operation) if extra is not None else []
        for strategy in strategies:
            try:
                run_cases(strategy, headers, seen, examples, checks)
            except Unsatisfiable:
                pass  # no negative case exists for an operation without parameters
            except (Exception, BaseExceptionGroup) as failure:  # schemathesis reports checks as a group
                found = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
                failures.append(f"{operation.label}: {', '.join(type(f).__name__ for f in found)}: {failure}")
    return failures, statuses


def run_cases(strategy: SearchStrategy[Any], headers: dict[str, str], seen: Counter[int], examples: int,
              checks: Sequence[Any]) -> None:  # fmt: skip
    """Call and check ``examples`` cases of ``strategy`` (deterministic; no shrinking, to bound the time).

    Each case on a connection of its own: ``twin.live.serving`` leaves Nagle on for the connections
    it accepts, so a kept-alive connection waits out the client's delayed ACK (~40 ms) per request."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def call(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=list(checks))
        seen[response.status_code] += 1

    call()


def succeeded(statuses: dict[str, Counter[int]]) -> set[str]:
    """The operations that answered at least one 2xx."""
    return {label for label, seen in statuses.items() if any(200 <= status < 300 for status in seen)}
