"""The integration under test: ``reference`` or a user's ``package.module:factory``.

A factory is the plug-in contract's entry point (``twin.domain.contract.IntegrationFactory``):
it gets the ``RunContext`` of one run - the reference data governance had published, the
scenario, the timebase, the random streams - and returns an object implementing
``twin.domain.contract.Integration``. ``--sut`` names it the way ``python -m`` and WSGI servers
name things: a module path, a colon, an attribute. The current working directory is put on
``sys.path`` first (as ``python -m`` does), so a team runs ``twin run --sut mypkg.integration:factory``
or ``twin conform --sut ...`` from its repository root without installing its package.

``simulate`` is how the conformance runner runs a scenario through a ``Sut``: the simulated
driver, handed to it so that the conformance kit depends on no driver itself.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback

from twin.domain.contract import Sut
from twin.observe.view import RunResult
from twin.reference_factory import REFERENCE, reference_integration
from twin.scenario import Scenario


class SutError(Exception):
    """A ``--sut`` that cannot be loaded; the message says what was tried and what is expected."""


def load_sut(spec: str) -> Sut:
    """``reference`` or ``package.module:factory`` -> the factory, imported from the working directory too."""
    if spec == REFERENCE:
        return Sut(REFERENCE, reference_integration)
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise SutError(
            f"--sut {spec!r} is neither 'reference' nor 'package.module:factory' "
            "(a module path, a colon, the name of a function that takes the run context and returns an Integration)"
        )
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # as ``python -m`` does: the team's own package, from its checkout
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SutError(
            f"--sut {spec!r}: cannot import module {module_name!r} ({exc}); run from the folder that holds "
            "the package, or install it"
        ) from None
    except Exception as exc:  # the user's module fails as it is imported: say where, not a traceback
        raise SutError(f"--sut {spec!r}: importing {module_name!r} failed: {_where(exc)}") from None
    factory = getattr(module, attribute, None)
    if factory is None:
        raise SutError(f"--sut {spec!r}: module {module_name!r} has no attribute {attribute!r}")
    if not callable(factory):
        raise SutError(f"--sut {spec!r}: {attribute!r} is not callable; expected a factory(context) -> Integration")
    try:
        inspect.signature(factory).bind(object())
    except TypeError:
        raise SutError(
            f"--sut {spec!r}: {attribute!r} must take exactly one argument, the run context "
            "(twin.domain.contract.RunContext)"
        ) from None
    except ValueError:
        pass  # a builtin or C callable without a signature: trust it
    return Sut(spec, factory)


def _where(exc: Exception) -> str:
    """``exc`` with the file and line it was raised at (a syntax error's own, else the innermost frame)."""
    if isinstance(exc, SyntaxError):
        return f"{exc.msg} at {exc.filename}, line {exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" at {frames[-1].filename}, line {frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{place}"


def simulate(scenario: Scenario, sut: Sut) -> RunResult:
    """Run ``scenario`` through ``sut`` in simulated time, keeping the HL7 traffic for the judge."""
    from twin.sim import run

    return run(scenario, integration=sut.factory, keep_traffic=True, name=sut.name)
