"""The ERP as one system: one API in front of finance and supply chain, sharing one ledger."""

from __future__ import annotations

from mocks.erp.finance import ErpFinance
from mocks.erp.supply_chain import ErpSupplyChain
from twin.domain.exchange import TargetRequest, TargetResponse


class Erp:
    def __init__(self, finance: ErpFinance, supply: ErpSupplyChain) -> None:
        self.finance = finance
        self.supply = supply

    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.path.startswith("/finance/"):
            return self.finance.handle(request, now)
        return self.supply.handle(request, now)
