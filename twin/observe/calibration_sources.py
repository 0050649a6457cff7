"""The published figures ``twin run --calibration`` sets the simulated network beside, cited exactly.

Each reference is what its source states - a range, the values two sources give, a one-sided
benchmark, or a single figure - with the source, its year, the year of its data and the
population it describes. None is widened to fit the twin: where a source gives one figure there
is no range, and the table shows the twin's value beside it with the gap instead of a verdict;
where no published figure was found the table says so. Several revenue-cycle benchmarks exist
only as practitioners' figures (consultancies, vendors' guides) with no stated population: they
are cited as such. Authors' names stay out of the printed citations (a report must not print a
name that could be a patient's); the research behind each entry, with quotes and addresses, is in
``calibration_sources.md`` beside this file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reference:
    """A published figure for one statistic: ``low``-``high`` (either may be ``None``: one-sided, or a
    single figure ``low == high``; both ``None``: no published figure found)."""

    statistic: str
    unit: str
    low: float | None
    high: float | None
    source: str  # who published it, what, when; what the figure is of (data year, population)
    kind: str = "range"  # "range" | "sources" (the values two sources give) | "below" | "figure" | "none"

    def judge(self, value: float) -> bool | None:
        """Whether ``value`` is inside the reference; ``None`` where a single figure or none is published."""
        if self.kind in ("figure", "none") or (self.low is None and self.high is None):
            return None
        if self.low is not None and value < self.low:
            return False
        if self.high is None:
            return True
        return value < self.high if self.kind == "below" else value <= self.high

    def shown(self) -> str:
        if self.kind == "none":
            return "none published"
        if self.kind == "below":
            return f"< {self.high:g}"
        if self.kind == "figure":
            return f"{self.low:g}"
        return f"{self.low:g}-{self.high:g}"


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "average length of stay (inpatient)",
        "days",
        4.5,
        5.4,
        "AHRQ HCUP Statistical Brief #180 (Oct 2014): 4.5 days, all stays in US community "
        "hospitals, 2012; AHA TrendWatch Chartbook 2011, chart 3.5: 5.4 days, US community hospitals, 2009",
        "sources",
    ),
    Reference(
        "bed occupancy",
        "%",
        63.9,
        75.3,
        "JAMA Network Open research letter on US hospital occupancy (UCLA, Feb 2025; US hospitals reporting to "
        "HHS): 63.9% mean 2009-2019, 75.3% May 2023-Apr 2024",
        "sources",
    ),
    Reference(
        "OR cases per room per weekday",
        "cases",
        None,
        None,
        "no published benchmark for hospital ORs: the OR-management FAQ of the University of Iowa's OR management "
        'research group says the US figure "is not known, nor can it be known"',
        "none",
    ),
    Reference(
        "emergency visits per inpatient admission",
        "visits",
        3.29,
        3.45,
        "treat-and-release ED visits per inpatient stay, US, ratios derived here: 3.29 for 2011-12 (CDC NHAMCS "
        "2011, FastStats: 136.3 million ED visits, 120.1 million treated and released; AHRQ HCUP Statistical Brief "
        "#180: 36.5 million stays, 2012); 3.45 for 2018 (HCUP Statistical Brief #286, Dec 2021: 143.5 million ED "
        "visits, 86% treated and released; HCUP Fast Stats: 35.8 million stays, 2017)",
        "sources",
    ),
    Reference(
        "observation stays per inpatient admission",
        "stays",
        0.087,
        0.14,
        "Medicare fee-for-service: 0.087 in 2007 (86.9 observation stays per 1,000 inpatient admissions a month, "
        "enrollees 65+; Health Affairs 31(6), Jun 2012, as reported by Provider Magazine, Jul 2012); 0.14 in 2012 "
        "(HHS OIG OEI-02-12-00040, Jul 2013: 1.5 million observation stays not followed by admission; MedPAC "
        "March 2014: 10.4 million inpatient admissions; ratio derived here)",
        "sources",
    ),
    Reference(
        "days from discharge to final bill",
        "days",
        3.0,
        5.0,
        'JTS Health Partners, "DNFB in Healthcare" (undated practitioner guide, no population stated): a hold '
        "period after discharge 'usually between 3 to 5 days', after which the claim should be sent",
    ),
    Reference(
        "DNFB days",
        "days of gross revenue",
        None,
        5.0,
        'MD Clarity, "DNFB in Healthcare" (Jan 2023, practitioner benchmark, no population stated): "the combined '
        'DNFC/DNFB benchmark is less than five days"; computed by the HFMA MAP Keys definition (gross dollars in '
        "DNFB over average daily gross patient service revenue)",
        "below",
    ),
    Reference(
        "clean-claim rate",
        "% of claims",
        None,
        None,
        "HFMA MAP Key CL-1 defines it (claims passing all edits with no manual intervention); no published range "
        "with a traceable source was found (the 75-85% often quoted has none); the nearest traceable figure, an "
        "initial denial rate of 11.1% of claims (Change Healthcare Denials Index 2020, via HFMA), counts payer "
        "denials, not front-end edits, so it is no clean-claim rate",
        "none",
    ),
    Reference(
        "supply share of operating expense",
        "%",
        13.0,
        15.0,
        "AHA, Costs of Caring (May 2024): supplies 13% of US hospital expenses (Strata Decision Technology, median "
        "2023; drugs 8% apart); Medical Care Research and Review 2017 (hospital supply expenses): 15% on average "
        "(AHA Annual Survey, 3,500+ US hospitals)",
        "sources",
    ),
    Reference(
        "drug share of operating expense",
        "%",
        4.4,
        8.0,
        "Strata Decision Technology report as reported by DOTmed News (May 2025): drugs 4.4% of total hospital "
        "expenses, Q1 2025 (4.1% in Q1 2023; US hospitals in Strata's benchmark data); AHA, Costs of Caring (May "
        "2024): drugs 8% of US hospital expenses (Strata median 2023) - the two count drug expense differently",
        "sources",
    ),
    Reference(
        "labor share of operating expense",
        "%",
        56.0,
        60.0,
        "AHA, The Cost of Caring (Apr 2025): total compensation and related expenses 56% of US hospital costs, "
        "2024; AHA, Costs of Caring (May 2024): labor 60%, including purchased services and professional fees, "
        "2023 (both Strata Decision Technology benchmark data)",
        "sources",
    ),
)
