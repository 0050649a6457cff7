"""The operations each mock system offers over HTTP, with the scope each needs.

One ``SystemApi`` per system: the routes its sans-IO object answers (``mocks/``), named as the
system's OpenAPI document shows them. Scopes follow SMART Backend Services (``system/<Resource>.c``
to create, ``.s`` to search). The EHR's FHIR R4 API is its own app (``twin.live.apps.fhir``); its
reporting extract is here.
"""

from __future__ import annotations

from twin.live.apps.common import Route, SystemApi

WINDOW = (
    ("posted_from", "simulated minute, inclusive: postings from then"),
    ("posted_before", "simulated minute, exclusive: postings before then"),
)

ERP = SystemApi(
    "erp",
    "ERP (mock): finance, inventory, purchasing, payables",
    "General ledger and receivables, inventory, purchasing and payables of the network's ERP. Every write "
    "honours `Idempotency-Key`: the same key again gets the first answer and posts nothing.",
    (
        Route("POST", "/finance/journals", "system/Journal.c", "Post a journal (revenue, labor, adjustment)",
              tag="finance"),
        Route("GET", "/finance/journals", "system/Journal.s", "Journals posted in a window",
              (*WINDOW, ("source", "journal source, e.g. REVENUE")), tag="finance"),
        Route("POST", "/finance/statistics", "system/Statistic.c", "Post a statistic (patient days, hours)",
              tag="finance"),
        Route("GET", "/finance/statistics", "system/Statistic.s", "Statistics posted in a window",
              (*WINDOW, ("account", "statistical account"), ("day", "ISO date")), tag="finance"),
        Route("GET", "/finance/ar-items", "system/ArItem.s", "Receivable items posted in a window", WINDOW,
              tag="finance"),
        Route("GET", "/finance/cost-centers", "system/CostCenter.s", "Cost centers with their status",
              tag="finance"),
        Route("POST", "/inventory/issues", "system/InventoryIssue.c", "Issue stock to a case", tag="inventory"),
        Route("GET", "/inventory/issues", "system/InventoryIssue.s", "Stock issues posted in a window", WINDOW,
              tag="inventory"),
        Route("GET", "/inventory/stock-outs", "system/StockOut.s", "Stock-outs in a window", WINDOW,
              tag="inventory"),
        Route("GET", "/inventory/counts", "system/CycleCount.s", "Cycle counts in a window", WINDOW,
              tag="inventory"),
        Route("POST", "/purchasing/orders", "system/PurchaseOrder.c", "Raise a purchase order", tag="purchasing"),
        Route("POST", "/payables/invoices", "system/ApInvoice.c", "Enter a vendor invoice (three-way match)",
              tag="payables"),
    ),
)  # fmt: skip

HCM = SystemApi(
    "hcm",
    "HCM (mock): workforce, timecards, payroll",
    "Read-only workforce API: approved timecards per work date, payroll runs, org units.",
    (
        Route("GET", "/timecards", "system/Timecard.s", "Timecards of a work date",
              (("work_date", "ISO date (YYYY-MM-DD)"),), tag="time"),
        Route("GET", "/payroll/runs", "system/PayrollRun.s", "Payroll runs", tag="payroll"),
        Route("GET", "/org-units", "system/OrgUnit.s", "Org units", tag="organization"),
    ),
)  # fmt: skip

CLEARINGHOUSE = SystemApi(
    "clearinghouse",
    "Claims clearinghouse (mock)",
    "Takes FHIR R4 Claims, scrubs them against payer rules, answers accepted (201) or rejected (422 with the "
    "reasons). A replacement claim names the claim it replaces (`Claim.related`, relationship prior).",
    (
        Route("POST", "/claims", "system/Claim.c", "Submit a claim", tag="claims"),
        Route("GET", "/claims", "system/Claim.s", "Accepted claims received in a window",
              (("received_from", "simulated minute, inclusive"), ("received_before", "simulated minute, exclusive")),
              tag="claims"),
    ),
)  # fmt: skip

VENDOR = SystemApi(
    "vendor",
    "Vendor portal (mock)",
    "Takes purchase orders, confirms them with a ship date; ships when the lead time is over and pushes the "
    "invoice to the buyer's integration (a webhook).",
    (Route("POST", "/orders", "system/VendorOrder.c", "Place a vendor order", tag="orders"),),
)

DASHBOARD = SystemApi(
    "dashboard",
    "Executive dashboard (mock)",
    "Executive KPIs, each with its lineage back to the source records.",
    (
        Route("POST", "/kpis", "system/Kpi.c", "Publish a KPI value", tag="kpis"),
        Route("GET", "/kpis", "system/Kpi.s", "KPIs shown",
              (("kpi", "KPI name"), ("scope", "hospital or cost center"), ("period", "ISO date")), tag="kpis"),
    ),
)  # fmt: skip

EHR_REPORTING = SystemApi(
    "ehr",
    "EHR reporting extract (mock)",
    "Discharged encounters with their charges, for revenue-cycle reports (DNFB). Times are simulated minutes, "
    "so the query goes as `POST /reporting/discharges/_search` with a JSON body.",
    (
        Route("GET", "/reporting/discharges", "system/Encounter.s", "Encounters discharged in a window",
              (("discharged_from", "simulated minute, inclusive"),
               ("discharged_before", "simulated minute, exclusive (required)")), tag="reporting"),
    ),
)  # fmt: skip

APIS = {api.system: api for api in (ERP, HCM, CLEARINGHOUSE, VENDOR, DASHBOARD, EHR_REPORTING)}
