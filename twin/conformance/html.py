"""The HTML report of a conformance run: one self-contained file, no external assets, no script.

Top to bottom: the verdict counts, the requirement coverage matrix (requirement -> scenarios ->
verdict, every registered requirement, so a gap in coverage shows), then each feature with its
scenarios - steps with their status, the failure message, and the evidence tables: a failing
step's evidence open, the rest folded in ``<details>``. Everything is escaped; identifiers were
pseudonymised before they reached the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from twin.conformance.context import Evidence
from twin.conformance.plugin import ScenarioResult
from twin.conformance.runner import ConformRun

_CSS = """
:root { --pass:#1a7f37; --fail:#cf222e; --skip:#9a6700; --error:#8250df; --muted:#57606a; --line:#d0d7de;
        --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color:#1f2328;
       margin: 0 auto; max-width: 1180px; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 6px; }
h3 { font-size: 17px; margin: 26px 0 8px; }
.meta { color: var(--muted); margin: 0 0 18px; }
.meta code { background: var(--bg); padding: 1px 5px; border-radius: 4px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 18px; min-width: 120px; background: #fff; }
.card .n { font-size: 28px; font-weight: 650; } .card .l { color: var(--muted); text-transform: uppercase;
      font-size: 12px; letter-spacing: .04em; }
.card.pass .n { color: var(--pass); } .card.fail .n { color: var(--fail); } .card.skip .n { color: var(--skip); }
.card.error .n { color: var(--error); }
.banner { padding: 10px 14px; border-radius: 8px; font-weight: 600; margin: 8px 0 0; }
.banner.ok { background: #dafbe1; color: var(--pass); } .banner.bad { background: #ffebe9; color: var(--fail); }
.badge { display: inline-block; border-radius: 10px; padding: 0 9px; font-size: 12px; font-weight: 650; color: #fff;
         line-height: 20px; white-space: nowrap; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.skip { background: var(--skip); }
.badge.error { background: var(--error); } .badge.not-covered { background: #8c959f; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.req { white-space: nowrap; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
td .sc { display: block; margin: 1px 0; } td .sc a { color: inherit; }
.small { color: var(--muted); font-size: 13px; }
.scenario { border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 8px; padding: 10px 14px;
            margin: 12px 0; background: #fff; }
.scenario.pass { border-left-color: var(--pass); } .scenario.fail { border-left-color: var(--fail); }
.scenario.skip { border-left-color: var(--skip); } .scenario.error { border-left-color: var(--error); }
.scenario h4 { margin: 0 0 4px; font-size: 16px; } .tags { font-family: ui-monospace, monospace; font-size: 12px;
       color: var(--muted); }
ol.steps { list-style: none; padding: 0; margin: 8px 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
           font-size: 13px; }
ol.steps li { padding: 1px 0; } ol.steps .kw { font-weight: 700; }
ol.steps .st { display: inline-block; width: 18px; } .passed .st { color: var(--pass); }
.failed .st, .undefined .st { color: var(--fail); } .not-run { color: var(--muted); }
.message { background: #ffebe9; border-radius: 6px; padding: 8px 10px; margin: 8px 0; white-space: pre-wrap;
           font-family: ui-monospace, monospace; font-size: 13px; }
.message.skip { background: #fff8c5; }
.evidence { margin: 8px 0; } .evidence summary { cursor: pointer; font-weight: 600; }
.evidence .sum { margin: 4px 0; } .evidence.bad summary { color: var(--fail); }
.evidence table { font-size: 13px; } .evidence td { font-family: ui-monospace, monospace; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--line); padding-top: 10px; }
"""

_MARK = {"passed": "✓", "failed": "✗", "undefined": "?", "not run": "·"}


def _badge(verdict: str) -> str:
    css = verdict.replace(" ", "-")
    return f'<span class="badge {css}">{escape(verdict)}</span>'


def _anchor(result: ScenarioResult) -> str:
    return "s-" + re.sub(r"[^A-Za-z0-9]+", "-", result.nodeid).strip("-").lower()


def _table(columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _evidence(evidence: Evidence, message: str = "") -> str:
    state = "bad" if not evidence.passed else "good"
    opened = " open" if not evidence.passed else ""
    mark = "✗" if not evidence.passed else "✓"
    step = f' <span class="small">— {escape(evidence.step)}</span>' if evidence.step else ""
    table = _table(evidence.columns, evidence.rows) if evidence.columns and evidence.rows else ""
    return (
        f'<details class="evidence {state}"{opened}><summary>{mark} {escape(evidence.title)}{step}</summary>'
        + ("" if evidence.summary == message else f'<p class="sum">{escape(evidence.summary)}</p>')
        + f"{table}</details>"
    )


def _scenario(result: ScenarioResult) -> str:
    steps = "".join(
        f'<li class="{escape(step.status.replace(" ", "-"))}"><span class="st">{_MARK.get(step.status, "·")}</span>'
        f'<span class="kw">{escape(step.keyword)}</span> {escape(step.text)}'
        + (
            f' <span class="small">({step.duration:.2f} s)</span>'
            if step.status == "passed" and step.duration >= 0.05
            else ""
        )
        + "</li>"
        for step in result.steps
    )
    message = ""
    if result.message:
        css = "message skip" if result.verdict == "skip" else "message"
        message = f'<div class="{css}">{escape(result.message)}</div>'
    failing = [e for e in result.evidence if not e.passed]
    passing = [e for e in result.evidence if e.passed]
    evidence = "".join(_evidence(e, result.message) for e in failing + passing)
    setup = f'<div class="small">Scenario built: {escape(result.setup)}</div>' if result.setup else ""
    return (
        f'<section class="scenario {result.verdict}" id="{_anchor(result)}">'
        f"<h4>{_badge(result.verdict)} {escape(result.scenario)}</h4>"
        f'<div class="tags">{escape(" ".join("@" + t for t in result.tags))} · '
        f"{escape(result.feature_file)}:{result.line} · {result.duration:.2f} s</div>"
        f'{setup}<ol class="steps">{steps}</ol>{message}{evidence}</section>'
    )


def _coverage(run: ConformRun) -> str:
    by_id = {r.nodeid: r for r in run.results}
    rows = []
    for row in run.coverage():
        links = (
            "".join(
                f'<span class="sc">{_badge(s["verdict"])} '
                f'<a href="#{_anchor(by_id[s["id"]])}">{escape(s["scenario"])}</a></span>'
                for s in row["scenarios"]
            )
            or '<span class="small">no scenario ran</span>'
        )
        rows.append(
            f'<tr><td class="req">{escape(row["id"])}</td><td>{escape(row["statement"])}'
            f'<div class="small">{escape(row["brief_section"])}</div></td>'
            f"<td>{links}</td><td>{_badge(row['verdict'])}</td></tr>"
        )
    return (
        "<table><thead><tr><th>requirement</th><th>statement and where the brief asks for it</th>"
        "<th>scenarios</th><th>verdict</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_html(run: ConformRun) -> str:
    counts = run.counts
    cards = "".join(
        f'<div class="card {v}"><div class="n">{counts[v]}</div><div class="l">{v}</div></div>'
        for v in ("pass", "fail", "skip", "error")
    )
    banner = (
        '<div class="banner ok">Conformant: every scenario that ran passed.</div>'
        if run.ok
        else f'<div class="banner bad">Not conformant: {counts["fail"]} failed, {counts["error"]} in error'
        + (f", {len(run.collection_errors)} collection error(s)" if run.collection_errors else "")
        + ".</div>"
    )
    errors = "".join(f'<div class="message">{escape(e)}</div>' for e in run.collection_errors)
    features: dict[str, list[ScenarioResult]] = {}
    for result in run.results:
        features.setdefault(result.feature_file or result.feature, []).append(result)
    sections = []
    for name, results in features.items():
        title = results[0].feature or name
        tally = ", ".join(
            f"{sum(1 for r in results if r.verdict == v)} {v}"
            for v in ("pass", "fail", "skip", "error")
            if any(r.verdict == v for r in results)
        )
        sections.append(
            f'<h3>{escape(title)} <span class="small">{escape(name)} — {tally}</span></h3>'
            + "".join(_scenario(r) for r in results)
        )
    tags = f" · tags <code>{escape(run.tags)}</code>" if run.tags else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Conformance of {escape(run.sut)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Conformance report: <code>{escape(run.sut)}</code></h1>"
        f'<p class="meta">Features <code>{escape(str(run.features))}</code>{tags} · started {escape(run.started_at)}'
        f" · {run.wall_seconds:.1f} s wall time · {run.runs_simulated} simulated runs ({run.runs_reused} reused)</p>"
        f'<div class="cards">{cards}</div>{banner}{errors}'
        "<h2>Requirement coverage</h2>"
        '<p class="small">Every requirement the suite traces to (twin/conformance/requirements.py), the scenarios '
        "that exercise it, and its verdict: the worst of its scenarios.</p>"
        f"{_coverage(run)}"
        "<h2>Scenarios</h2>" + "".join(sections) + "<footer>Generated by <code>twin conform</code>. Runs are "
        "simulated and deterministic for their seed; encounters appear only as pseudonyms (enc-…), never as "
        "patient names or identifiers.</footer></body></html>\n"
    )
