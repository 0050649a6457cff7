"""The simulated network behaves like a hospital network: seeded, profiled arrivals, plausible stays."""

from __future__ import annotations

import statistics

from tests.conftest import small_scenario
from twin.domain.events import AdmissionCancelled, ChargesPosted, CodingCompleted, PatientAdmitted, PatientDischarged
from twin.network import build_network
from twin.sim import Twin


def test_network_is_deterministic_and_codes_differ_between_systems() -> None:
    scenario = small_scenario(network={"hospitals": 3})
    first, second = build_network(scenario), build_network(scenario)
    assert first == second
    departments = [d for h in first.hospitals for d in h.departments]
    assert all(d.ehr_code != d.cost_center for d in departments)
    assert len({d.cost_center for d in departments}) == len(departments)
    other = build_network(small_scenario(seed=99, network={"hospitals": 3}))
    assert [h.name for h in other.hospitals] != [h.name for h in first.hospitals]


def test_patient_flow_shape() -> None:
    twin = Twin(small_scenario(days=7, network={"hospitals": 2}))
    twin.run()
    cancelled = {e.visit for e in twin.truth.of_type(AdmissionCancelled)}  # type: ignore[attr-defined]
    registered = twin.truth.of_type(PatientAdmitted)
    admitted = [a for a in registered if a.visit not in cancelled]  # type: ignore[attr-defined]
    assert cancelled and len(admitted) < len(registered)  # a registration entered in error never goes further
    census = [a for a in admitted if a.at == 0.0]  # type: ignore[attr-defined]
    beds = sum(h.beds for h in twin.network.hospitals)
    assert abs(len(census) - beds * twin.scenario.workload.initial_occupancy) <= len(twin.network.hospitals) * 4
    discharged = {e.visit: e.at for e in twin.truth.of_type(PatientDischarged)}
    assert len(admitted) > 100
    # every admitted patient is eventually discharged and coded (the run settles)
    assert len(discharged) == len(admitted) == len(twin.truth.of_type(CodingCompleted))
    arrivals = [a for a in admitted if a.at > 0 and a.encounter_type == "inpatient"]  # type: ignore[attr-defined]
    stays_days = [(discharged[a.visit] - a.at) / 1440 for a in arrivals]  # type: ignore[attr-defined]
    assert 2.5 < statistics.median(stays_days) < 5.5
    # more admissions in the afternoon than in the small hours
    hours = [int(a.at % 1440 // 60) for a in arrivals]
    assert sum(1 for h in hours if 10 <= h < 16) > 2 * sum(1 for h in hours if 0 <= h < 6)
    # coding follows discharge, never precedes it
    for coding in twin.truth.of_type(CodingCompleted):
        assert coding.at > discharged[coding.visit]
    # room-and-board charges exist and some credits reverse earlier charges
    lines = [line for e in twin.truth.of_type(ChargesPosted) for line in e.lines]  # type: ignore[attr-defined]
    assert any("-RB-" in line.code for line in lines)
    assert any(line.amount < 0 and line.reverses for line in lines)
