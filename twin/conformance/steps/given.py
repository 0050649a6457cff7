"""Given steps: they shape the scenario a conformance run simulates, never run anything.

Each step sets fields of the twin scenario (``twin/scenario.py``; see ``scenarios/default.yaml``
for every field and unit) or appends a fault (``twin/faults/specs.py``), starting from the
baseline network of ``twin.conformance.context.baseline_data``. Days are counted as people
count them: day 1 is the first day of the run, so "on day 2" is the second simulated day.
A step that makes the scenario invalid fails at the When step with the validator's explanation.
"""

from __future__ import annotations

from twin.conformance.context import ScenarioUnderTest
from twin.conformance.steps.parsers import Records
from twin.conformance.steps.vocabulary import given


def _from_day(day: int) -> float:
    if day < 1:
        raise ValueError(f"day {day}: days are counted from 1 (the first day of the run)")
    return float(day - 1)


def _window(start: float, end: float) -> str:
    return f"{int(start) // 60:02d}:{int(start) % 60:02d}-{int(end) // 60:02d}:{int(end) % 60:02d}"


# -- the network and the run -----------------------------------------------------------------------


@given(
    "a network of {hospitals:Count} hospital(s) with {beds:Count} staffed beds each",
    "a network of 1 hospital with 120 staffed beds each",
)
def network_with_beds(conformance: ScenarioUnderTest, hospitals: int, beds: int) -> None:
    """The size of the simulated network: hospitals, and staffed beds per hospital."""
    conformance.set("network", {"hospitals": hospitals, "beds": {"min": beds, "max": beds}})


@given("a network of {hospitals:Count} hospital(s)", "a network of 3 hospitals")
def network(conformance: ScenarioUnderTest, hospitals: int) -> None:
    """How many hospitals the network has (120 staffed beds each unless another step says)."""
    conformance.set("network.hospitals", hospitals)


@given("{days:Number} day(s) of patient activity", "2 days of patient activity")
def days_of_activity(conformance: ScenarioUnderTest, days: float) -> None:
    """How long the workload runs; the run then settles until every coding and sync is done."""
    conformance.set("days", days)


@given("the simulation is seeded with {seed:Count}", "the simulation is seeded with 7")
def seeded(conformance: ScenarioUnderTest, seed: int) -> None:
    """The one seed behind every random choice: the same seed gives the same run."""
    conformance.set("seed", seed)


@given("the {design:Design} integration design", "the hybrid integration design")
def design(conformance: ScenarioUnderTest, design: str) -> None:
    """Which release schedule the reference integration follows (``twin/integration/designs.py``).
    A user's integration (``--sut``) has its own design and ignores this."""
    conformance.set("integration.design", design)


@given(
    "the {records:Records} flow is allowed {lag:Duration} to catch up",
    "the charge flow is allowed 30 minutes to catch up",
)
def allowed_lag(conformance: ScenarioUnderTest, records: Records, lag: float) -> None:
    """The allowed lag of the flow the noun belongs to: due in the truth -> held by the target."""
    fields = {
        "discharge_billing": ("billing.allowed_lag_minutes", lag),
        "usage_inventory": ("supply.allowed_lag_minutes", lag),
        "labor_cost": ("labor.allowed_lag_minutes", lag),
        "executive_reporting": ("reporting.allowed_lag_minutes", lag),
        "master_data": ("governance.allowed_lag_hours", lag / 60),
    }
    path, value = fields[records.flow]
    conformance.set(path, value)


@given("coding is due within {deadline:Duration} of discharge", "coding is due within 48 hours of discharge")
def coding_deadline(conformance: ScenarioUnderTest, deadline: float) -> None:
    """The discharged-not-final-billed threshold: coding later than this is an exception."""
    conformance.set("billing.coding_deadline_hours", deadline / 60)


@given(
    "bills are held {hold:Duration} after discharge",
    "bills are held 72 hours after discharge",
)
def bill_hold(conformance: ScenarioUnderTest, hold: float) -> None:
    """The bill hold: a bill waits this long after the discharge for charges still to come."""
    conformance.set("billing.bill_hold_hours", hold / 60)


@given("the nightly labor sync runs at {clock:Clock}", "the nightly labor sync runs at 02:00")
def labor_sync(conformance: ScenarioUnderTest, clock: float) -> None:
    """When the integration's scheduled labor sync posts each closed work date (local time)."""
    conformance.set("labor.sync_hour", clock / 60)


@given("the KPI service publishes at {clock:Clock}", "the KPI service publishes at 06:00")
def kpi_publish(conformance: ScenarioUnderTest, clock: float) -> None:
    """When the curated data service computes the previous day's executive KPIs (local time)."""
    conformance.set("reporting.publish_hour", clock / 60)


@given(
    "storerooms cycle-count {count:Count} item-location(s) each night",
    "storerooms cycle-count 6 item-locations each night",
)
def cycle_counts(conformance: ScenarioUnderTest, count: int) -> None:
    """How many item-locations each OR storeroom counts at 03:00 (stock accuracy KPI)."""
    conformance.set("reporting.counts_per_night", count)


# -- master data ------------------------------------------------------------------------------------


@given(
    "the ERP item master lacks {count:Count} supply item(s) the EHR documents",
    "the ERP item master lacks one supply item the EHR documents",
)
def items_missing(conformance: ScenarioUnderTest, count: int) -> None:
    """Supply items the EHR uses that materials management has not set up in the ERP yet."""
    conformance.set("governance.items_missing_in_erp", count)


@given(
    "finance retires the {department:Department} cost center of hospital {hospital:Count} on day {day:Count}",
    "finance retires the respiratory cost center of hospital 1 on day 2",
)
def retire_cost_center(conformance: ScenarioUnderTest, department: str, hospital: int, day: int) -> None:
    """Finance retires a department's cost center at the start of that day without telling the
    integration's crosswalk: postings to it are refused until governance publishes the new one."""
    conformance.set(
        "governance.retire_cost_center", {"hospital": hospital, "department": department, "day": _from_day(day)}
    )


@given(
    "the data steward publishes a fix about {delay:Duration} after an exception is raised",
    "the data steward publishes a fix about 6 hours after an exception is raised",
)
def steward_delay(conformance: ScenarioUnderTest, delay: float) -> None:
    """The median time the data steward takes from a master-data exception to the published mapping."""
    conformance.set("governance.steward_delay_hours", {"median": delay / 60, "sigma": 0.5})


@given(
    "the network acquires a hospital on day {day:Count} whose EHR speaks HL7 v{version:Version}",
    "the network acquires a hospital on day 2 whose EHR speaks HL7 v2.3",
)
def acquisition(conformance: ScenarioUnderTest, day: int, version: str) -> None:
    """A hospital joins at the start of that day with its own code sets and HL7 version; governance
    publishes its crosswalk entries an hour before go-live."""
    if day < 2:
        raise ValueError("an acquired hospital joins on day 2 or later (day 1 is the network as it was)")
    conformance.set("acquisition", {"day": _from_day(day), "hl7_version": version, "beds": {"min": 120, "max": 120}})


# -- faults at the boundaries (twin/faults/specs.py) ------------------------------------------------------


@given(
    "the {system:System} is down from {start:Clock} to {end:Clock} on day {day:Count}",
    "the ERP is down from 02:00 to 04:00 on day 2",
)
def outage(conformance: ScenarioUnderTest, system: str, start: float, end: float, day: int) -> None:
    """The system refuses every request (503) in that window: a maintenance window or a crash."""
    conformance.add_fault(
        {
            "kind": "outage",
            "system": system,
            "from_day": _from_day(day),
            "to_day": float(day),
            "daily": _window(start, end),
        }
    )


@given(
    "the {system:System} hangs without answering from {start:Clock} to {end:Clock} on day {day:Count}",
    "the claims clearinghouse hangs without answering from 10:00 to 11:00 on day 1",
)
def hang(conformance: ScenarioUnderTest, system: str, start: float, end: float, day: int) -> None:
    """The system takes requests and never answers in that window: clients only see their timeout."""
    conformance.add_fault(
        {
            "kind": "outage",
            "system": system,
            "mode": "hang",
            "from_day": _from_day(day),
            "to_day": float(day),
            "daily": _window(start, end),
        }
    )


@given(
    "the {system:System} is down every day from {start:Clock} to {end:Clock}",
    "the ERP is down every day from 01:00 to 01:30",
)
def daily_outage(conformance: ScenarioUnderTest, system: str, start: float, end: float) -> None:
    """A recurring maintenance window: the system refuses every request in it, every day."""
    conformance.add_fault({"kind": "outage", "system": system, "daily": _window(start, end)})


@given(
    "{share:Share} of the {system:System}'s answers are lost after it committed",
    "10% of the ERP's answers are lost after it committed",
)
def lost_responses(conformance: ScenarioUnderTest, share: float, system: str) -> None:
    """The target posts the request, and the answer never reaches the integration."""
    conformance.add_fault({"kind": "lost_response", "system": system, "rate": share})


@given("{share:Share} of requests to the {system:System} time out", "5% of requests to the ERP time out")
def timeouts(conformance: ScenarioUnderTest, share: float, system: str) -> None:
    """The request never reaches the target and nothing comes back: the client's timeout fires."""
    conformance.add_fault({"kind": "timeout", "system": system, "rate": share})


@given(
    "{share:Share} of requests to the {system:System} fail with status {status:Count}",
    "5% of requests to the claims clearinghouse fail with status 503",
)
def errors(conformance: ScenarioUnderTest, share: float, system: str, status: int) -> None:
    """A share of requests fail with a server error (500, 502 or 503)."""
    conformance.add_fault({"kind": "errors", "system": system, "rate": share, "status": status})


@given(
    "the {system:System} throttles {share:Share} of requests, asking to retry after {wait:Duration}",
    "the ERP throttles 20% of requests, asking to retry after 30 seconds",
)
def throttled(conformance: ScenarioUnderTest, system: str, share: float, wait: float) -> None:
    """A share of requests are answered 429 Too Many Requests with a Retry-After header."""
    conformance.add_fault(
        {"kind": "errors", "system": system, "rate": share, "status": 429, "retry_after_seconds": wait * 60}
    )


@given(
    "requests to the {system:System} take about {delay:Duration} longer",
    "requests to the ERP take about 2 seconds longer",
)
def latency(conformance: ScenarioUnderTest, system: str, delay: float) -> None:
    """Extra latency on the way to the system, lognormal around that median."""
    conformance.add_fault({"kind": "latency", "system": system, "median_ms": delay * 60_000, "sigma": 0.5})


@given("{share:Share} of the EHR's messages are delivered twice", "5% of the EHR's messages are delivered twice")
def duplicate_messages(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of HL7 messages reach the integration a second time, up to 30 minutes later."""
    conformance.add_fault({"kind": "duplicate", "source": "ehr", "rate": share})


@given(
    "{share:Share} of the vendor's invoices are delivered twice",
    "20% of the vendor's invoices are delivered twice",
)
def duplicate_invoices(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of the vendor portal's invoice webhooks arrive twice."""
    conformance.add_fault({"kind": "duplicate", "source": "vendor", "rate": share})


@given(
    "{share:Share} of the EHR's messages are overtaken by the next message",
    "10% of the EHR's messages are overtaken by the next message",
)
def reordered(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of HL7 messages arrive after the message the EHR sent next on the same channel."""
    conformance.add_fault({"kind": "reorder", "source": "ehr", "rate": share})


@given("{share:Share} of the EHR's messages arrive malformed", "2% of the EHR's messages arrive malformed")
def poison(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of HL7 messages arrive broken (bad MSH, missing PID, broken escapes, wrong encoding,
    truncated); the EHR can supply each again, as it should have been, when asked."""
    conformance.add_fault({"kind": "poison", "source": "ehr", "rate": share})


@given(
    "the vendor portal changes its invoice schema from day {day:Count}",
    "the vendor portal changes its invoice schema from day 1",
)
def schema_drift(conformance: ScenarioUnderTest, day: int) -> None:
    """The vendor's API moves to a new version that renames invoice fields, unannounced."""
    conformance.add_fault({"kind": "schema_drift", "system": "vendor", "from_day": _from_day(day)})


@given(
    "the {system:System} revokes its access tokens every {period:Duration}",
    "the ERP revokes its access tokens every 4 hours",
)
def expiring_tokens(conformance: ScenarioUnderTest, system: str, period: float) -> None:
    """The system wants a bearer token and revokes it periodically: requests then get 401."""
    conformance.add_fault({"kind": "expired_token", "system": system, "every_hours": period / 60})


@given(
    "{share:Share} of the EHR's charge messages name a department code nobody has governed yet",
    "5% of the EHR's charge messages name a department code nobody has governed yet",
)
def unmapped_codes(conformance: ScenarioUnderTest, share: float) -> None:
    """A share of charge messages carry, on one line, a new EHR code for an existing department."""
    conformance.add_fault({"kind": "unmapped", "domain": "department", "rate": share})


@given(
    "the support team reviews the dead-letter queue every {period:Duration}",
    "the support team reviews the dead-letter queue every 4 hours",
)
def support_rounds(conformance: ScenarioUnderTest, period: float) -> None:
    """How often people work the integration's dead letters: repair and replay what they can."""
    conformance.set("operations.dlq_review_hours", period / 60)


@given(
    "the EHR resends a message after {wait:Duration} without an acknowledgement",
    "the EHR resends a message after 5 minutes without an acknowledgement",
)
def ack_timeout(conformance: ScenarioUnderTest, wait: float) -> None:
    """The EHR's sender waits this long for an ACK before it sends the message again."""
    conformance.set("operations.ack_timeout_minutes", wait)
