"""The simulated driver: SimPy clock, in-process delivery, deterministic for a seed.

``run(scenario, integration=factory)`` simulates one scenario through an integration under test
and returns a ``RunResult``: the ``RunView`` the judge read and every flow's verdict. ``Twin`` is
the run itself, for callers that want to look at the world while it runs (tests, benchmarks).
"""

from twin.observe.view import RunResult, RunView
from twin.reference_factory import reference_integration
from twin.sim.driver import Progress, Twin, run

__all__ = ["Progress", "RunResult", "RunView", "Twin", "reference_integration", "run"]
