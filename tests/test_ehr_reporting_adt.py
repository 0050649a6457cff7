"""The EHR's reporting extract (``GET /reporting/discharges``) under ADT corrections: a discharge
cancelled (A13) is no discharge until the next one, which counts with its own time; a registration
cancelled (A11) is never in the extract; and the KPI service, reading the extract with its cuts and
refreshes, picks up a visit discharged again with the new time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mocks.ehr.reporting import DISCHARGES, EhrReporting
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
