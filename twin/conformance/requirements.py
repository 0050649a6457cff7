"""The requirements the conformance suite traces to: one id per guarantee, each tied to the brief.

Every scenario in a feature file carries at least one ``@req-...`` tag naming an entry here. The
runner registers each id as a pytest marker (so ``--tags req-resilience-outage`` selects by
requirement), refuses a feature that uses a ``req-`` tag this registry does not know (a typo
would otherwise silently trace to nothing), and builds the report's coverage matrix from it:
requirement -> scenarios -> verdict. ``section`` quotes where in the brief
(``shared/BRIEF.txt``) the requirement comes from, so a reader can check the trace.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUIREMENT_PREFIX = "req-"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One guarantee an integration must give, in a sentence, and where the brief asks for it."""

    id: str
    area: str  # the feature folder that exercises it
    statement: str
    section: str  # the brief's section (and the phrase) it traces to


# Sections of the brief, as its headings and tables name them.
_SCENARIO_ONE = "Realistic enterprise scenarios: scenario one, revenue cycle coordination"
_SCENARIO_TWO = "Realistic enterprise scenarios: scenario two, perioperative supply chain synchronization"
_SCENARIO_THREE = "Realistic enterprise scenarios: scenario three, workforce and cost accounting"
_REPORTING = "Operational areas table: executive reporting (unified observability, cross-platform data services)"
_GOVERNANCE = "What a modern interoperability model looks like: master data governance"
_SCALABILITY = "Scalability, resilience, and executive recommendations: acquisitions, new care sites"
_HYBRID = "What a modern interoperability model looks like: the right synchronization pattern per workflow"
_MIDDLEWARE = "API governance and middleware modernization: dead-letter queues, replay, circuit breakers, retries"
_RESILIENCE_FAQ = "FAQ: the most important resilience controls"
_SAAS = "Cloud ERP modernization and SaaS integration: token management, schema change monitoring"
_STANDARDS = "Reference architecture: mediating HL7 or FHIR-based clinical exchanges; API governance: error contracts"

REQUIREMENTS: tuple[Requirement, ...] = (
    # discharge to billing
    Requirement(
        "req-discharge-billing-sequencing",
        "discharge-to-billing",
        "A revenue journal, receivable or claim is posted only after coding completes, and the journal before the "
        "claim.",
        _SCENARIO_ONE + ' ("sequence these dependencies")',
    ),
    Requirement(
        "req-discharge-billing-exactly-once",
        "discharge-to-billing",
        "Every coded encounter is billed exactly once: nothing lost, nothing posted twice, nothing invented.",
        _SCENARIO_ONE + ' ("before they become revenue leakage")',
    ),
    Requirement(
        "req-discharge-billing-amounts",
        "discharge-to-billing",
        "Journal, receivable and claim carry the encounter's net charges to the cent, per cost center, payer and "
        "diagnosis.",
        _SCENARIO_ONE + ' ("charge validation")',
    ),
    Requirement(
        "req-discharge-billing-exceptions",
        "discharge-to-billing",
        "An encounter whose coding runs past the deadline is raised as an exception for a person to act on.",
        _SCENARIO_ONE + ' ("surface exceptions")',
    ),
    Requirement(
        "req-discharge-billing-late-charges",
        "discharge-to-billing",
        "A charge that reaches billing after the bill went out is billed - by an adjusting journal and a replacement "
        "claim, or by a bill held until it came - never only reported.",
        _SCENARIO_ONE + ' ("finance teams work from incomplete data")',
    ),
    Requirement(
        "req-adt-coverage-update",
        "discharge-to-billing",
        "A visit whose coverage registration corrects (ADT^A08) bills the payer current at coding.",
        _SCENARIO_ONE + ' ("finance teams work from incomplete data")',
    ),
    Requirement(
        "req-adt-cancellations",
        "discharge-to-billing",
        "A registration cancelled as entered in error (ADT^A11) never bills; a cancelled discharge (A13) is not the "
        "discharge the claim bills; a cancelled transfer (A12) is accepted and changes nothing billed.",
        _SCENARIO_ONE + ' ("only transfers a discharge record but does not coordinate coding completion")',
    ),
    Requirement(
        "req-adt-merge",
        "discharge-to-billing",
        "A visit registered under a duplicate MRN that is merged into the patient's record (ADT^A40) bills under the "
        "surviving MRN.",
        _GOVERNANCE + " (patient identity as master data)",
    ),
    Requirement(
        "req-adt-claim-rejection",
        "discharge-to-billing",
        "A claim the payer's front end rejects is raised as an exception, and sent again - billed once - when "
        "registration corrects what the rejection named (a mistyped member id, by an ADT^A08).",
        _SCENARIO_ONE + ' ("surface exceptions before they become revenue leakage")',
    ),
    Requirement(
        "req-adt-encounter-types",
        "discharge-to-billing",
        "Emergency and outpatient visits (ADT^A04) and observation stays are billed like stays, on the claim type "
        "their encounter type calls for.",
        'What a modern interoperability model looks like: governed APIs for "patient financial events" and '
        '"encounter-linked charge events"',
    ),
    Requirement(
        "req-discharge-billing-visibility",
        "discharge-to-billing",
        "Revenue is visible in the ERP and the claim at the clearinghouse within the allowed lag of coding.",
        "Operational areas table: patient billing (delayed revenue visibility -> event-driven charge orchestration)",
    ),
    # clinical usage to inventory
    Requirement(
        "req-usage-inventory-near-real-time",
        "usage-to-inventory",
        "Every supply line documented in the OR is issued once in ERP inventory, in order per item-location, "
        "within the allowed lag.",
        _SCENARIO_TWO + ' ("real-time or near real-time orchestration")',
    ),
    Requirement(
        "req-usage-inventory-stock-accuracy",
        "usage-to-inventory",
        "On-hand stock per item-location equals opening stock plus receipts minus usage at every quiet point.",
        _SCENARIO_TWO + ' ("inventory counts drift")',
    ),
    Requirement(
        "req-usage-inventory-replenishment",
        "usage-to-inventory",
        "A replenishment order is raised once each time an item-location falls to its reorder point, and every "
        "vendor invoice is paid once, only on a three-way match.",
        _SCENARIO_TWO + ' ("trigger replenishment logic")',
    ),
    Requirement(
        "req-usage-inventory-cost-allocation",
        "usage-to-inventory",
        "Supply usage is costed to the service line of the case that used it.",
        _SCENARIO_TWO + ' ("allocate costs to the correct service line")',
    ),
    # labor cost allocation
    Requirement(
        "req-labor-cost-allocation",
        "labor-cost",
        "Labor cost per cost center and work date equals hours times rates, in balanced journals.",
        _SCENARIO_THREE + ' ("labor costs ... accurately tied to patient care activity")',
    ),
    Requirement(
        "req-labor-scheduled-sync",
        "labor-cost",
        "The scheduled labor sync posts every closed work date, with patient days for unit costs, within the "
        "allowed lag.",
        "Scenario table: labor cost allocation (scheduled synchronization plus validation services)",
    ),
    # executive reporting
    Requirement(
        "req-executive-kpi-consistency",
        "executive-reporting",
        "Every KPI on the executive dashboard agrees with the systems of record, on time.",
        _REPORTING + ' ("inconsistent KPIs")',
    ),
    Requirement(
        "req-executive-kpi-lineage",
        "executive-reporting",
        "Every KPI carries its lineage back to the source records behind it, and nothing else.",
        "Scenario table: executive operational reporting (metric definition and lineage governance)",
    ),
    # master data
    Requirement(
        "req-master-data-exceptions",
        "master-data",
        "A code missing from a target or retired there is raised as an exception naming the code set and code, "
        "never silently dropped.",
        _GOVERNANCE + ' ("align providers, departments, locations, items, vendors, and cost centers")',
    ),
    Requirement(
        "req-master-data-replay",
        "master-data",
        "Once the data steward publishes the fix, the parked work is posted exactly once to the governed codes.",
        "Scenario table: master data alignment (item and supplier data stewardship, reference data governance)",
    ),
    Requirement(
        "req-master-data-onboarding",
        "master-data",
        "An acquired hospital with its own code sets and HL7 version is onboarded by crosswalk entries, without "
        "losing or inventing anything.",
        _SCALABILITY,
    ),
    Requirement(
        "req-pattern-per-workflow",
        "discharge-to-billing",
        "A hybrid design keeps the time-critical flows (billing, supply usage) within their allowed lag.",
        _HYBRID,
    ),
    # resilience
    Requirement(
        "req-resilience-outage",
        "resilience",
        "A target outage loses nothing and posts nothing twice; the backlog lands soon after the target is back.",
        _RESILIENCE_FAQ + ' ("asynchronous queues ... failover design")',
    ),
    Requirement(
        "req-resilience-idempotency",
        "resilience",
        "Lost responses and redelivered messages never post a business document twice.",
        _MIDDLEWARE + ' ("silent integration failures")',
    ),
    Requirement(
        "req-resilience-ordering",
        "resilience",
        "A reordered feed is processed in the order the source wrote it.",
        _SCENARIO_ONE + ' ("sequence these dependencies"); ' + _MIDDLEWARE,
    ),
    Requirement(
        "req-resilience-dead-letter",
        "resilience",
        "A message the integration cannot process is parked in its dead-letter queue with the reason.",
        _MIDDLEWARE + ' ("dead-letter queues")',
    ),
    Requirement(
        "req-resilience-replay",
        "resilience",
        "Dead letters are replayed once repaired, and what they carry is then posted exactly once.",
        _MIDDLEWARE + ' ("replay support")',
    ),
    Requirement(
        "req-resilience-circuit-breaker",
        "resilience",
        "While a target is down the integration holds its requests back instead of hammering it.",
        _MIDDLEWARE + ' ("circuit breakers")',
    ),
    Requirement(
        "req-resilience-retry-policy",
        "resilience",
        "Transient errors are retried until they succeed, never sooner than the target's Retry-After.",
        _MIDDLEWARE + ' ("policy-based retries"); ' + _RESILIENCE_FAQ,
    ),
    Requirement(
        "req-resilience-token-refresh",
        "resilience",
        "An expired access token is renewed and the refused request sent again, without loss.",
        _SAAS + ' ("secure token management")',
    ),
    Requirement(
        "req-resilience-schema-drift",
        "resilience",
        "A SaaS document whose schema drifted is parked with the reason, not guessed at, and posted once repaired.",
        _SAAS + ' ("schema change monitoring")',
    ),
    # message standards
    Requirement(
        "req-standards-hl7-ack",
        "message-standards",
        "Every HL7 v2 message is acknowledged, the ACK echoes its control id (MSH-10 in MSA-2), and AA means accepted.",
        _STANDARDS,
    ),
    Requirement(
        "req-standards-hl7-error-contract",
        "message-standards",
        "A message that cannot be read is answered AE or AR with an ERR segment naming the problem.",
        _STANDARDS + ' ("error contracts")',
    ),
    Requirement(
        "req-standards-fhir-claim",
        "message-standards",
        "Every claim the integration submits is a valid FHIR R4 Claim resource.",
        _STANDARDS + ' ("healthcare interoperability standards")',
    ),
)

BY_ID: dict[str, Requirement] = {requirement.id: requirement for requirement in REQUIREMENTS}


def is_requirement_tag(tag: str) -> bool:
    return tag.startswith(REQUIREMENT_PREFIX)


def unknown_requirements(tags: set[str] | frozenset[str] | list[str]) -> list[str]:
    """The ``req-`` tags among ``tags`` that name no registered requirement, sorted."""
    return sorted(tag for tag in tags if is_requirement_tag(tag) and tag not in BY_ID)
