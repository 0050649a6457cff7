"""Reason codes: why work stopped, as exceptions and the target systems' refusals name it.

An exception an integration raises carries a machine-readable ``reason_code`` that a work queue
routes by and the judge expects by; a refusal from the ERP names what an integration can act on
(``problems``). Both sides of the contract read the same codes from here.
"""

from __future__ import annotations

# Exceptions an integration raises (``IntegrationException.reason_code``).
CODING_OVERDUE = "coding_overdue"  # an encounter still uncoded at the coding deadline
LATE_CHARGE = "late_charge"  # a charge arrived after its encounter was billed
CHARGE_INVALID = "charge_invalid"
RETIRED_COST_CENTER = "retired_cost_center"  # the ERP refused a cost center finance retired
UNKNOWN_COST_CENTER = "unknown_cost_center"
ERP_REJECTED = "erp_rejected"
CLAIM_REJECTED = "claim_rejected"
VENDOR_REJECTED = "vendor_rejected"
DASHBOARD_REJECTED = "dashboard_rejected"
UNKNOWN_DOCUMENT = "unknown_document"
SOURCE_UNAVAILABLE = "source_unavailable"
VALIDATION_UNAVAILABLE = "validation_unavailable"
HCM_UNAVAILABLE = "hcm_unavailable"
LATE_CENSUS = "late_census"

# What the ERP names in a refusal's ``problems`` (``{"code": ..., "cost_center": ...}``).
INACTIVE_COST_CENTER_PROBLEM = "inactive_cost_center"
UNKNOWN_COST_CENTER_PROBLEM = "unknown_cost_center"
COST_CENTER_PROBLEMS = (INACTIVE_COST_CENTER_PROBLEM, UNKNOWN_COST_CENTER_PROBLEM)


def unmapped(domain: str) -> str:
    """The reason code of a code the crosswalk has no entry for: ``unmapped_insurance_plan``, ..."""
    return "unmapped_" + domain.replace(" ", "_")


def refused_cost_center(problem: str) -> str:
    """The exception's reason for a cost center the ERP refused (``inactive_cost_center`` ->
    ``retired_cost_center``)."""
    return RETIRED_COST_CENTER if problem == INACTIVE_COST_CENTER_PROBLEM else UNKNOWN_COST_CENTER
