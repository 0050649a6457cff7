"""The reference integration as the twin builds it: configured from the reference data governance had
published at go-live (the crosswalk a real network's MDM would hold) and released on the schedules of the
scenario's integration design. It is an ``IntegrationFactory`` like any user's: it gets a ``RunContext``.
"""

from __future__ import annotations

from twin.domain.contract import Integration, RunContext
from twin.integration.crosswalk import Crosswalk
from twin.integration.designs import design_named
from twin.integration.reference import ReferenceConfig, ReferenceIntegration
from twin.integration.reporting import ReportingConfig

REFERENCE = "reference"


def reference_integration(context: RunContext) -> Integration:
    """The reference integration, configured from the run's reference data and released on the
    schedules of the scenario's integration design (``integration.design``)."""
    reference, scenario = context.reference, context.scenario
    crosswalk = Crosswalk(
        departments=dict(reference.departments),
        payers=dict(reference.payers),
        business_offices=dict(reference.business_offices),
        items=dict(reference.items),
        locations=dict(reference.locations),
        org_units=dict(reference.org_units),
    )
    return ReferenceIntegration(
        ReferenceConfig(
            context.timebase,
            crosswalk,
            scenario.billing.coding_deadline_hours * 60,
            labor_sync_minute_of_day=scenario.labor.sync_hour * 60,
            reporting=ReportingConfig(
                tuple(h.code for h in reference.hospitals),
                {
                    location: h.code
                    for h in reference.hospitals
                    for location in (h.inventory_location, h.pharmacy_location)
                    if location
                },
                scenario.reporting.publish_hour * 60,
            ),
            release_at=design_named(scenario.integration.design).release_at(context.timebase),
            bill_hold_minutes=scenario.billing.bill_hold_hours * 60,
        ),
        jitter=context.stream("outbox"),
    )
