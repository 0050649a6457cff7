"""Planted weaknesses, caught end to end: the reference integration with one guarantee switched off,
run through faults that need it, and the checker's verdict on the targets.

Each test runs the same small network twice - the reference integration as shipped, then the same
integration with idempotency, retries or ordering switched off - under the fault that guarantee
answers. The shipped one must stay in sync; the weakened one must show the difference class the
missing guarantee lets through (duplicates, losses, misordering), so the checker is proven to see it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from tests.conftest import small_scenario
from twin.domain.contract import Integration, RunContext
from twin.integration.reference import ReferenceIntegration
from twin.sim import RunResult, Twin, reference_integration


def _weakened(**switches: bool) -> Any:
    """A factory for the reference integration with ``switches`` of its ``ResilienceConfig`` set."""

    def factory(context: RunContext) -> Integration:
        integration = reference_integration(context)
        assert isinstance(integration, ReferenceIntegration)
        config = integration.config
        resilience = dataclasses.replace(config.resilience, **switches)
        return ReferenceIntegration(dataclasses.replace(config, resilience=resilience), jitter=context.stream("outbox"))

    return factory


def _differences(result: RunResult, flow: str) -> Counter[str]:
    [found] = [f for f in result.flows if f.flow == flow]
    return Counter(d.kind for d in found.differences)


def _both(faults: list[dict[str, Any]], **switches: bool) -> tuple[RunResult, RunResult]:
    # no bill hold: the bill goes the moment coding completes, so an overtaken charge would miss it
    scenario = small_scenario(faults=faults, billing={"bill_hold_hours": 0})
    return Twin(scenario).run(), Twin(scenario, _weakened(**switches)).run()


def test_without_idempotency_lost_answers_become_double_postings() -> None:
    faults = [{"kind": "lost_response", "system": "erp", "rate": 0.1}]
    shipped, weakened = _both(faults, idempotency=False)
    assert _differences(shipped, "discharge_billing")["duplicated"] == 0
    assert _differences(weakened, "discharge_billing")["duplicated"] > 0


def test_without_retries_an_outage_loses_postings() -> None:
    faults = [{"kind": "outage", "system": "erp", "daily": "09:00-11:00"}]
    shipped, weakened = _both(faults, retries=False)
    assert _differences(shipped, "discharge_billing")["lost"] == 0
    assert _differences(weakened, "discharge_billing")["lost"] > 0


def test_without_ordering_a_final_coding_that_overtakes_its_last_charge_bills_short() -> None:
    # the coder's added charge and the final coding leave the EHR moments apart; the transport swaps them
    faults = [{"kind": "reorder", "source": "ehr", "rate": 0.3}]
    shipped, weakened = _both(faults, ordering=False)
    assert not _differences(shipped, "discharge_billing")
    # billed short of the coder's charge, then adjusted: the bill went out before what it had to include
    assert _differences(weakened, "discharge_billing")["out_of_order"] > 0
