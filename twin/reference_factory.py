"""The reference integration as the twin builds it: configured from the network's governed reference
data (the crosswalk a real network's MDM would hold) and released on the schedules of the scenario's
integration design. The default ``IntegrationFactory`` of ``twin.sim``; a user's factory replaces it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twin.integration.contract import Integration
from twin.integration.crosswalk import Crosswalk
from twin.integration.designs import design_named
from twin.integration.reference import ReferenceConfig, ReferenceIntegration
from twin.integration.reporting import ReportingConfig
from twin.network import business_office, inventory_location
from twin.workforce import org_unit_crosswalk

if TYPE_CHECKING:
    from twin.sim import Twin


def reference_integration(twin: Twin) -> Integration:
    """The reference integration, configured from the network's governed reference data and released
    on the schedules of the scenario's integration design (``integration.design``)."""
    network = twin.network
    crosswalk = Crosswalk(
        departments=network.department_crosswalk(),
        payers=network.payer_crosswalk(),
        business_offices={h.code: business_office(h) for h in network.hospitals},
        items=network.published_item_crosswalk(),
        locations=network.location_crosswalk(),
        org_units=org_unit_crosswalk(network),
    )
    for hospital in network.hospitals:  # a hospital joining later is onboarded by governance then
        if hospital.joins_at > 0:
            for domain, code, _target in network.onboarding(hospital):
                crosswalk.forget(domain, code)
    return ReferenceIntegration(
        ReferenceConfig(
            twin.timebase,
            crosswalk,
            twin.scenario.billing.coding_deadline_hours * 60,
            labor_sync_minute_of_day=twin.scenario.labor.sync_hour * 60,
            reporting=ReportingConfig(
                tuple(h.code for h in network.hospitals),
                {inventory_location(h): h.code for h in network.hospitals},
                twin.scenario.reporting.publish_hour * 60,
            ),
            release_at=design_named(twin.scenario.integration.design).release_at(twin.timebase),
        )
    )
