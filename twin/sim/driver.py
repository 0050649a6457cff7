"""The simulated driver: the world, the integration under test and the targets on one SimPy clock.

It builds one run from a scenario - the network's master data, the mock systems, the truth
ledger, the workflows that make things happen (patients, surgery, staffing, receiving, counting,
governance, support) and the transport between the systems - hands the integration factory a
``RunContext`` (never itself), runs the workload, lets in-flight work settle, and hands the judge
a ``RunView`` of the finished run. Deterministic for the scenario and seed: every random stream
comes from ``RandomStreams``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Generator

import simpy

from twin.domain.contract import Integration, IntegrationFactory
from twin.observe.checker import FlowResult
from twin.observe.flows import check_all
from twin.observe.view import RunResult, RunView
from twin.reference_factory import REFERENCE, reference_integration
from twin.scenario import Scenario
from twin.sim.fault_transport import FaultTransport
from twin.sim.transport import Transport
from twin.world import World, seen

Progress = Callable[[float, float], None]  # (simulated minutes done, minutes in the workload)


class Twin(World):
    """One simulated run: the world (``twin.world``), the integration under test and the targets on one clock."""

    def __init__(
        self,
        scenario: Scenario,
        integration: IntegrationFactory = reference_integration,
        *,
        keep_traffic: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(scenario)
        self.name = name or (REFERENCE if integration is reference_integration else _factory_name(integration))
        self.integration: Integration = integration(self.context)
        hospitals = [h.code for h in self.network.hospitals]
        latency = (scenario.transport.latency_ms.min, scenario.transport.latency_ms.max)
        transport_rng = self.streams.stream("transport")
        self.transport: Transport
        if self.fault_plan is None:
            self.transport = Transport(
                self.clock, self.integration, self.systems.targets, hospitals, latency, transport_rng,
                keep_traffic=keep_traffic,
            )  # fmt: skip
        else:
            self.transport = FaultTransport(
                self.clock, self.integration, self.systems.targets, hospitals, latency, transport_rng,
                self.fault_plan, scenario.operations, self.witness, keep_traffic=keep_traffic,
            )  # fmt: skip
        self.wire = self.transport
        self.transport.on_handled = self.handled
        self.build_support(self.integration, self.transport.apply, getattr(self.transport, "spoiled_delivered", None))
        self.build_workflows(self.integration)

    # -- running -------------------------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> RunResult:
        """Run the workload for the scenario's days, then let in-flight work settle, then check."""
        started = time.perf_counter()
        clock = self.clock
        workload = self.workload
        self.begin()
        if progress is not None:
            clock.process(self._report_progress(progress, workload))
        # A run keeps millions of small objects alive (truth, records, charts) and makes almost no
        # cyclic garbage (reference counting frees the rest): the cyclic collector would rescan the
        # whole heap again and again for nothing. It is off for the run and back on afterwards.
        collecting = gc.isenabled()
        gc.disable()
        try:
            clock.run(until=workload)
            simulated = time.perf_counter()
            horizon = self.settle()
            settled = time.perf_counter()
            view = self.view_at(horizon)
            flows = check_all(view)
            judged = time.perf_counter()
        finally:
            if collecting:
                gc.enable()
        if progress is not None:
            progress(workload, workload)
        phases = {"simulate": simulated - started, "settle": settled - simulated, "judge": judged - settled}
        return RunResult(view, flows, judged - started, len(self.transport.records), phases)

    def begin(self) -> None:
        """Start the workflows and switch the integration on, without running the clock: ``run``
        does this first; a test or the scenario probe then steps ``clock`` itself and judges the run
        at cuts (``check``)."""
        self.start(lambda: self.transport.apply(self.integration.start(self.clock.now)))

    def settle(self) -> float:
        """Run until the world is done (stays end, coding completes, the integration catches up) and
        return the horizon, ERP on-hand snapshotted there as at every quiet point."""
        self.clock.run()
        horizon = self.clock.horizon()
        self.snapshots.append((horizon, dict(self.erp.supply.on_hand)))
        return horizon

    def view_at(self, horizon: float, *, settled: bool = True) -> RunView:
        """The run as the judge reads it (``twin.observe.view``): finished, or cut at ``horizon``
        before it settled (what is in flight there may still land)."""
        health = getattr(self.integration, "health", None)
        integration = seen(
            self.name,
            self.integration.exceptions(),
            self.integration.dead_letters(),
            health() if callable(health) else None,
        )
        stats = self.transport.stats if isinstance(self.transport, FaultTransport) else None
        transport = self.transport
        return self.view(
            horizon, integration, transport.records, transport.traffic, transport.counts, stats, settled=settled
        )

    def _report_progress(self, progress: Progress, workload: float) -> Generator[simpy.Event, None, None]:
        step = 60.0
        while self.clock.now < workload:
            progress(self.clock.now, workload)
            yield self.clock.timeout(min(step, workload - self.clock.now))

    def check(self, horizon: float) -> list[FlowResult]:
        """Every flow's verdict on the run as it stands at ``horizon``: tests judge mid-run states
        as a live run cut there is judged (nothing in flight is lost yet) until the run has settled."""
        return check_all(self.view_at(horizon, settled=self.clock.quiet_since is not None))


def _factory_name(factory: IntegrationFactory) -> str:
    module = getattr(factory, "__module__", "") or ""
    name = getattr(factory, "__qualname__", "") or getattr(factory, "__name__", "") or type(factory).__name__
    return f"{module}:{name}" if module else name


def run(
    scenario: Scenario,
    *,
    progress: Progress | None = None,
    keep_traffic: bool = True,
    integration: IntegrationFactory = reference_integration,
    name: str | None = None,
) -> RunResult:
    """Run ``scenario`` through ``integration`` in simulated time and check the targets."""
    return Twin(scenario, integration, keep_traffic=keep_traffic, name=name).run(progress)
