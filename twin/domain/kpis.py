"""The executive KPI catalog: names, units and the scope each KPI is reported per.

One vocabulary for the three parties that must agree on it: the dashboard (which refuses a KPI it
does not define), the KPI service that computes them from the target systems, and the oracle
that recomputes them from the truth. Money is integer cents (means of cents are floats), times
are days, shares are fractions of one.
"""

from __future__ import annotations

from typing import NamedTuple


class KpiDefinition(NamedTuple):
    name: str
    unit: str
    scope: str  # what ``scope`` names: "hospital" code, "service line" or "nursing" cost center
    definition: str


KPI_DEFINITIONS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "dnfb_amount",
        "USD cents",
        "hospital",
        "gross charges (net of corrections) posted before midnight ending day D, of encounters discharged "
        "before that midnight with no receivable posted before it",
    ),
    KpiDefinition(
        "days_to_bill",
        "days",
        "hospital",
        "mean days from discharge to claim acceptance, over the claims the clearinghouse accepted during D",
    ),
    KpiDefinition(
        "stock_outs",
        "count",
        "hospital",
        "inventory issues posted during D that left the ERP's on-hand of their item-location below zero",
    ),
    KpiDefinition(
        "stock_accuracy",
        "share",
        "hospital",
        "share of the cycle counts entered during D whose counted quantity equals the ERP's on-hand",
    ),
    KpiDefinition(
        "supply_cost_per_case",
        "USD cents per case",
        "service line",
        "supply cost issued during D to a service line's cost center, per surgical case it was issued for",
    ),
    KpiDefinition(
        "labor_cost_per_patient_day",
        "USD cents per patient day",
        "nursing",
        "labor cost allocated to a nursing cost center for work date D, per patient day of D there",
    ),
)
KPI_UNITS: dict[str, str] = {kpi.name: kpi.unit for kpi in KPI_DEFINITIONS}


def kpi_key(kpi: str, scope: str, period: str) -> str:
    """The business key of one KPI value: one value per KPI, scope and period (ISO date)."""
    return f"{kpi}/{scope}/{period}"
