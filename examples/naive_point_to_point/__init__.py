"""A naive point-to-point integration, for ``twin conform --sut examples.naive_point_to_point:factory``.

``factory`` is the plug-in contract's entry point: it receives the ``RunContext`` of a run and
returns the integration. A naive shop hard-codes its code mappings when it installs the interface;
here the "hard-coding" is a copy of the reference data's tables taken once, at installation, and
never updated (governance publications are ignored). See ``integration.py`` for what it does and,
mostly, does not do - the conformance suite is expected to fail it, with evidence.
"""

from __future__ import annotations

from examples.naive_point_to_point.integration import Mappings, NaivePointToPoint
from twin.domain.contract import RunContext

__all__ = ["Mappings", "NaivePointToPoint", "factory"]


def factory(context: RunContext) -> NaivePointToPoint:
    """Install the naive interface for this network: copy its code tables, read its clock base."""
    reference = context.reference
    mappings = Mappings(
        cost_centers=dict(reference.departments),
        payers=dict(reference.payers),
        business_offices=dict(reference.business_offices),
        items=dict(reference.items),
        storerooms=dict(reference.locations),
        org_units=dict(reference.org_units),
    )
    return NaivePointToPoint(mappings, context.timebase)
