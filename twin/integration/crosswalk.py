"""The integration's governed crosswalk: how EHR codes translate into ERP and clearinghouse codes.

Master data differs between systems on purpose (as it does in real networks). An unmapped code
is never guessed or dropped: lookups raise ``Unmapped`` with a reason the exception queue shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.domain import accounts

SELF_PAY_CUSTOMER = "SELF-PAY"


class Unmapped(Exception):
    """A code the crosswalk has no governed mapping for."""

    def __init__(self, domain: str, code: str) -> None:
        super().__init__(f"no crosswalk entry for {domain} {code!r}")
        self.domain = domain
        self.code = code


@dataclass(slots=True)
class Crosswalk:
    departments: dict[str, str] = field(default_factory=dict)  # EHR department -> ERP cost center
    payers: dict[str, str | None] = field(default_factory=dict)  # EHR plan -> clearinghouse payer (None: self pay)
    business_offices: dict[str, str] = field(default_factory=dict)  # hospital -> receivables cost center
    items: dict[str, str] = field(default_factory=dict)  # EHR supply code -> ERP item number
    locations: dict[str, str] = field(default_factory=dict)  # EHR storeroom -> ERP inventory location
    org_units: dict[str, str] = field(default_factory=dict)  # HCM org unit -> ERP cost center

    def cost_center(self, department: str) -> str:
        try:
            return self.departments[department]
        except KeyError:
            raise Unmapped("department", department) from None

    def payer(self, plan_code: str) -> str | None:
        try:
            return self.payers[plan_code]
        except KeyError:
            raise Unmapped("insurance plan", plan_code) from None

    def item(self, ehr_code: str) -> str:
        try:
            return self.items[ehr_code]
        except KeyError:
            raise Unmapped("item", ehr_code) from None

    def location(self, ehr_location: str) -> str:
        try:
            return self.locations[ehr_location]
        except KeyError:
            raise Unmapped("location", ehr_location) from None

    def org_unit(self, code: str) -> str:
        """The ERP cost center an HCM org unit's labor is costed to."""
        try:
            return self.org_units[code]
        except KeyError:
            raise Unmapped("org unit", code) from None

    def publish(self, domain: str, code: str, target: str) -> bool:
        """Add or correct one governed entry (``domain`` as ``Unmapped.domain`` names it); ``False``
        when this crosswalk keeps no such code set (a mapping for someone else's flows). An
        insurance plan's target is the clearinghouse payer id, empty for self pay."""
        if domain == "insurance plan":
            self.payers[code] = target or None
            return True
        table = self._tables().get(domain)
        if table is None:
            return False
        table[code] = target
        return True

    def forget(self, domain: str, code: str) -> None:
        """Withdraw one entry (a code not yet onboarded, or retired by governance)."""
        table: dict[str, str | None] | dict[str, str] | None = (
            self.payers if domain == "insurance plan" else self._tables().get(domain)
        )
        if table is not None:
            table.pop(code, None)

    def codes_for(self, domain: str, target: str) -> list[str]:
        """Every source code of ``domain`` that maps to ``target`` (e.g. departments of a cost center)."""
        return sorted(code for code, mapped in self._tables().get(domain, {}).items() if mapped == target)

    def _tables(self) -> dict[str, dict[str, str]]:
        return {
            "department": self.departments,
            "item": self.items,
            "location": self.locations,
            "facility": self.business_offices,
            "org unit": self.org_units,
        }

    def business_office(self, hospital: str) -> str:
        try:
            return self.business_offices[hospital]
        except KeyError:
            raise Unmapped("facility", hospital) from None


def revenue_code(charge_code: str) -> str:
    """UB-04 revenue code of a chargemaster code: its prefix, zero-padded (``300-85025`` -> ``0300``)."""
    prefix = charge_code.split("-", 1)[0]
    return prefix.zfill(4) if prefix.isdigit() else ""


def revenue_account(charge_code: str) -> str:
    """GL revenue account of a chargemaster code, by its revenue code (``twin.domain.accounts``)."""
    return accounts.revenue_account(revenue_code(charge_code))
