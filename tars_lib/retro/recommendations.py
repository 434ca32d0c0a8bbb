"""Recommendations for the next version, process improvements and action items, from the findings.

Every finding becomes one prioritised recommendation and, at P0..P2, one action
item; each names the metric and the number behind it. Priorities:

  P0  rollback recommended, an exhausted SLO budget, an unresolved critical degradation,
      a critical regression
  P1  rollback to consider, an SLO at risk, missing days, an unresolved high degradation,
      a high regression
  P2  an SLO burning faster than the linear pace, a resolved critical or high degradation,
      an unresolved medium one, a medium regression, a drift over 15%, rising cost
  P3  everything else worth knowing: resolved medium degradations, small drifts,
      low regressions, cost optimisation
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tars_lib.core.models import ActionItem, CostAnalysis, Incident, UnexpectedDrift
from tars_lib.core.policy import INVESTIGATE_ABOVE, Priority
from tars_lib.core.week import ReleaseWeek
from tars_lib.core.workspace import Workspace
from tars_lib.retro.cost import COST_KPI
from tars_lib.retro.degradations import DegradationFinding
from tars_lib.retro.drift import explaining
from tars_lib.retro.slo import BurnDown
from tars_lib.retro.status import rollback_recommended

__all__ = [
    "MAX_PROCESS_IMPROVEMENTS",
    "MAX_RECOMMENDATIONS",
    "MIN_PROCESS_IMPROVEMENTS",
    "PRIORITY_RULES",
    "Finding",
    "action_items",
    "collect_findings",
    "process_improvements",
    "recommendations",
]

MAX_RECOMMENDATIONS = 10
MIN_PROCESS_IMPROVEMENTS = 3
MAX_PROCESS_IMPROVEMENTS = 5

_ORDER: dict[Priority, int] = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
PRIORITY_RULES: dict[Priority, str] = {
    "P0": "rollback recommended; exhausted SLO budget; unresolved critical degradation; "
    "critical regression",
    "P1": "rollback to consider; SLO at risk; missing days; unresolved high degradation; "
    "high regression",
    "P2": "SLO burning faster than the linear pace; resolved critical or high degradation; "
    "unresolved medium degradation; medium regression; drift over 15%; rising cost",
    "P3": "resolved medium degradation; small drift; low regression; cost optimisation",
}
"""What puts a finding at each priority (the module docstring's rules, for the report)."""
_DEGRADATION_PRIORITY: dict[tuple[str, bool], Priority] = {
    ("critical", False): "P0",
    ("high", False): "P1",
    ("critical", True): "P2",
    ("high", True): "P2",
    ("medium", False): "P2",
    ("medium", True): "P3",
}
_REGRESSION_PRIORITY: dict[str, Priority] = {
    "critical": "P0",
    "high": "P1",
    "medium": "P2",
    "low": "P3",
}


@dataclass(frozen=True)
class Finding:
    priority: Priority
    recommendation: str
    action: str


def _days(days: Sequence[int]) -> str:
    return ", ".join(str(d) for d in days)


def incident_of(week: ReleaseWeek, d: DegradationFinding) -> Incident | None:
    """The incident a degradation belongs to: same KPI, starting on one of its days."""
    for incident in week.incidents:
        day = week.day_of(incident.start)
        if d.first_day <= day <= d.last_day and d.kpi in {k.kpi for k in incident.kpis}:
            return incident
    return None


def _incident_review(
    week: ReleaseWeek, incident: Incident, group: list[DegradationFinding]
) -> Finding:
    priority = min(
        (_DEGRADATION_PRIORITY[(d.severity, True)] for d in group), key=lambda p: _ORDER[p]
    )
    burned = ", ".join(f"{v:.1f}% of the {k} budget" for k, v in incident.budget_burned.items())
    kpis = ", ".join(sorted({d.kpi for d in group}))
    day = week.day_of(incident.start)
    return Finding(
        priority,
        f"Prevent a repeat of the Day {day} incident ({incident.severity}): {incident.title}"
        + (f"; it burned {burned}" if burned else "")
        + f". Degraded: {kpis}.",
        f"Post-incident review of the Day {day} incident {incident.id}: {incident.title}",
    )


def collect_findings(
    week: ReleaseWeek,
    degradations: Sequence[DegradationFinding],
    drifts: Sequence[UnexpectedDrift],
    slos: Sequence[BurnDown],
    cost: CostAnalysis,
) -> list[Finding]:
    """All findings, sorted by priority; within a priority in the order listed above."""
    out: list[Finding] = []
    rollback, reasons = rollback_recommended(week)
    verdict = week.regression.rollback_recommendation.verdict if week.regression else None
    if rollback or verdict == "consider":
        why = "; ".join(reasons) or f"see {Workspace().regression_path.name}"
        word = "recommends" if rollback else "asks to consider"
        version = week.release.version_label
        out.append(
            Finding(
                "P0" if rollback else "P1",
                f"Roll back {version} or ship a hotfix: "
                f"regression analysis {word} rollback ({why})",
                f"Decide rollback or hotfix for {version} with the release owner ({why})",
            )
        )
    if week.missing_days:
        missing = _days(week.missing_days)
        out.append(
            Finding(
                "P1",
                f"Restore daily monitoring: no stability summary for Day(s) {missing}",
                f"Re-run `tars stability` for Day(s) {missing} and fix the schedule",
            )
        )
    for s in slos:
        name, consumed = s.json.slo_name, s.json.budget_consumed_percent
        dte = s.json.days_to_exhaustion
        if s.status == "Critical":
            out.append(
                Finding(
                    "P0",
                    f"Freeze feature releases: the {name} SLO ({s.kpi}) has used "
                    f"{consumed:.1f}% of its {s.period_days}-day error budget",
                    f"Apply the error-budget policy for {name}: freeze releases until it recovers",
                )
            )
        elif s.status in ("At Risk", "Moderate"):
            rate = f", gone in {dte:.1f} days at this week's rate" if dte is not None else ""
            out.append(
                Finding(
                    "P1" if s.status == "At Risk" else "P2",
                    f"Slow the {name} SLO's burn ({s.kpi}): {consumed:.1f}% of the "
                    f"{s.period_days}-day budget used in 7 days against a linear pace of "
                    f"{s.pace_percent:.1f}%{rate}",
                    f"Cut the {name} budget burn: find what spent {consumed:.1f}% in 7 days",
                )
            )
    if week.regression is not None:
        for r in week.regression.regressions:
            against = ", ".join(r.baselines) or "its baselines"
            out.append(
                Finding(
                    _REGRESSION_PRIORITY[r.severity],
                    f"Fix the {r.kpi} regression: {r.adverse_change_percent:+.1f}% worse than "
                    f"{against} ({r.severity})",
                    f"Root-cause the {r.kpi} regression ({r.adverse_change_percent:+.1f}% vs "
                    f"{against})",
                )
            )
    reviewed: dict[str, list[DegradationFinding]] = {}
    for d in degradations:
        incident = incident_of(week, d)
        if d.resolved and incident is not None:  # one post-incident review per incident
            reviewed.setdefault(incident.id, []).append(d)
            continue
        label = week.catalogue.kpis[d.kpi].label if d.kpi in week.catalogue.kpis else d.kpi
        if d.resolved:
            first_reason = d.json.description.split(": ", 1)[-1].split("; ")[0]
            text = (
                f"Prevent a repeat of the Day {d.first_day} {d.kpi} degradation ({d.severity}): "
                f"{first_reason}. {d.json.resolution_details}"
            )
            action = f"Post-incident review of the Day {d.first_day} {label} degradation ({d.kpi})"
        else:
            text = (
                f"Restore {d.kpi} ({d.severity}, degraded since Day {d.first_day}). "
                f"{d.json.resolution_details}"
            )
            action = f"Fix the open {label} degradation ({d.kpi}): {d.json.resolution_details}"
        out.append(Finding(_DEGRADATION_PRIORITY[(d.severity, d.resolved)], text, action))
    incidents = {i.id: i for i in week.incidents}
    for incident_id, group in reviewed.items():
        out.append(_incident_review(week, incidents[incident_id], group))
    for drift in drifts:
        change = (
            f"{drift.drift_percent:+.1f}% since GA ({drift.baseline_value:.4g} to "
            f"{drift.final_value:.4g}, {drift.trend})"
        )
        if drift.investigation_needed:
            out.append(
                Finding(
                    "P2",
                    f"Investigate the {drift.metric_name} drift: {change}",
                    f"Explain the {drift.metric_name} drift of {drift.drift_percent:+.1f}% "
                    f"(start with: {drift.potential_causes[0].lower()})",
                )
            )
        else:
            out.append(
                Finding(
                    "P3",
                    f"Watch {drift.metric_name}: {change}, under the "
                    f"{INVESTIGATE_ABOVE:g}% investigation line",
                    f"Watch {drift.metric_name}",
                )
            )
    scaled = explaining(week, COST_KPI)
    if scaled is not None and cost.cost_trend == "increasing":
        out.append(
            Finding(
                "P3",
                f"Confirm the cost step is only the recorded change: {scaled.description} "
                f"(${cost.daily_average_cost:,.2f}/day on average)",
                f"Confirm the cost step matches the change: {scaled.description}",
            )
        )
    elif cost.cost_optimization_recommendations:
        rising = cost.cost_trend == "increasing"
        out.append(
            Finding(
                "P2" if rising else "P3",
                f"{'Contain' if rising else 'Optimise'} daily_cost_usd "
                f"(${cost.daily_average_cost:,.2f}/day, trend {cost.cost_trend}): "
                f"{cost.cost_optimization_recommendations[0]}",
                f"Act on the cost trend: ${cost.daily_average_cost:,.2f}/day and {cost.cost_trend}",
            )
        )
    return sorted(out, key=lambda f: _ORDER[f.priority])


def recommendations(findings: Sequence[Finding]) -> list[str]:
    """The ten most important findings, tagged with their priority."""
    return [f"[{f.priority}] {f.recommendation}" for f in findings[:MAX_RECOMMENDATIONS]]


def action_items(findings: Sequence[Finding]) -> list[ActionItem]:
    """Every P0..P2 finding (not only the ten shown as recommendations), status open."""
    return [
        ActionItem(priority=f.priority, description=f.action, status="open")
        for f in findings
        if f.priority != "P3"
    ]


def process_improvements(
    week: ReleaseWeek,
    degradations: Sequence[DegradationFinding],
    drifts: Sequence[UnexpectedDrift],
    slos: Sequence[BurnDown],
    cost: CostAnalysis,
    successes: int,
) -> list[str]:
    """Three to five changes to how the team works, each triggered by what happened."""
    out: list[str] = []
    burning = [s for s in slos if s.status != "Healthy"]
    if burning:
        s = max(burning, key=lambda b: b.json.budget_consumed_percent)
        out.append(
            f"Monitoring: add multiwindow burn-rate alerts (14.4x over 1h, 6x over 6h) for the "
            f"{s.json.slo_name} SLO, which used {s.json.budget_consumed_percent:.1f}% of its "
            f"budget in 7 days"
        )
    early = [d for d in degradations if d.first_day <= 2]
    if early:
        kpis = ", ".join(sorted({d.kpi for d in early}))
        out.append(
            f"Testing: extend pre-GA load and soak tests; {len(early)} degradation(s) began "
            f"within two days of GA ({kpis})"
        )
    slo_kpis = {s.kpi for s in week.catalogue.slos.values()}
    unalerted = [d for d in degradations if d.kpi not in slo_kpis]
    if unalerted:
        d = unalerted[0]
        out.append(
            f"Alerting: give {d.kpi} an alert or SLO; its Day {d.first_day} degradation "
            f"({d.severity}) was caught only by anomaly detection"
        )
    investigate = [d for d in drifts if d.investigation_needed]
    if investigate:
        what = ", ".join(f"{d.metric_name} {d.drift_percent:+.1f}%" for d in investigate)
        out.append(
            f"Capacity: review resource trend dashboards weekly after a release; {what} "
            "drifted without any alert firing"
        )
    open_items = [d for d in degradations if not d.resolved]
    if open_items:
        what = ", ".join(d.kpi for d in open_items)
        out.append(
            f"Incident response: give every open degradation an owner and a due date at the "
            f"daily stand-up; {what} still degraded on Day {week.last_day}"
        )
    if week.regression is not None and week.regression.regressions:
        kpis = ", ".join(r.kpi for r in week.regression.regressions)
        out.append(
            f"Release process: gate rollouts on automated canary analysis; "
            f"{len(week.regression.regressions)} regression(s) reached GA ({kpis})"
        )
    if week.missing_days:
        out.append(
            "Operations: alert when the daily monitor does not run; "
            f"Day(s) {_days(week.missing_days)} have no summary"
        )
    if cost.cost_trend == "increasing":
        out.append(
            f"Cost: review cost per release in the release checklist; daily cost averaged "
            f"${cost.daily_average_cost:,.2f} and is rising"
        )
    breach_days = Counter(
        day for day, s in week.days.items() for slo in s.slos.values() if slo.breached
    )
    multi = sorted(day for day, n in breach_days.items() if n >= 2)
    if multi:
        out.append(
            "Incident response: correlate incidents with deploys and config changes in the "
            f"daily report; Day {multi[0]} breached {breach_days[multi[0]]} SLOs at once"
        )
    targets = sum(1 for spec in week.catalogue.kpis.values() if spec.target is not None)
    fallbacks = [
        "Release process: keep this GA-day summary as the previous-release baseline for "
        f"{week.release.next_label}'s regression analysis (--previous-release)",
        f"Targets: {successes} of {targets} KPI targets were met this week; review targets "
        "that were never at risk and tighten them",
        "Retrospective: review this report with the on-call team within a week and assign "
        "every action item an owner",
    ]
    for text in fallbacks:
        if len(out) >= MIN_PROCESS_IMPROVEMENTS:
            break
        out.append(text)
    return out[:MAX_PROCESS_IMPROVEMENTS]
