"""How steps are declared: pytest-bdd's ``given``/``when``/``then`` plus an example, kept in a list.

Every step of the library is declared with ``given(pattern, example)`` (or ``when``/``then``)
from here instead of pytest-bdd directly. The pattern is compiled with ``parsers.parse`` and the
library's typed parsers (``TYPES``); the example is a line a feature may write, which
``twin conform --list-steps`` prints beside the docstring and which a test matches against its
own pattern, so the documented vocabulary cannot drift from what actually parses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, ParamSpec, TypeVar

import pytest_bdd
from pytest_bdd import parsers

from twin.conformance.steps.parsers import TYPES

P = ParamSpec("P")
R = TypeVar("R")
StepKind = Literal["given", "when", "then"]


@dataclass(frozen=True, slots=True)
class StepDoc:
    """One step of the vocabulary, as ``--list-steps`` shows it."""

    kind: StepKind
    pattern: str
    example: str
    doc: str
    parser: parsers.parse

    def matches(self, text: str) -> bool:
        return self.parser.is_matching(text)


VOCABULARY: list[StepDoc] = []

_DECORATORS = {"given": pytest_bdd.given, "when": pytest_bdd.when, "then": pytest_bdd.then}


def compile_pattern(pattern: str) -> parsers.parse:
    """``pattern`` as a pytest-bdd parser with the library's types; ``(s)`` is an optional plural."""
    pieces = pattern.split("(s)")
    text = "".join(piece + (f"{{plural_{n}:Plural}}" if n < len(pieces) - 1 else "") for n, piece in enumerate(pieces))
    return parsers.parse(text, extra_types=TYPES)


def _declare(kind: StepKind, pattern: str, example: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    parser = compile_pattern(pattern)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        doc = " ".join((func.__doc__ or "").split())
        VOCABULARY.append(StepDoc(kind, pattern, example, doc, parser))
        # stacklevel 2: pytest-bdd puts the step's fixture into the module that called us
        return _DECORATORS[kind](parser, stacklevel=2)(func)

    return decorate


def given(pattern: str, example: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    return _declare("given", pattern, example)


def when(pattern: str, example: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    return _declare("when", pattern, example)


def then(pattern: str, example: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    return _declare("then", pattern, example)
