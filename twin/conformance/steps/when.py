"""When steps: run the scenario the Given steps built through the integration under test.

There is one thing to do - simulate the network with the integration selected by ``--sut`` in
the middle, let in-flight work settle, and check every target - so there are few When steps;
they differ only in the words a feature prefers. The run happens in simulated time and is
deterministic for the scenario and seed, so an identical run earlier in the session is reused.
"""

from __future__ import annotations

from twin.conformance.context import ScenarioUnderTest
from twin.conformance.judge_faults import fault_summary
from twin.conformance.steps.vocabulary import when


def _run(conformance: ScenarioUnderTest) -> None:
    conformance.run()
    conformance.attach(fault_summary(conformance))  # what the run was, and what it injected


@when("the integration under test runs the network", "the integration under test runs the network")
def run_network(conformance: ScenarioUnderTest) -> None:
    """Simulate the scenario with the integration under test between the sources and the targets,
    let the work settle (coding, syncs, retries, replays), and check what every target holds."""
    _run(conformance)


@when(
    "the integration under test runs the network for {days:Number} day(s)",
    "the integration under test runs the network for 3 days",
)
def run_network_for(conformance: ScenarioUnderTest, days: float) -> None:
    """As "the integration under test runs the network", with that many days of patient activity."""
    conformance.set("days", days)
    _run(conformance)
