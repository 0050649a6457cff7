"""The mock systems of one run, built from the network's master data.

Each system is a sans-IO object (``mocks/``); this module only decides how each is configured
from the network (the ERP's chart of cost centers and item master, the clearinghouse's payer
list, the vendors' lead times) and which targets an integration may call by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mocks.ehr.ehr import Ehr
from mocks.ehr.reporting import EhrReporting
from mocks.erp.erp import Erp
from mocks.erp.finance import ErpFinance
from mocks.erp.supply_chain import ErpSupplyChain, ItemMaster, StockPolicy
from mocks.hcm.hcm import Hcm, OrgUnit
from mocks.saas.clearinghouse import Clearinghouse
from mocks.saas.dashboard import Dashboard
from mocks.saas.vendor import VendorPortal
from twin.domain.accounts import DRUG_EXPENSE, SUPPLY_EXPENSE
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SupplyItem
from twin.domain.timebase import Timebase
from twin.network import Network, stock_policies
from twin.scenario import Scenario
from twin.workflows.coding import DIAGNOSIS_TEXT, DRG_TEXT
from twin.workforce import build_roster, staffed_departments

Handler = Callable[[TargetRequest, float], TargetResponse]


@dataclass(slots=True)
class Systems:
    """The source and target systems of one run."""

    ehr: Ehr
    erp: Erp
    clearinghouse: Clearinghouse
    vendor: VendorPortal
    hcm: Hcm
    dashboard: Dashboard = field(default_factory=Dashboard)  # executive KPIs (BI SaaS)
    targets: dict[str, Handler] = field(default_factory=dict)  # system name -> request handler

    def __post_init__(self) -> None:
        self.targets.update(
            {"erp": self.erp.handle, "clearinghouse": self.clearinghouse.handle, "vendor": self.vendor.handle}
        )
        self.targets["hcm"] = self.hcm.handle
        self.targets["dashboard"] = self.dashboard.handle
        self.targets["ehr"] = EhrReporting(self.ehr).handle  # the EHR's reporting extract (GET only)


def build_systems(network: Network, scenario: Scenario, timebase: Timebase) -> Systems:
    ehr = Ehr(timebase, network.hospitals, network.chargemaster, DIAGNOSIS_TEXT, DRG_TEXT, network.payers)
    clearinghouse = Clearinghouse(tuple(p.clearinghouse_id for p in network.payers if p.clearinghouse_id))
    vendor = VendorPortal({v.vendor_id: v.lead_time_days for v in network.vendors})
    return Systems(ehr, build_erp(network, scenario, timebase), clearinghouse, vendor, build_hcm(network, scenario))


def build_hcm(network: Network, scenario: Scenario) -> Hcm:
    """The HCM with the network's roster and the org units of the departments that have staff."""
    org_units = [
        OrgUnit(department.org_unit, department.name, hospital.code)
        for hospital in network.hospitals
        for department in staffed_departments(hospital)
    ]
    return Hcm(build_roster(network, scenario), org_units)


def build_erp(network: Network, scenario: Scenario, timebase: Timebase) -> Erp:
    """The ERP with its chart of cost centers, item master, stock policies and opening stock at par.

    Items the network marks as missing from the ERP item master are left out: the storeroom
    holds them, the ERP does not know them until a data steward sets them up (``item_setup``).
    """
    finance = ErpFinance(timebase, network.cost_centers)
    present = [i for i in network.supply_items if i.ehr_code not in network.missing_items]
    items = tuple(item_master(i) for i in present)
    known = {i.erp_item for i in present}
    policies = {key: value for key, value in stock_policies(network, scenario).items() if key[1] in known}
    supply = ErpSupplyChain(
        finance,
        items,
        {key: StockPolicy(*value) for key, value in policies.items()},
        {key: par for key, (_reorder, par) in policies.items()},
    )
    return Erp(finance, supply)


def item_master(item: SupplyItem) -> ItemMaster:
    """The ERP's item master record of a supply: drugs cost to pharmaceutical expense."""
    account = DRUG_EXPENSE if item.kind == "drug" else SUPPLY_EXPENSE
    return ItemMaster(item.erp_item, item.description, item.vendor, item.unit_cost, account)


def item_setup(
    network: Network, scenario: Scenario, ehr_code: str
) -> tuple[ItemMaster, dict[tuple[str, str], StockPolicy], dict[tuple[str, str], int]]:
    """What materials management enters to set up a missing item: master record, policies, opening stock."""
    item = next(i for i in network.supply_items if i.ehr_code == ehr_code)
    policies = {key: value for key, value in stock_policies(network, scenario).items() if key[1] == item.erp_item}
    return (
        item_master(item),
        {key: StockPolicy(*value) for key, value in policies.items()},
        {key: par for key, (_reorder, par) in policies.items()},
    )
