"""The retrospective as Markdown: the seed guide's nine sections, in its order.

Every string that came from data (metric names, label values, reasons) goes
through ``md_escape``, so a label such as ``<script>`` or ``a|b`` is shown as
text and cannot break a table or run in a reader's browser.
"""

from __future__ import annotations

import re

from tars_lib.core.formatting import format_value
from tars_lib.core.models import Release, format_utc
from tars_lib.core.week import ReleaseWeek
from tars_lib.retro.recommendations import PRIORITY_RULES, incident_of
from tars_lib.retro.retrospective import RetroResult

__all__ = [
    "SECTION_HEADINGS",
    "STATUS_ICONS",
    "md_escape",
    "render_markdown",
    "retro_title",
    "section_headings",
]

SECTION_HEADINGS = (
    "Executive Summary",
    "What Went Well ✅",
    "What Could Be Improved ⚠️",
    "Unexpected Drifts 📊",
    "Cost Analysis 💰",
    "SLO Compliance Summary",
    "Recommendations for v1.0.2 🚀",
    "Process Improvements 🔧",
    "Action Items",
)
"""The seed release's headings; ``section_headings`` names the next version of any release."""
_NEXT_HEADING = SECTION_HEADINGS.index("Recommendations for v1.0.2 🚀")
STATUS_ICONS = {"Critical": "🚨", "At Risk": "⚠️", "Moderate": "⚡", "Healthy": "✅"}

_SPECIAL = re.compile(r"([\\`*\[\]{}<>|&$~^@#])")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_LEADING_MARKER = re.compile(r"^(?:([-+])|\d{1,9}([.)]))(?=\s|$)")
"""A bullet or ordered-list marker, were the text to begin a line."""


def md_escape(text: str) -> str:
    """Escape Markdown and HTML syntax; newlines become spaces (tables are one line).

    Beyond CommonMark's specials this covers pandoc's (``@`` citations, ``^``/``~``
    super-/subscript, ``$`` maths, ``{}`` attributes), so a label reads as written in
    any Markdown viewer, and a leading ``-``, ``+`` or ``1.`` cannot start a list.
    """
    text = " ".join(str(text).split())
    text = _SPECIAL.sub(
        lambda m: {"<": "&lt;", ">": "&gt;", "&": "&amp;"}.get(m.group(1), "\\" + m.group(1)), text
    )
    text = _UNDERSCORE.sub(r"\\_", text)
    match = _LEADING_MARKER.match(text)
    if match is None:
        return text
    cut = match.start(1) if match.group(1) else match.start(2)
    return text[:cut] + "\\" + text[cut:]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _signed(percent: float) -> str:
    """+5.6%, -13.8%, and 0.0% rather than -0.0% for a change that rounds to nothing."""
    text = f"{percent:+.1f}%"
    return "0.0%" if text in ("+0.0%", "-0.0%") else text


def _worst_day(week: ReleaseWeek, kpi: str, direction: str) -> tuple[int, float] | None:
    """The day the KPI was furthest on its bad side (highest when lower is better)."""
    values = week.week_values(kpi)
    if not values or direction == "neutral":
        return None
    pick = max if direction == "lower" else min
    day = pick(values, key=lambda d: values[d])
    return day, values[day]


def _executive(result: RetroResult) -> list[str]:
    week, retro = result.week, result.retrospective
    out = [
        f"**Overall status: {result.status}**",
        "",
        f"Release week from GA on {format_utc(retro.ga_day_timestamp)} to "
        f"{format_utc(retro.seven_day_end_timestamp)}: "
        f"{len(retro.successes)} KPI targets met, {len(retro.degradations)} degradation(s) "
        f"({sum(1 for d in result.degradations if not d.resolved)} unresolved), "
        f"{len(retro.unexpected_drifts)} unexpected drift(s), cost trend "
        f"{retro.cost_analysis.cost_trend}.",
        "",
        "Why this status:",
        "",
    ]
    out += [f"- {md_escape(reason)}" for reason in result.status_reasons]
    out.append("")
    if week.regression is not None:
        verdict = week.regression.rollback_recommendation.verdict.replace("_", " ")
        out += [f"Rollback verdict of the regression analysis: **{verdict}**.", ""]
    if retro.timeline:
        out += ["What happened, day by day (UTC):", ""]
        out += [f"- {md_escape(line.text)}" for line in retro.timeline]
        out.append("")
    if week.missing_days:
        days = ", ".join(str(d) for d in week.missing_days)
        out += [
            f"**Missing data:** no daily summary for Day(s) {days}; "
            "figures cover the days present.",
            "",
        ]
    if retro.partial_days:
        out += ["**Partial data:** these days cannot show a KPI as healthy, met or recovered:", ""]
        out += [f"- {md_escape(p.text)}" for p in retro.partial_days]
        out.append("")
    for note in week.notes:
        out += [f"*{md_escape(note)}*", ""]
    out += ["Key metrics at a glance:", ""]
    rows = []
    slo_kpis = [s.kpi for s in result.slos]
    keys = [*dict.fromkeys([*slo_kpis, "requests_per_second", "daily_cost_usd"])]
    for kpi in keys:
        spec = week.catalogue.kpis.get(kpi)
        if spec is None:
            continue
        ga = week.value(kpi, 0)
        final = week.value(kpi, week.last_day)
        change = "n/a" if not ga or final is None else _signed((final - ga) / ga * 100)
        worst = _worst_day(week, kpi, spec.direction)
        rows.append(
            [
                md_escape(spec.label),
                "n/a" if ga is None else md_escape(format_value(ga, spec.unit, True)),
                "—"
                if worst is None
                else f"{md_escape(format_value(worst[1], spec.unit, True))} (Day {worst[0]})",
                "n/a" if final is None else md_escape(format_value(final, spec.unit, True)),
                change,
                "—" if spec.target is None else md_escape(format_value(spec.target, spec.unit)),
            ]
        )
    out += _table(
        ["KPI", "GA day", "Worst day", f"Day {week.last_day}", "Change GA to last", "Target"], rows
    )
    return out


def _went_well(result: RetroResult) -> list[str]:
    successes = result.retrospective.successes
    if not successes:
        return ["No KPI met its target over the week.", ""]
    rows = [
        [
            md_escape(s.category),
            md_escape(s.metric_name),
            md_escape(s.target_value),
            md_escape(s.actual_value),
            f"{s.achievement_percent:.2f}%",
        ]
        for s in successes
    ]
    out = _table(["Category", "Metric", "Target", "Actual", "Achievement"], rows)
    top = sorted(successes, key=lambda s: -s.achievement_percent)[:3]
    out += ["Top highlights:", ""] + [f"- {md_escape(s.description)}" for s in top] + [""]
    return out


def _incidents(result: RetroResult) -> list[str]:
    """Each incident once, with its window, cost in budget and the degradations it caused."""
    week = result.week
    out: list[str] = []
    for incident in week.incidents:
        day = week.day_of(incident.start)
        covered = sorted({d.kpi for d in result.degradations if incident_of(week, d) == incident})
        burned = ", ".join(
            f"{v:.1f}% of the {md_escape(k)} budget" for k, v in incident.budget_burned.items()
        )
        out += [
            f"- **Day {day}, {md_escape(incident.title)}** ({incident.severity}, "
            f"`{md_escape(incident.id)}`)"
            + (f": burned {burned}" if burned else "")
            + (f"; degraded {md_escape(', '.join(covered))}" if covered else ""),
        ]
    return [*out, ""] if out else []


def _improve(result: RetroResult) -> list[str]:
    degradations = result.retrospective.degradations
    if not degradations:
        return ["No degradations: no SLO breach and no high or critical anomaly all week.", ""]
    out: list[str] = []
    incidents = _incidents(result)
    if incidents:
        out += ["### Incidents", "", *incidents]
    for severity in ("critical", "high", "medium"):
        group = [d for d in degradations if d.severity == severity]
        if not group:
            continue
        out += [f"### {severity.capitalize()} ({len(group)})", ""]
        rows = [
            [
                str(d.day_occurred),
                md_escape(d.description),
                md_escape(d.impact),
                f"{d.resolution_status}: {md_escape(d.resolution_details)}",
            ]
            for d in group
        ]
        out += _table(["Day", "Description", "Impact", "Resolution"], rows)
    return out


def _explained(result: RetroResult) -> list[str]:
    explained = result.retrospective.explained_changes
    if not explained:
        return []
    out = ["Explained by recorded changes (not unexpected):", ""]
    out += [f"- {md_escape(e.text)} ({e.change.kind})" for e in explained]
    return [*out, ""]


def _drifts(result: RetroResult) -> list[str]:
    drifts = result.retrospective.unexpected_drifts
    if not drifts:
        return ["No KPI drifted 10-30% from its GA-day value.", "", *_explained(result)]
    rows = [
        [
            md_escape(d.metric_name),
            f"{d.baseline_value:.4g}",
            f"{d.final_value:.4g}",
            f"{d.drift_percent:+.1f}%",
            d.trend,
            "yes" if d.investigation_needed else "no",
        ]
        for d in drifts
    ]
    out = _table(["Metric", "GA day", "Final", "Drift", "Trend", "Investigate"], rows)
    for d in drifts:
        out += [f"**{md_escape(d.metric_name)}** ({d.drift_percent:+.1f}%), potential causes:", ""]
        out += [f"- {md_escape(c)}" for c in d.potential_causes] + [""]
    return out + _explained(result)


def _cost(result: RetroResult) -> list[str]:
    cost = result.retrospective.cost_analysis
    ga = "n/a" if cost.ga_day_cost is None else f"\\${cost.ga_day_cost:,.2f}"
    out = _table(
        ["GA day", "7-day total", "Daily average", "Trend"],
        [
            [
                ga,
                f"\\${cost.seven_day_total_cost:,.2f}",
                f"\\${cost.daily_average_cost:,.2f}",
                cost.cost_trend,
            ]
        ],
    )
    parts = cost.cost_breakdown.model_dump()
    total = sum(parts.values()) or 1.0
    out += ["Daily average by resource:", ""]
    out += _table(
        ["Resource", "Per day", "Share"],
        [
            [name, f"\\${value:,.2f}", f"{value / total * 100:.0f}%"]
            for name, value in parts.items()
        ],
    )
    out += ["Optimisation:", ""]
    out += [f"- {md_escape(r)}" for r in cost.cost_optimization_recommendations] + [""]
    return out


def _slos(result: RetroResult) -> list[str]:
    if not result.slos:
        return ["No SLO data in the summaries.", ""]
    rows = []
    for s in result.slos:
        j = s.json
        rows.append(
            [
                md_escape(j.slo_name),
                f"{j.target:g}%",
                f"{j.budget:g}%",
                f"{j.budget_consumed_percent:.1f}%",
                "—" if j.days_to_exhaustion is None else f"{j.days_to_exhaustion:.1f}",
                f"{STATUS_ICONS[s.status]} {s.status}",
            ]
        )
    out = _table(
        ["SLO", "Target", "Budget", "Budget consumed", "Days to exhaustion", "Status"], rows
    )
    out += [
        f"Budget periods are {result.slos[0].period_days} days; the linear pace for 7 days "
        f"is {result.slos[0].pace_percent:.1f}% of the budget. Compliance by day "
        "(good share, %; cumulative budget used):",
        "",
    ]
    header = ["SLO"] + [f"Day {d.day}" for d in result.slos[0].json.compliance_by_day]
    rows = []
    for s in result.slos:
        cells = [md_escape(s.json.slo_name)]
        for c in s.json.compliance_by_day:
            if c.value is None:
                cells.append("missing")
            else:
                mark = {True: "", False: " ✗", None: " ? (partial data)"}[c.compliant]
                cells.append(f"{c.value:.2f}{mark} ({c.budget_consumed:.1f}%)")
        rows.append(cells)
    return out + _table(header, rows)


_TAG = re.compile(r"^(\[P[0-3]\]) ")


def _why_top(result: RetroResult) -> list[str]:
    """Why the first recommendation has its priority, and why nothing is more urgent."""
    if not result.findings:
        return []
    top = result.findings[0].priority
    higher = [f"{p} ({PRIORITY_RULES[p]})" for p in PRIORITY_RULES if p < top]
    none_above = f" Nothing reached {' or '.join(higher)}." if higher else ""
    return [
        f"The top priority is **{top}** ({PRIORITY_RULES[top]}): "
        f"{md_escape(result.findings[0].recommendation)}.{none_above}",
        "",
    ]


def _numbered(items: list[str], empty: str) -> list[str]:
    """A numbered list; a leading priority tag such as [P1] is ours and kept as it is."""
    if not items:
        return [empty, ""]
    out = []
    for i, text in enumerate(items, 1):
        match = _TAG.match(text)
        tag = match.group(1) + " " if match else ""
        out.append(f"{i}. {tag}{md_escape(text[len(tag) :])}")
    return [*out, ""]


def _actions(result: RetroResult) -> list[str]:
    out: list[str] = []
    names = {
        "P0": "immediate action required",
        "P1": "within 24-48 hours",
        "P2": "within the sprint",
    }
    for priority, meaning in names.items():
        items = [a for a in result.retrospective.action_items if a.priority == priority]
        out += [f"### {priority}: {meaning}", ""]
        out += [f"- [ ] {md_escape(a.description)}" for a in items] or ["None."]
        out.append("")
    return out


def retro_title(release: Release) -> str:
    """The retrospective's title: "checkout-api 2.3.0: GA 7-Day Retrospective"."""
    return f"{release.title}: GA 7-Day Retrospective"


def section_headings(release: Release) -> tuple[str, ...]:
    """The nine section headings, the recommendations' naming the release's next version."""
    headings = list(SECTION_HEADINGS)
    headings[_NEXT_HEADING] = f"Recommendations for {release.next_label} 🚀"
    return tuple(headings)


def _release_lines(release: Release) -> list[str]:
    """Owners and links of the release, when its description gives them."""
    out = []
    if release.owners:
        out.append("**Owners:** " + ", ".join(md_escape(o) for o in release.owners) + "  ")
    if release.links:
        links = ", ".join(f"{md_escape(k)}: {md_escape(v)}" for k, v in release.links.items())
        out.append(f"**Links:** {links}")
    return [*out, ""] if out else []


def render_markdown(result: RetroResult) -> str:
    retro = result.retrospective
    sections = [
        _executive(result),
        _went_well(result),
        _improve(result),
        _drifts(result),
        _cost(result),
        _slos(result),
        _why_top(result) + _numbered(retro.recommendations_v1_0_2, "No recommendations."),
        _numbered(retro.process_improvements, "No process improvements."),
        _actions(result),
    ]
    release = result.week.release
    lines = [
        f"# {md_escape(retro_title(release))}",
        "",
        *_release_lines(release),
        f"*Generated {format_utc(retro.generation_timestamp)} by tars retro. "
        "The machine-readable data is in the JSON file of the same name.*",
        "",
    ]
    for heading, body in zip(section_headings(release), sections, strict=True):
        lines += [f"## {heading}", "", *body]
    return "\n".join(lines).rstrip() + "\n"
