"""The shared step library: Given (shape the scenario), When (run it), Then (judge it).

Feature files anywhere use these steps and nothing else (``twin conform --features DIR``); the
vocabulary with an example per step is ``twin conform --list-steps``. ``STEP_MODULES`` are the
modules the runner registers as pytest plugins, which makes their steps and the ``conformance``
fixture visible to every feature file it binds.
"""

from __future__ import annotations

STEP_MODULES = (
    "twin.conformance.steps.fixtures",
    "twin.conformance.steps.given",
    "twin.conformance.steps.when",
    "twin.conformance.steps.then",
    "twin.conformance.steps.registration",
)
