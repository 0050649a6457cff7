"""The fault plan, sans-IO: each fault kind is injected as its spec says and counted, windows are
known in advance (one wrapping midnight too), the same seed gives the same faults, a spoiled
message keeps its original, and a bad fault entry in a scenario is explained by its list index."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tests.conftest import small_scenario
from twin.domain.exchange import TargetRequest
from twin.domain.timebase import Timebase
from twin.faults import FAULT_KINDS, POISON_VARIANTS, ActiveWindow, Downtime, FaultPlan, FaultSpec
from twin.faults.corrupt import SEGMENT_END
from twin.faults.specs import DAY, AnySpec
from twin.governance import governed_mappings, problem_of
from twin.integration.hl7_reader import Hl7Reader
from twin.network import build_network
from twin.scenario import ScenarioError, parse_scenario
from twin.sim import Twin

SPEC: TypeAdapter[AnySpec] = TypeAdapter(FaultSpec)  # type: ignore[arg-type]


def _plan(*specs: dict[str, Any], seed: int = 1, offset: float = 0.0) -> FaultPlan:
    return FaultPlan([SPEC.validate_python(spec) for spec in specs], seed, offset)


def _request(system: str = "erp", key: str = "k", **headers: str) -> TargetRequest:
    return TargetRequest(system, "POST", "/finance/journals", {}, key, "V1", headers=dict(headers))


@pytest.fixture(scope="module")
def traffic() -> dict[str, list[str]]:
    """Real EHR messages of each type (a few hours of one hospital)."""
    return {kind: list(messages) for kind, messages in Twin(small_scenario(days=0.5)).run().view.traffic.items()}


@pytest.fixture(scope="module")
def reader() -> Hl7Reader:
    return Hl7Reader(Timebase(small_scenario().start))


# -- windows ------------------------------------------------------------------------------------
def test_a_daily_window_wrapping_midnight_follows_the_start_clock() -> None:
    spec = SPEC.validate_python({"kind": "outage", "system": "erp", "daily": "23:00-01:00"})
    window = ActiveWindow(spec, clock_offset=60.0)  # the run starts at 01:00
    assert not window.active(0.0) and window.active(1320.0) and window.active(1439.0) and not window.active(1440.0)
    assert window.spans(3 * DAY) == [(1320.0, 1440.0), (2760.0, 2880.0), (4200.0, 4320.0)]
    bounded = SPEC.validate_python(
        {"kind": "outage", "system": "erp", "daily": "23:00-01:00", "from_day": 1, "to_day": 2}
    )
    assert ActiveWindow(bounded, 0.0).spans(5 * DAY) == [(1440.0, 1500.0), (2820.0, 2880.0)]


def test_outage_windows_are_a_function_of_the_scenario() -> None:
    plan = _plan(
        {"kind": "outage", "system": "erp", "daily": "02:00-04:00"},
        {"kind": "outage", "system": "integration", "mode": "hang", "from_day": 1, "to_day": 1.5},
    )
    windows = [(w.system, w.mode, w.start, w.end) for w in plan.outage_windows(2 * DAY)]
    assert windows == [
        ("erp", "refused", 120.0, 240.0),
        ("integration", "hang", 1440.0, 2160.0),
        ("erp", "refused", 1560.0, 1680.0),
    ]


def _moved_out(at: float, windows: list[tuple[float, float]]) -> float:
    """What ``Downtime.shift`` must answer, by definition: out of every window, pass after pass."""
    moved = True
    while moved:
        moved = False
        for start, end in windows:
            if start <= at < end:
                at, moved = end, math.isfinite(end)
    return at


def _opening_by(ready: float, lag: float, windows: list[tuple[float, float]]) -> float:
    """What ``Downtime.within`` must answer, by definition: every window, in order, against the
    deadline as it stands."""
    grace = 0.0
    for start, end in sorted(windows):
        if ready < start <= ready + lag + grace:
            grace += end - start
    return grace


# small whole minutes, so that windows touch, overlap, repeat and sit empty; some never end
_MINUTE = st.integers(0, 40).map(float)
_WINDOW = st.tuples(_MINUTE, st.integers(0, 12).map(float) | st.just(math.inf)).map(lambda w: (w[0], w[0] + w[1]))


@given(st.lists(_WINDOW, max_size=8), st.lists(_MINUTE | st.floats(-5, 60, allow_nan=False), max_size=12), _MINUTE)
def test_downtime_indexed_once_answers_as_a_pass_over_every_window(
    windows: list[tuple[float, float]], moments: list[float], lag: float
) -> None:
    down = Downtime(windows)
    assert bool(down) == bool(windows)
    for at in moments:
        assert down.shift(at) == _moved_out(at, windows), at
        assert down.within(at, lag) == _opening_by(at, lag, windows), at


def test_downtime_moves_through_windows_that_touch_and_adds_those_opening_by_the_moving_deadline() -> None:
    down = Downtime([(50.0, 60.0), (10.0, 20.0), (20.0, 30.0), (35.0, 35.0)])
    assert [down.shift(t) for t in (5.0, 10.0, 25.0, 30.0, 35.0, 55.0)] == [5.0, 30.0, 30.0, 30.0, 35.0, 60.0]
    # from 0 with 10 minutes' lag: [10, 20) opens by 10 (deadline 20), [20, 30) by 20 (deadline 30),
    # the empty [35, 35) is past it, and so is [50, 60)
    assert down.within(0.0, 10.0) == 20.0
    assert down.within(0.0, 9.0) == 0.0 and down.within(10.0, 100.0) == 20.0


# -- requests -----------------------------------------------------------------------------------
def test_an_outage_refuses_or_hangs_and_its_recovery_is_measured() -> None:
    plan = _plan(
        {"kind": "outage", "system": "erp", "daily": "02:00-04:00"},
        {"kind": "outage", "system": "clearinghouse", "mode": "hang", "daily": "02:00-03:00"},
    )
    assert plan.request_fate(_request(), 100.0).action == "deliver"
    plan.outages.update(0, 120.0)
    plan.outages.update(1, 120.0)
    refused = plan.request_fate(_request(key="j1"), 130.0)
    assert (refused.action, refused.hops) == ("answer", 1) and refused.response and refused.response.status == 503
    assert plan.request_fate(_request("clearinghouse", "c1"), 130.0).action == "hang"
    assert plan.counter.counts["outage"] == 2
    plan.outages.update(0, 240.0)
    plan.outages.update(1, 180.0)
    plan.answered_ok("erp", "j1", 251.5)
    erp, clearinghouse = plan.outages.report()
    assert (erp["system"], erp["first_tried"], erp["recovery_minutes"]) == ("erp", 1, 11.5)
    assert clearinghouse["recovery_minutes"] is None and clearinghouse["never_answered_ok"] == 1


def test_errors_timeouts_lost_responses_and_latency_strike_as_specified() -> None:
    plan = _plan(
        {"kind": "errors", "system": "clearinghouse", "status": 429, "rate": 1, "retry_after_seconds": 20},
        {"kind": "timeout", "system": "hcm", "rate": 1},
        {"kind": "lost_response", "system": "vendor", "rate": 1},
        {"kind": "errors", "system": "erp", "status": 500, "rate": 0.3},
        {"kind": "latency", "system": "dashboard", "distribution": "fixed", "ms": 1500},
        {"kind": "latency", "system": "ehr", "distribution": "uniform", "min_ms": 100, "max_ms": 200},
    )
    throttled = plan.request_fate(_request("clearinghouse"), 1.0)
    assert throttled.response is not None and throttled.response.status == 429
    assert throttled.response.headers == {"Retry-After": "20"}
    assert plan.request_fate(_request("hcm"), 1.0).action == "hang"
    assert plan.request_fate(_request("vendor"), 1.0).action == "lost_response"
    assert plan.request_fate(_request("dashboard"), 1.0).delay == pytest.approx(1500 / 60_000)
    assert 100 / 60_000 <= plan.request_fate(_request("ehr"), 1.0).delay <= 200 / 60_000
    failed = sum(plan.request_fate(_request("erp", f"k{i}"), 1.0).action == "answer" for i in range(2000))
    assert 500 < failed < 700  # rate 0.3
    counts = plan.counter.counts
    assert (counts["errors"], counts["timeout"], counts["lost_response"], counts["latency"]) == (1 + failed, 1, 1, 2)


def test_the_same_seed_gives_the_same_faults() -> None:
    specs = ({"kind": "errors", "system": "erp", "rate": 0.5}, {"kind": "poison", "rate": 0.5})

    def fates(seed: int) -> list[str]:
        plan = _plan(*specs, seed=seed)
        out = [plan.request_fate(_request(key=str(i)), 1.0).action for i in range(50)]
        out += [plan.hl7_fate(f"M{i}", "ADT^A01", "V", _ADT, 1.0, can_reorder=False).payload for i in range(50)]
        return out

    assert fates(7) == fates(7)
    assert fates(7) != fates(8)


def test_an_expired_token_gate_wants_a_bearer_token_and_revokes_it_on_schedule() -> None:
    plan = _plan({"kind": "expired_token", "system": "erp", "every_hours": 1})
    missing = plan.request_fate(_request(), 1.0).response
    assert missing is not None and missing.status == 401 and "WWW-Authenticate" in missing.headers
    grant = plan.request_fate(TargetRequest("erp", "POST", "/oauth/token", {}, ""), 2.0).response
    assert grant is not None and grant.status == 200 and grant.body["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {grant.body['access_token']}"}
    assert plan.request_fate(_request(**bearer), 59.0).action == "deliver"
    revoked = plan.request_fate(_request(**bearer), 61.0).response  # revoked at 60, before it expired
    assert revoked is not None and revoked.status == 401 and "invalid_token" in revoked.headers["WWW-Authenticate"]
    assert plan.counter.counts["expired_token"] == 2
    assert plan.request_fate(_request("clearinghouse"), 61.0).action == "deliver"  # no fault there: no auth


# -- HL7 ----------------------------------------------------------------------------------------
_ADT = (
    "MSH|^~\\&|EHR|H01|TWIN-INT|NETWORK|20260105010000||ADT^A01^ADT_A01|MSG0000000001|P|2.5.1|1\r"
    "EVN|A01|20260105010000\rPID|1||H01M0000001^^^H01^MR||Doe^Jo||19600101|F\r"
    "PV1|1|I|H01-4M^001^A^H01||||9010000001^Who^Dr|||MED|||||||||H01V0000001^^^H01^VN|MCR\r"
    "IN1|1|MCR-A^Medicare A|MCR-A|Medicare A\r"
)


def _sample(traffic: dict[str, list[str]], message_type: str) -> str:
    """A message of the type; for charges one with an ancillary line (revenue code 0220 and up)."""
    return next(m for m in traffic[message_type] if message_type != "DFT^P03" or _ancillary(m))


def _ancillary(message: str) -> bool:
    codes = [s.split("|")[7].split("-")[0] for s in message.split(SEGMENT_END) if s.startswith("FT1|")]
    return any(code.isdigit() and int(code) >= 220 for code in codes)


@pytest.mark.parametrize("variant", POISON_VARIANTS)
def test_a_poison_message_is_malformed_as_its_variant_says_and_keeps_its_original(
    variant: str, traffic: dict[str, list[str]], reader: Hl7Reader
) -> None:
    for seed, message_type in enumerate(("ADT^A01", "ADT^A03", "DFT^P03", "BAR^P05")):
        original = _sample(traffic, message_type)
        control = original.split("|")[9]
        plan = _plan({"kind": "poison", "rate": 1, "variants": [variant]}, seed=seed)
        fate = plan.hl7_fate(control, message_type, "V1", original, 5.0, can_reorder=False)
        spoiled = fate.payload
        assert fate.corruption is not None and fate.corruption.variant == variant and spoiled != original
        read = reader.read(spoiled)
        assert read.rejected is not None, (variant, message_type)
        assert read.header is not None and read.header.control_id == control  # it can still be acknowledged
        assert plan.originals[control] == original and plan.counter.counts["poison"] == 1
        assert plan.original_for(control, spoiled) == (fate.corruption, original)
        assert plan.original_for("", spoiled) == (fate.corruption, original)  # found by its payload too
        fields = spoiled.split(SEGMENT_END)[0].split("|")
        if variant == "bad_msh":
            assert fields[8] != original.split("|")[8] or fields[11] != original.split("|")[11]
        elif variant == "missing_pid":
            assert "\rPID|" not in spoiled and "\rPID|" in original
        elif variant == "broken_escape":
            assert spoiled.count("\\") > original.count("\\")
        elif variant == "wrong_encoding":
            assert fields[1] != "^~\\&"
        else:  # truncated inside a segment, never at a segment boundary
            assert original.startswith(spoiled) and not spoiled.endswith(SEGMENT_END)
            assert original[len(spoiled)] != SEGMENT_END
        if variant in ("missing_pid", "truncated"):  # hl7apy's strict validation agrees
            with pytest.raises(Exception):  # noqa: B017 - hl7apy raises several validation error types
                parse_message(spoiled, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()


def test_a_spoiled_message_is_neither_copied_nor_aliased(traffic: dict[str, list[str]]) -> None:
    plan = _plan({"kind": "poison", "rate": 1}, {"kind": "duplicate", "rate": 1}, {"kind": "unmapped", "rate": 1})
    fate = plan.hl7_fate("M1", "DFT^P03", "V1", _sample(traffic, "DFT^P03"), 1.0, can_reorder=False)
    assert fate.corruption is not None and fate.duplicate_after is None and not fate.aliases
    assert dict(plan.counter.counts) == {"poison": 1}


def test_duplicates_come_later_and_reorders_need_a_next_message() -> None:
    plan = _plan({"kind": "duplicate", "rate": 1, "within_minutes": 30}, {"kind": "reorder", "rate": 1})
    alone = plan.hl7_fate("M1", "ADT^A01", "V1", _ADT, 1.0, can_reorder=False)
    assert alone.duplicate_after is not None and 0 <= alone.duplicate_after <= 30 and not alone.reorder
    assert plan.hl7_fate("M2", "ADT^A01", "V1", _ADT, 1.0, can_reorder=True).reorder
    assert (plan.counter.counts["duplicate"], plan.counter.counts["reorder"]) == (2, 1)


def test_an_unmapped_alias_names_a_new_code_for_an_existing_department(traffic: dict[str, list[str]]) -> None:
    network = build_network(small_scenario())
    plan = _plan({"kind": "unmapped", "rate": 1})
    charges = _sample(traffic, "DFT^P03")
    fate = plan.hl7_fate("M1", "DFT^P03", "V1", charges, 1.0, can_reorder=False)
    [alias] = fate.aliases
    assert (
        alias.alias in fate.payload and alias.alias not in charges and plan.aliases == {alias.alias: alias.department}
    )
    line = next(s for s in fate.payload.split(SEGMENT_END) if s.startswith("FT1|") and alias.alias in s)
    assert line.split("|")[2] == alias.txn_id and int(line.split("|")[7].split("-")[0]) >= 220  # ancillary only
    department = next(d for h in network.hospitals for d in h.departments if d.ehr_code == alias.department)
    assert problem_of(network, "department", alias.alias) == ("department", alias.alias)
    assert governed_mappings(network, ("department", alias.alias), 1.0) == []  # unknown without the registry
    assert governed_mappings(network, ("department", alias.alias), 1.0, plan.aliases) == [
        ("department", alias.alias, department.cost_center)
    ]
    census = next(m for m in traffic["DFT^P03"] if "|120-RB" in m and m.count("\rFT1|") == 1)
    assert not plan.hl7_fate("M2", "DFT^P03", "V1", census, 1.0, can_reorder=False).aliases  # room and board


def test_a_drifted_document_renames_fields_from_its_day_and_keeps_its_original() -> None:
    plan = _plan({"kind": "schema_drift", "from_day": 1}, {"kind": "duplicate", "source": "vendor", "rate": 1})
    invoice = {"type": "invoice", "vendor_invoice": "INV-1", "vendor": "V", "po": "PO1", "quantity": 2, "amount": 10}
    early = plan.document_fate("vendor", invoice, 10.0)
    assert early.body == invoice and early.corruption is None and early.duplicate_after is not None
    drifted = plan.document_fate("vendor", invoice, DAY + 1)
    assert drifted.body["invoice_number"] == "INV-1" and "vendor_invoice" not in drifted.body
    assert drifted.body["api_version"] == "v2" and drifted.duplicate_after is None
    assert drifted.corruption is not None and drifted.corruption.business_key == "PO1"
    written = '{"api_version": "v2", "po": "PO1", "amount": 10, "quantity": 2, "vendor": "V", ' + (
        '"invoice_number": "INV-1", "type": "invoice"}'
    )
    found = plan.original_for("whatever the integration calls it", written)
    assert found is not None and found[1] == plan.originals[drifted.corruption.key]
    assert (plan.counter.counts["schema_drift"], plan.counter.counts["duplicate"]) == (1, 1)


def test_every_kind_has_a_spec() -> None:
    for kind in FAULT_KINDS:
        minimal: dict[str, Any] = {"kind": kind}
        if kind in ("outage", "latency", "errors", "timeout", "lost_response", "expired_token"):
            minimal["system"] = "erp"
        assert SPEC.validate_python(minimal).kind == kind


# -- scenario -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{kind: outages, system: erp}", r"line 5, field 'faults\[1\]': unknown fault kind; expected one of outage"),
        ('{kind: outage, system: erp, daily: "25:00-26:00"}', r"field 'faults\[1\].daily'.*'02:00-04:00'"),
        ("{kind: errors, system: erp, from_day: 3, to_day: 2}", r"field 'faults\[1\]'.*to_day \(2\) must be after"),
        ("{system: erp}", r"field 'faults\[1\]': a fault needs a 'kind'"),
    ],
)
def test_a_bad_fault_entry_is_explained_by_its_index(entry: str, expected: str) -> None:
    text = f"name: x\nseed: 1\nfaults:\n  - {{kind: reorder}}\n  - {entry}\n"
    with pytest.raises(ScenarioError, match=expected):
        parse_scenario(text, "bad.yaml")


def test_faults_default_to_none_and_operations_have_defaults() -> None:
    scenario = parse_scenario("name: x\nseed: 1\n")
    assert scenario.faults == [] and scenario.operations.dlq_review_hours == 4


def test_the_fault_plan_is_sans_io() -> None:
    """Both drivers use the plan: it is part of the core the sans-IO scan covers (``test_architecture``)
    and imports no driver, no judge and no integration."""
    from tests.test_architecture import CORE, MODULES, ROOT, _imports

    assert ROOT / "twin" / "faults" in CORE
    for name in sorted(m for m in MODULES if m.startswith("twin.faults")):
        assert not {n for n in _imports(name) if n.startswith(("twin.sim", "twin.observe", "twin.integration"))}, name
