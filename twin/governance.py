"""Master-data governance knowledge: which problem an exception points at, and what fixes it.

The network's master data (``twin.network``) is the governed truth; this module answers the two
questions both the data steward (a workflow) and the master-data oracle (``twin.observe``) ask,
so they cannot disagree: *which master-data problem does an exception name?* and *which
crosswalk entries, published at a given moment, fix it?*
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from twin.domain.contract import HospitalReference, ReferenceData
from twin.domain.model import Department
from twin.network import Network, business_office, inventory_location, pharmacy_location
from twin.workforce import org_unit_crosswalk

Problem = tuple[str, str]  # ("retired", cost center) | (domain, code)
T = TypeVar("T")


def problem_of(network: Network, domain: str, code: str) -> Problem:
    """The master-data problem an exception points at: a retired cost center behind a department
    or org unit code, or the (code set, code) itself."""
    retirement = network.retirement
    if retirement is not None and domain in ("department", "org unit"):
        department = department_by_code(network, domain, code)
        if department is not None and department.cost_center == retirement.cost_center:
            return ("retired", retirement.cost_center)
    return (domain, code)


def department_by_code(
    network: Network, domain: str, code: str, aliases: Mapping[str, str] | None = None
) -> Department | None:
    """The department an EHR department code or an HCM org unit code stands for; ``aliases`` maps
    new EHR department codes to the department they stand for (known to governance, not yet to
    the crosswalk)."""
    if domain == "department" and aliases and code in aliases:
        code = aliases[code]
    for hospital in network.hospitals:
        for department in hospital.departments:
            if (domain == "department" and department.ehr_code == code) or (
                domain == "org unit" and getattr(department, "org_unit", None) == code
            ):
                return department
    return None


def governed_mappings(
    network: Network, problem: Problem, at: float, aliases: Mapping[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """The crosswalk entries (domain, code, target) that fix ``problem`` at ``at``; empty when the
    network has no governed answer. A department alias maps where its department does (the
    replacement, if finance retired its cost center)."""
    kind, code = problem
    if kind == "retired":
        entries: list[tuple[str, str, str]] = []
        for hospital in network.hospitals:
            for department in hospital.departments:
                if department.cost_center != code:
                    continue
                target = network.governed_cost_center(department, at)
                entries.append(("department", department.ehr_code, target))
                org_unit = getattr(department, "org_unit", "")
                if org_unit:
                    entries.append(("org unit", org_unit, target))
        return entries
    if kind == "item":
        item = network.item_crosswalk().get(code)
        return [("item", code, item)] if item else []
    if kind == "location":
        location = network.location_crosswalk().get(code)
        return [("location", code, location)] if location else []
    if kind in ("department", "org unit"):
        found = department_by_code(network, kind, code, aliases)
        return [(kind, code, network.governed_cost_center(found, at))] if found else []
    return []


def published_at_go_live(network: Network) -> ReferenceData:
    """The crosswalk as governance had published it when the run starts: what any integration is
    configured with. Items the ERP lacks are not in it yet; a hospital the network acquires later
    comes in by the publications of its onboarding (``Network.onboarding``), not here."""
    later = {
        (domain, code)
        for hospital in network.hospitals
        if hospital.joins_at > 0
        for domain, code, _target in network.onboarding(hospital)
    }

    def live(domain: str, table: Mapping[str, T]) -> dict[str, T]:
        return {code: target for code, target in table.items() if (domain, code) not in later}

    return ReferenceData(
        hospitals=tuple(
            HospitalReference(
                h.code,
                h.hl7_version,
                h.joins_at,
                business_office(h),
                inventory_location(h),
                h.storeroom,
                pharmacy_location(h),
            )
            for h in network.hospitals
        ),
        departments=live("department", network.department_crosswalk()),
        payers=live("insurance plan", network.payer_crosswalk()),
        business_offices=live("facility", {h.code: business_office(h) for h in network.hospitals}),
        items=network.published_item_crosswalk(),
        locations=live("location", network.location_crosswalk()),
        org_units=live("org unit", org_unit_crosswalk(network)),
    )
