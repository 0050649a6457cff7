"""The EHR's reporting extract (``GET /reporting/discharges``) under ADT corrections: a discharge
cancelled (A13) is no discharge until the next one, which counts with its own time; a registration
cancelled (A11) is never in the extract; and the KPI service, reading the extract with its cuts and
refreshes, picks up a visit discharged again with the new time; the KPI oracle wants a visit in a
day's DNFB exactly when its discharge stood when that day's report read the EHR."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from mocks.ehr.reporting import DISCHARGES, EhrReporting
from mocks.saas.dashboard import KpiPublication
from tests.conftest import small_scenario
from twin.domain.events import (
    AdmissionCancelled,
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    DischargeCancelled,
    PatientAdmitted,
    PatientDischarged,
)
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import Patient
from twin.domain.timebase import Timebase
from twin.integration.reporting import KpiService, ReportingConfig
from twin.observe.flows import check_all
from twin.observe.kpi import REPORTING
from twin.observe.kpi_check import kpi_truth
from twin.observe.view import RunView
from twin.scenario import Scenario
from twin.sim import Twin

TB = Timebase(datetime(2026, 1, 5))
DAY = 1440.0


class Charts:
    """A fresh EHR of the small scenario's network, with visits on H01's 4M unit."""

    def __init__(self) -> None:
        twin = Twin(small_scenario())
        self.ehr = twin.ehr
        self.payer = twin.network.payers[0]
        self.npi = twin.network.hospitals[0].providers[0].npi
        self.reporting = EhrReporting(self.ehr)

    def admit(self, visit: str, amount: int = 4500) -> None:
        mrn = visit.replace("V", "M")
        self.ehr.register_patient(Patient(mrn, "Doe", "Jo", "19700101", "F", self.payer, "1"), "H01")
        plan, financial_class = self.payer.plan_code, self.payer.financial_class
        self.ehr.record(PatientAdmitted(0.0, "H01", visit, mrn, "H01-4M", "001-A", self.npi, plan, financial_class))
        line = ChargeLine(f"{visit}-001", "300-85025", "H01-LAB", 1, amount, 10.0)
        self.ehr.record(ChargesPosted(10.0, "H01", visit, (line,)))

    def discharge(self, visit: str, at: float) -> None:
        self.ehr.record(PatientDischarged(at, "H01", visit, "H01-4M", "01"))

    def cancel_discharge(self, visit: str, at: float) -> None:
        self.ehr.record(DischargeCancelled(at, "H01", visit, "H01-4M", "001-A"))

    def extract(self, **query: Any) -> dict[str, Any]:
        response = self.reporting.handle(TargetRequest("ehr", "GET", DISCHARGES, query, ""), 0.0)
        assert response.status == 200, response.body
        return response.body

    def discharged(self, **query: Any) -> list[tuple[str, float]]:
        return [(d["visit"], d["discharged_at"]) for d in self.extract(**query)["discharges"]]


def test_a_cancelled_discharge_is_no_discharge_until_the_next_one() -> None:
    charts = Charts()
    charts.admit("H01V0000001")
    charts.discharge("H01V0000001", 600.0)
    assert charts.discharged(discharged_before=DAY) == [("H01V0000001", 600.0)]  # the extract has indexed it
    charts.cancel_discharge("H01V0000001", 700.0)
    assert charts.discharged(discharged_before=DAY) == []
    followed = charts.extract(discharged_from=DAY, discharged_before=2 * DAY, refresh={"H01V0000001": 0})
    assert followed == {"discharges": [], "not_discharged": ["H01V0000001"]}  # a follower learns to let it go
    charts.discharge("H01V0000001", DAY + 600)
    assert charts.discharged(discharged_before=DAY) == []
    assert charts.discharged(discharged_from=DAY, discharged_before=2 * DAY) == [("H01V0000001", DAY + 600)]
    assert charts.discharged(discharged_before=2 * DAY) == [("H01V0000001", DAY + 600)]
    # cancelled and discharged again between two looks: indexed at the discharge that counts
    charts.cancel_discharge("H01V0000001", DAY + 700)
    charts.discharge("H01V0000001", DAY + 800)
    assert charts.discharged(discharged_before=2 * DAY) == [("H01V0000001", DAY + 800)]
    # once coded the discharge stands, and the chart is not watched any more
    charts.ehr.record(CodingCompleted(DAY + 900, "H01", "H01V0000001", "I10", (), "", False))
    assert charts.discharged(discharged_before=2 * DAY) == [("H01V0000001", DAY + 800)]
    assert charts.reporting._watched == {}


def test_a_cancelled_registration_is_never_in_the_extract() -> None:
    charts = Charts()
    charts.admit("H01V0000001")
    charts.ehr.record(AdmissionCancelled(30.0, "H01", "H01V0000001"))
    charts.discharge("H01V0000001", 600.0)  # whatever the chart holds afterwards
    charts.admit("H01V0000002")
    charts.discharge("H01V0000002", 700.0)
    assert charts.discharged(discharged_before=DAY) == [("H01V0000002", 700.0)]
    charts.ehr.record(AdmissionCancelled(800.0, "H01", "H01V0000002"))  # voided after its discharge was seen
    assert charts.discharged(discharged_before=DAY) == []
    refresh = {"H01V0000001": 0, "H01V0000002": 0}
    assert charts.extract(discharged_before=DAY, refresh=refresh) == {
        "discharges": [],
        "not_discharged": ["H01V0000001", "H01V0000002"],
    }


def test_the_kpi_service_picks_up_a_visit_discharged_again_with_its_new_time() -> None:
    """The service asks for the discharges since its last cut and refreshes the charts it follows
    only when they hold more charge lines: a visit discharged again without new charges is found
    by its new discharge time falling in the window, which the extract's index must know."""
    charts = Charts()
    service = KpiService(ReportingConfig(("H01",), {}, 360.0), TB)
    service.start(0.0)
    service.on_timer(360.0)  # the day before the switch-on: nothing to report

    def run(at: float) -> tuple[dict[str, Any], tuple[float, list[str]]]:
        """The service's run at ``at``: what the extract answered it, and the DNFB it published for H01."""
        extract: dict[str, Any] = {}
        posts = []
        for query in service.on_timer(at).requests:
            if query.path == DISCHARGES:
                response = charts.reporting.handle(query, at)
                extract = response.body
            else:
                response = TargetResponse(200, {})
            posts += service.on_response(query, response, at + 0.01).requests
        (dnfb,) = [p.body for p in posts if p.body["kpi"] == "dnfb_amount" and p.body["scope"] == "H01"]
        return extract, (dnfb["value"], dnfb["lineage"])

    charts.admit("H01V0000001", 4500)
    charts.admit("H01V0000002", 1000)
    charts.discharge("H01V0000001", 600.0)
    charts.extract(discharged_before=650.0)  # another reader looks in the meantime: V1 is indexed at 600
    charts.cancel_discharge("H01V0000001", 700.0)
    charts.discharge("H01V0000002", 800.0)
    extract, dnfb = run(DAY + 360)  # day 0: V1 is in house again, V2 discharged
    assert [d["visit"] for d in extract["discharges"]] == ["H01V0000002"]
    assert dnfb == (1000, ["H01V0000002"])
    charts.cancel_discharge("H01V0000002", DAY + 400)  # after the service took it in
    charts.discharge("H01V0000001", DAY + 600)
    extract, dnfb = run(2 * DAY + 360)  # day 1: V1 discharged in it; V2 in house, followed
    assert [(d["visit"], d["discharged_at"]) for d in extract["discharges"]] == [("H01V0000001", DAY + 600)]
    assert extract["not_discharged"] == ["H01V0000002"]
    assert "H01V0000001" in dnfb[1]
    charts.discharge("H01V0000002", 2 * DAY + 900)  # discharged again, no new charge
    extract, dnfb = run(3 * DAY + 360)  # day 2: V2 found by its new discharge time
    assert [(d["visit"], d["discharged_at"]) for d in extract["discharges"]] == [("H01V0000002", 2 * DAY + 900)]
    assert dnfb == (5500, ["H01V0000001", "H01V0000002"])
    assert service._charts["H01V0000002"].discharged_at == 2 * DAY + 900


# -- the KPI oracle on real runs with discharges cancelled around the report ------------------------


def _cancelling(seed: int, **reporting: float) -> Scenario:
    """The small scenario over three days with a discharge in three entered in error (A13)."""
    data = small_scenario(days=3, seed=seed).model_dump()
    data["workload"]["adt"]["cancel_discharge_share"] = 0.3
    data["reporting"].update(reporting)
    return Scenario.model_validate(data)


def _withdrawn(view: RunView) -> dict[str, list[tuple[float, float]]]:
    """Every discharge the truth saw cancelled: visit -> (discharged, cancelled)."""
    discharged: dict[str, float] = {}
    withdrawn: dict[str, list[tuple[float, float]]] = {}
    for fact in view.truth:
        if isinstance(fact, PatientDischarged):
            discharged[fact.visit] = fact.at
        elif isinstance(fact, DischargeCancelled):
            withdrawn.setdefault(fact.visit, []).append((discharged.pop(fact.visit), fact.at))
    return withdrawn


def _dnfb(view: RunView, day: str) -> tuple[int, KpiPublication]:
    [(index, shown)] = [(i, p) for i, p in enumerate(view.dashboard.kpis) if p.key == f"dnfb_amount/H01/{day}"]
    return index, shown


def test_a_discharge_cancelled_after_the_report_counted_it_is_a_member_of_that_report() -> None:
    """Reports at midnight (publish hour 0): a patient discharged before midnight and the discharge
    cancelled after the report read the EHR was discharged, not billed, to that report - the DNFB
    must list it. One cancelled within the reporting lag after the publish instant races the read:
    in or out. The truth's last discharge of such a visit is the next day's, so an oracle reading
    only that would call the reference's correct report wrong."""
    result = Twin(_cancelling(4, publish_hour=0)).run()
    view = result.view
    assert result.in_sync, [d for f in result.flows for d in f.differences[:3]]
    lag = view.scenario.reporting.allowed_lag_minutes
    surely, racing = [], []
    for visit, spans in _withdrawn(view).items():
        for left, cancelled in spans:
            midnight = (left // DAY + 1) * DAY  # the run's clock starts at midnight
            if cancelled > midnight:
                (surely if cancelled > midnight + lag else racing).append((visit, view.timebase.day(left).isoformat()))
    assert surely and racing  # the scenario has both
    visit, day = surely[0]
    index, shown = _dnfb(view, day)
    assert visit in shown.lineage
    truth = kpi_truth(view, view.horizon).values[shown.key]
    assert visit in truth.required
    # the same report without it, its value recomputed without it: a required member missing
    low, _high = truth.members[visit]
    board = view.dashboard
    saved = list(board.kpis)
    try:
        board.kpis[index] = dataclasses.replace(
            shown, lineage=tuple(v for v in shown.lineage if v != visit), value=shown.value - low
        )
        [flow] = [f for f in check_all(view) if f.flow == REPORTING]
        assert [(d.kind, d.key) for d in flow.differences] == [("wrong_value", shown.key)]
    finally:
        board.kpis[:] = saved
    visit, day = racing[0]
    assert visit in kpi_truth(view, view.horizon).values[f"dnfb_amount/H01/{day}"].members


def test_a_run_cut_after_a_discharge_was_cancelled_does_not_want_it_in_the_report() -> None:
    """A patient discharged before midnight, the discharge cancelled before the 06:00 report read
    the EHR, and the run cut (as a live run is) before the patient left for good: the truth's last
    discharge is the cancelled one, and the report rightly leaves the visit out. The run judged at
    the cut is in sync, and the visit planted into that report's lineage is caught."""
    scenario = _cancelling(2)
    visit, cancelled, day = "H01V0000073", 1496.9, "2026-01-05"  # discharged 23:29, cancelled 00:56 (seed 2)
    twin = Twin(scenario)
    twin.begin()
    cut = 31 * 60.0  # 07:00 on the second day: the report is out, the patient not discharged again
    twin.clock.run(until=cut)
    view = twin.view_at(cut, settled=False)
    assert [round(c, 1) for _left, c in _withdrawn(view)[visit]] == [cancelled]
    assert not any(isinstance(f, PatientDischarged) and f.visit == visit and f.at > cancelled for f in view.truth)
    index, shown = _dnfb(view, day)
    assert visit not in shown.lineage
    [flow] = [f for f in twin.check(cut) if f.flow == REPORTING]  # judged as cut: the run has not settled
    assert flow.in_sync and flow.matched >= 1, flow.differences
    planted = kpi_truth(view, cut).values[shown.key].members.get(visit)
    assert planted is None  # no member at all: cancelled before the report read the EHR
    view.dashboard.kpis[index] = dataclasses.replace(shown, lineage=(*shown.lineage, visit))
    [flow] = [f for f in twin.check(cut) if f.flow == REPORTING]
    assert [(d.kind, d.key) for d in flow.differences] == [("wrong_value", shown.key)]
