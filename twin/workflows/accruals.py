"""The ERP's recurring accruals: the operating expense the twin does not simulate event by event.

A hospital's expense is mostly labor, supplies and drugs, which the twin derives from staffing and
from what the storeroom and the pharmacy issue; the rest finance books as recurring accruals:
purchased services and professional fees (contract labor, physicians' fees, outsourced services)
and everything else (administration, utilities, insurance, depreciation). Posting them makes the
ERP ledger complete enough for the expense shares a CFO reads (and ``twin run --calibration``
compares with published ranges). Finance posts them in the ERP itself at the end of each day: no
integration is involved.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from mocks.erp.finance import ErpFinance
from twin.domain.accounts import ACCRUED_EXPENSES, OTHER_EXPENSE, PURCHASED_SERVICES, RECURRING_ACCRUAL
from twin.network import Network, business_office
from twin.scenario import Scenario

DAY = 1440.0
POST_AT = DAY - 1  # 23:59, after the day's activity


def post_daily_accruals(
    env: simpy.Environment, finance: ErpFinance, network: Network, scenario: Scenario, clock_offset: float
) -> Generator[simpy.Event, None, None]:
    """Every day of the workload at 23:59: purchased services and other operating expense per hospital
    (beds x rate), one journal each."""
    spec = scenario.finance
    rates = (
        (PURCHASED_SERVICES, "services", round(spec.purchased_services_per_bed_day * 100)),
        (OTHER_EXPENSE, "accrual", round(spec.other_expense_per_bed_day * 100)),
    )
    yield env.timeout((POST_AT - clock_offset) % DAY)
    while env.now < scenario.days * DAY:
        day = finance.timebase.day(env.now).isoformat()
        for hospital in network.hospitals:
            center = business_office(hospital)
            for account, name, rate in rates:
                if rate <= 0:
                    continue
                amount = hospital.beds * rate
                finance.post_internal(
                    reference=f"{name}:{hospital.code}:{day}",
                    source=RECURRING_ACCRUAL,
                    now=env.now,
                    lines=((account, center, amount, 0), (ACCRUED_EXPENSES, center, 0, amount)),
                )
        yield env.timeout(DAY)
