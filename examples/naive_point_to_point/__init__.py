"""A naive point-to-point integration, for ``twin conform --sut examples.naive_point_to_point:factory``.

``factory`` is the plug-in contract's entry point: it receives the ``Twin`` of a run and returns
the integration. A naive shop hard-codes its code mappings when it installs the interface; here
the "hard-coding" is a copy of the network's crosswalk tables taken once, at installation, and
never updated (governance publications are ignored). See ``integration.py`` for what it does and,
mostly, does not do - the conformance suite is expected to fail it, with evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from examples.naive_point_to_point.integration import Mappings, NaivePointToPoint
from twin.network import business_office

if TYPE_CHECKING:
    from twin.sim import Twin

__all__ = ["Mappings", "NaivePointToPoint", "factory"]


def factory(twin: Twin) -> NaivePointToPoint:
    """Install the naive interface for this network: copy its code tables, read its clock base."""
    network = twin.network
    mappings = Mappings(
        cost_centers=dict(network.department_crosswalk()),
        payers=dict(network.payer_crosswalk()),
        business_offices={hospital.code: business_office(hospital) for hospital in network.hospitals},
        items=dict(network.published_item_crosswalk()),
        storerooms=dict(network.location_crosswalk()),
    )
    return NaivePointToPoint(mappings, twin.timebase)
