"""The ERP's recurring accruals: the operating expense the twin does not simulate event by event.

A hospital's expense is mostly labor and supplies, which the twin derives from staffing and
surgical usage; the rest (physicians, administration, drugs, purchased services, depreciation)
finance books as a recurring accrual. Posting it makes the ERP ledger complete enough for the
expense shares a CFO reads (and ``twin run --calibration`` compares with published ranges).
Finance posts it in the ERP itself at the end of each day: no integration is involved.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from mocks.erp.finance import ErpFinance
from twin.domain.accounts import ACCRUED_EXPENSES, OTHER_EXPENSE, RECURRING_ACCRUAL
from twin.network import Network, business_office
from twin.scenario import Scenario

DAY = 1440.0
POST_AT = DAY - 1  # 23:59, after the day's activity


def post_daily_accruals(
    env: simpy.Environment, finance: ErpFinance, network: Network, scenario: Scenario, clock_offset: float
) -> Generator[simpy.Event, None, None]:
    """Every day of the workload at 23:59: other operating expense per hospital (beds x rate)."""
    rate = round(scenario.finance.other_expense_per_bed_day * 100)
    yield env.timeout((POST_AT - clock_offset) % DAY)
    while env.now < scenario.days * DAY:
        day = finance.timebase.day(env.now).isoformat()
        for hospital in network.hospitals:
            amount = hospital.beds * rate
            center = business_office(hospital)
            finance.post_internal(
                reference=f"accrual:{hospital.code}:{day}",
                source=RECURRING_ACCRUAL,
                now=env.now,
                lines=(
                    (OTHER_EXPENSE, center, amount, 0),
                    (ACCRUED_EXPENSES, center, 0, amount),
                ),
            )
        yield env.timeout(DAY)
