"""The verdict of a load: the profile's SLOs on Locust's statistics, the end-to-end latency from the
judge's observations, and the synchronization check - one table, one JSON file, one exit code.

Locust's CSV (``locust_stats.csv``) gives per request name its count, failures and percentiles; the
end-to-end latency is the judge's own measure (its summary, so a stack ``twin serve`` runs is judged
the same way) - from the world's event (coding done, a case's
supplies used) to the record landing in the ERP - turned into wall seconds at the run's speed. The
synchronization check is the judge's: after every load nothing may be lost, posted twice, invented,
out of order or wrong; lateness is the latency SLOs' to judge, and is shown beside them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from twin.loadtest.profiles import Profile
from twin.observe.expectations import BILLING
from twin.observe.replenishment import SUPPLY

E2E_FLOWS = (BILLING, SUPPLY)  # the flows whose records land in the ERP from an EHR event
SYNC_CLASSES = ("lost", "duplicated", "unexpected", "out_of_order", "wrong_value")
AGGREGATED = "Aggregated"


@dataclass(frozen=True, slots=True)
class Check:
    slo: str  # what is checked: "p95 MLLP DFT^P03", "failure ratio", "sync: lost", ...
    measured: float | None
    limit: float | None
    unit: str
    passed: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Stat:
    kind: str
    name: str
    requests: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None
    rps: float

    @property
    def key(self) -> str:
        return f"{self.kind} {self.name}".strip()


def read_stats(path: Path) -> list[Stat]:
    """Locust's ``*_stats.csv``: one row per request name and the aggregate."""
    if not path.is_file():
        raise FileNotFoundError(f"Locust wrote no statistics at {path}: see its log beside it")
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append(Stat(
                row["Type"], row["Name"], int(row["Request Count"]), int(row["Failure Count"]),
                _number(row.get("50%")), _number(row.get("95%")), _number(row.get("99%")),
                float(row.get("Requests/s") or 0),
            ))  # fmt: skip
    return rows


def _number(text: str | None) -> float | None:
    if text in (None, "", "N/A"):
        return None
    return float(text)


def e2e_p95_seconds(summary: dict[str, Any], speed: float) -> tuple[float | None, int]:
    """The judge's 95th percentile of event-to-ERP latency, in wall seconds: the worst of the ERP
    flows' (a summary's time to consistency is in simulated minutes), and how many records it covers."""
    worst: float | None = None
    records = 0
    for name in E2E_FLOWS:
        flow = summary["flows"].get(name)
        if flow is None:
            continue
        records += int(flow["matched_records"])
        p95 = flow["time_to_consistency_minutes"].get("p95")
        if p95 is not None:
            worst = max(worst or 0.0, p95 * 60 / speed)
    return worst, records


def evaluate(profile: Profile, stats: list[Stat], summary: dict[str, Any], speed: float) -> list[Check]:
    """Every SLO of ``profile`` and the sync check (from the judge's ``summary``), each passed or not."""
    slo = profile.slo
    checks: list[Check] = []
    named = [s for s in stats if s.name != AGGREGATED]
    for stat in named:
        for label, measured in (("p95", stat.p95), ("p99", stat.p99)):
            limit = slo.threshold(label, stat.key)
            if limit is not None and measured is not None:
                checks.append(Check(f"{label} {stat.key}", measured, limit, "ms", measured <= limit))
    total = next((s for s in stats if s.name == AGGREGATED), None)
    requests = total.requests if total else sum(s.requests for s in named)
    failures = total.failures if total else sum(s.failures for s in named)
    ratio = failures / requests if requests else 1.0
    checks.append(Check("failure ratio", ratio, slo.failure_ratio, "", requests > 0 and ratio <= slo.failure_ratio,
                        f"{failures} of {requests} requests"))  # fmt: skip
    carried = sum(s.requests for s in named if s.kind == "MLLP")
    checks.append(Check("HL7 feed carried over MLLP", carried, None, "messages", carried > 0,
                        "a load that carried no message proves nothing"))  # fmt: skip
    if slo.e2e_p95_seconds is not None:
        p95, records = e2e_p95_seconds(summary, speed)
        checks.append(Check("e2e p95 EHR event -> ERP posting", p95, slo.e2e_p95_seconds, "s",
                            p95 is not None and p95 <= slo.e2e_p95_seconds, f"{records} records"))  # fmt: skip
    flows = summary["flows"].values()
    counts = {kind: sum(int(flow["differences"][kind]) for flow in flows) for kind in (*SYNC_CLASSES, "stale")}
    for kind in SYNC_CLASSES:
        checks.append(Check(f"sync: {kind}", counts[kind], 0, "records", counts[kind] == 0))
    checks.append(Check("sync: something to judge", sum(int(f["expected_records"]) for f in flows), None, "records",
                        bool(summary.get("judged"))))  # fmt: skip
    checks.append(Check("sync: stale (latency, shown)", counts["stale"], None, "records", True,
                        "late records: the latency SLOs judge lateness"))  # fmt: skip
    return checks


def verdict_json(profile: Profile, checks: list[Check], stats: list[Stat], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "passed": all(check.passed for check in checks),
        "failed": [check.slo for check in checks if not check.passed],
        "checks": [asdict(check) for check in checks],
        "requests": [asdict(stat) | {"key": stat.key} for stat in stats],
        **extra,
    }


def write_verdict(path: Path, verdict: dict[str, Any]) -> None:
    path.write_text(json.dumps(verdict, indent=2, sort_keys=True) + "\n", encoding="utf-8")


TWIN_LAG_LIMIT = 0.1  # seconds: the world's loop firing timers later than this is the twin saturated


def twin_kept_up(resources: dict[str, Any]) -> Check | None:
    """Whether the twin itself kept pace with the load: the world and the mock systems share one
    event loop, and when it is saturated the mocks answer the integration late and the world's
    schedule slips, so what the judge then finds is about the twin, not the integration. A failed
    check that says so, rather than an out-of-sync verdict blamed on the integration (``None``:
    nothing was watched, as against a ``--target`` stack)."""
    lag = (resources.get("world_loop_lag_seconds") or {}).get("p95")
    if lag is None:
        return None
    return Check("the twin kept up (world's loop lag p95)", lag, TWIN_LAG_LIMIT, "s", lag <= TWIN_LAG_LIMIT,
                 "above it the rate overran the twin's world and mocks (one core): lower --scale")  # fmt: skip
