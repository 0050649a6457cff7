"""The operations each mock system offers over HTTP, with the scope each needs.

One ``SystemApi`` per system: the routes its sans-IO object answers (``mocks/``), named as the
system's OpenAPI document shows them. Scopes follow SMART Backend Services (``system/<Resource>.c``
to create, ``.s`` to search). The EHR's FHIR R4 API is its own app (``twin.live.apps.fhir``); its
reporting extract is here.

Each command's body and each query's parameters are declared with the fields the system reads, so
the document tells a client what to send and a fuzzer what to vary. The declarations describe; the
systems decide: a body off its schema reaches the system, and the system's 422 says which field.
"""

from __future__ import annotations

from typing import Any

from twin.domain.accounts import ACCOUNTS, STATISTICS
from twin.domain.kpis import KPI_UNITS
from twin.live.apps.common import Param, Route, SystemApi

STRING: dict[str, Any] = {"type": "string"}
TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
MINUTES: dict[str, Any] = {"type": "number", "description": "simulated minutes"}
NUMBER: dict[str, Any] = {"type": "number"}
CENTS: dict[str, Any] = {"type": "integer", "minimum": 0, "description": "cents"}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 1}


def obj(required: str = "", /, **properties: Any) -> dict[str, Any]:
    """A JSON object schema: its ``properties``, the space-separated names in ``required``."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    return {**schema, "required": required.split()} if required else schema


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


WINDOW = (
    Param("posted_from", "simulated minute, inclusive: postings from then", MINUTES),
    Param("posted_before", "simulated minute, exclusive: postings before then", MINUTES),
)
LINE = obj("account cost_center", account={"type": "string", "enum": sorted(ACCOUNTS)}, cost_center=TEXT,
           debit=CENTS, credit=CENTS)  # fmt: skip
JOURNAL = obj(
    "reference lines", reference=TEXT, source=STRING, lines={**array(LINE), "minItems": 1},
    adjusts={**STRING, "description": "the journal this one adjusts (same reference and source)"},
    receivable=obj("customer invoice amount", customer=TEXT, invoice=TEXT,
                   amount={"type": "integer", "description": "cents: the journal's receivable debit"}),
)  # fmt: skip
STATISTIC = obj("reference account cost_center day quantity", reference=TEXT,
                account={"type": "string", "enum": sorted(STATISTICS)}, cost_center=TEXT, day=DATE,
                quantity={"type": "integer", "minimum": 0})  # fmt: skip
ISSUE = obj("reference location item cost_center quantity", reference=TEXT, location=TEXT, item=TEXT,
            cost_center=TEXT, quantity=COUNT, case=STRING)  # fmt: skip
PURCHASE_ORDER = obj("location item quantity", location=TEXT, item=TEXT, quantity=COUNT, reference=STRING)
AP_INVOICE = obj("vendor_invoice po quantity amount", vendor_invoice=TEXT, po=TEXT, quantity=COUNT, amount=CENTS)
ERP = SystemApi(
    "erp",
    "ERP (mock): finance, inventory, purchasing, payables",
    "General ledger and receivables, inventory, purchasing and payables of the network's ERP. Every write "
    "honours `Idempotency-Key`: the same key again gets the first answer and posts nothing.",
    (
        Route("POST", "/finance/journals", "system/Journal.c", "Post a journal (revenue, labor, adjustment)",
              tag="finance", body=JOURNAL),
        Route("GET", "/finance/journals", "system/Journal.s", "Journals posted in a window",
              (*WINDOW, Param("source", "journal source, e.g. patient-billing")), tag="finance"),
        Route("POST", "/finance/statistics", "system/Statistic.c", "Post a statistic (patient days, hours)",
              tag="finance", body=STATISTIC),
        Route("GET", "/finance/statistics", "system/Statistic.s", "Statistics posted in a window",
              (*WINDOW, Param("account", "statistical account"), Param("day", "ISO date", DATE)), tag="finance"),
        Route("GET", "/finance/ar-items", "system/ArItem.s", "Receivable items posted in a window", WINDOW,
              tag="finance"),
        Route("GET", "/finance/cost-centers", "system/CostCenter.s", "Cost centers with their status",
              tag="finance"),
        Route("POST", "/inventory/issues", "system/InventoryIssue.c", "Issue stock to a case", tag="inventory",
              body=ISSUE),
        Route("GET", "/inventory/issues", "system/InventoryIssue.s", "Stock issues posted in a window", WINDOW,
              tag="inventory"),
        Route("GET", "/inventory/stock-outs", "system/StockOut.s", "Stock-outs in a window", WINDOW,
              tag="inventory"),
        Route("GET", "/inventory/counts", "system/CycleCount.s", "Cycle counts in a window", WINDOW,
              tag="inventory"),
        Route("POST", "/purchasing/orders", "system/PurchaseOrder.c", "Raise a purchase order", tag="purchasing",
              body=PURCHASE_ORDER),
        Route("POST", "/payables/invoices", "system/ApInvoice.c", "Enter a vendor invoice (three-way match)",
              tag="payables", body=AP_INVOICE,
              also=((202, "entered and held: no three-way match yet (hold says why); paid when it matches"),)),
    ),
)  # fmt: skip

HCM = SystemApi(
    "hcm",
    "HCM (mock): workforce, timecards, payroll",
    "Read-only workforce API: approved timecards per work date, payroll runs, org units.",
    (
        Route("GET", "/timecards", "system/Timecard.s", "Timecards of a work date",
              (Param("work_date", "ISO date (YYYY-MM-DD)", DATE, required=True),), tag="time"),
        Route("GET", "/payroll/runs", "system/PayrollRun.s", "Payroll runs", tag="payroll"),
        Route("GET", "/org-units", "system/OrgUnit.s", "Org units", tag="organization"),
    ),
)  # fmt: skip

IDENTIFIER = obj("value", system=STRING, value=STRING)
CONCEPT = obj(coding=array(obj(system=STRING, code=STRING)))
MONEY = obj("value", value=NUMBER, currency=STRING)
CLAIM = obj(  # the FHIR R4 Claim's elements the scrubber reads
    "resourceType identifier insurer patient diagnosis item total billablePeriod",
    resourceType={"type": "string", "enum": ["Claim"]},
    identifier=array(IDENTIFIER),
    insurer=obj("identifier", identifier=IDENTIFIER),
    provider=obj(identifier=IDENTIFIER),
    patient=obj("reference", reference=TEXT),
    diagnosis=array(obj("sequence", sequence=COUNT, diagnosisCodeableConcept=CONCEPT, packageCode=CONCEPT)),
    item=array(obj("sequence net", sequence=COUNT, net=MONEY)),
    total=MONEY,
    billablePeriod=obj("start end", start=TEXT, end=TEXT),
    related=array(obj(claim=obj(identifier=IDENTIFIER), relationship=CONCEPT)),
)

CLEARINGHOUSE = SystemApi(
    "clearinghouse",
    "Claims clearinghouse (mock)",
    "Takes FHIR R4 Claims, scrubs them against payer rules, answers accepted (201) or rejected (422 with the "
    "reasons). A replacement claim names the claim it replaces (`Claim.related`, relationship prior).",
    (
        Route("POST", "/claims", "system/Claim.c", "Submit a claim", tag="claims", body=CLAIM),
        Route("GET", "/claims", "system/Claim.s", "Accepted claims received in a window",
              (Param("received_from", "simulated minute, inclusive", MINUTES),
               Param("received_before", "simulated minute, exclusive", MINUTES)),
              tag="claims"),
    ),
)  # fmt: skip

VENDOR_ORDER = obj("vendor po item location quantity", vendor=TEXT, po=TEXT, item=TEXT, location=TEXT,
                   quantity=COUNT, unit_price=CENTS)  # fmt: skip

VENDOR = SystemApi(
    "vendor",
    "Vendor portal (mock)",
    "Takes purchase orders, confirms them with a ship date; ships when the lead time is over and pushes the "
    "invoice to the buyer's integration (a webhook).",
    (Route("POST", "/orders", "system/VendorOrder.c", "Place a vendor order", tag="orders", body=VENDOR_ORDER),),
)

KPI = obj("kpi unit scope period value lineage as_of", kpi={"type": "string", "enum": sorted(KPI_UNITS)},
          unit=STRING, scope=TEXT, period=DATE, value=NUMBER, lineage=array(TEXT),
          as_of={**MINUTES, "description": "the data cut the value was computed from, simulated minutes"})  # fmt: skip

DASHBOARD = SystemApi(
    "dashboard",
    "Executive dashboard (mock)",
    "Executive KPIs, each with its lineage back to the source records.",
    (
        Route("POST", "/kpis", "system/Kpi.c", "Publish a KPI value", tag="kpis", body=KPI),
        Route("GET", "/kpis", "system/Kpi.s", "KPIs shown",
              (Param("kpi", "KPI name"), Param("scope", "hospital or cost center"), Param("period", "ISO date", DATE)),
              tag="kpis"),
    ),
)  # fmt: skip

DISCHARGE_WINDOW = (
    Param("discharged_from", "simulated minute, inclusive", MINUTES),
    Param("discharged_before", "simulated minute, exclusive", MINUTES, required=True),
)
DISCHARGE_QUERY = obj(
    "discharged_before", discharged_from=MINUTES, discharged_before=MINUTES,
    refresh={"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
             "description": "visit number -> the charge lines the caller has: these charts too, if they hold more"},
)  # fmt: skip

EHR_REPORTING = SystemApi(
    "ehr",
    "EHR reporting extract (mock)",
    "Discharged encounters with their charges, for revenue-cycle reports (DNFB). Times are simulated minutes, "
    "so the query goes as `POST /reporting/discharges/_search` with a JSON body.",
    (
        Route("GET", "/reporting/discharges", "system/Encounter.s", "Encounters discharged in a window",
              DISCHARGE_WINDOW, tag="reporting", body=DISCHARGE_QUERY),
    ),
)  # fmt: skip

APIS = {api.system: api for api in (ERP, HCM, CLEARINGHOUSE, VENDOR, DASHBOARD, EHR_REPORTING)}
