"""Phase 6: the retrospective, built from the release week by the analyzers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tars_lib.core.models import Retrospective
from tars_lib.core.week import ReleaseWeek
from tars_lib.retro.cost import analyze_cost
from tars_lib.retro.coverage import partial_days
from tars_lib.retro.degradations import DegradationFinding, analyze_degradations
from tars_lib.retro.drift import analyze_drifts, explained_changes
from tars_lib.retro.recommendations import (
    Finding,
    action_items,
    collect_findings,
    process_improvements,
    recommendations,
)
from tars_lib.retro.slo import BurnDown, analyze_slos
from tars_lib.retro.status import OverallStatus, overall_status
from tars_lib.retro.successes import analyze_successes
from tars_lib.retro.timeline import story

__all__ = ["RetroResult", "build_retrospective"]


@dataclass(frozen=True)
class RetroResult:
    """The JSON retrospective plus what the report shows beyond it."""

    retrospective: Retrospective
    status: OverallStatus
    status_reasons: list[str]
    week: ReleaseWeek
    degradations: list[DegradationFinding]
    slos: list[BurnDown]
    findings: list[Finding]


def build_retrospective(week: ReleaseWeek, generated_at: datetime) -> RetroResult:
    successes = analyze_successes(week)
    degradations = analyze_degradations(week)
    drifts = analyze_drifts(week)
    cost = analyze_cost(week)
    slos = analyze_slos(week)
    status, reasons = overall_status(week, degradations, drifts, slos)
    findings = collect_findings(week, degradations, drifts, slos, cost)
    retro = Retrospective(
        generation_timestamp=generated_at,
        ga_day_timestamp=week.ga.ga_timestamp,
        seven_day_end_timestamp=week.end,
        successes=successes,
        degradations=[d.json for d in degradations],
        unexpected_drifts=drifts,
        cost_analysis=cost,
        slo_burn_downs=[s.json for s in slos],
        recommendations_v1_0_2=recommendations(findings),
        process_improvements=process_improvements(
            week, degradations, drifts, slos, cost, len(successes)
        ),
        action_items=action_items(findings),
        incidents=week.incidents,
        explained_changes=explained_changes(week),
        timeline=story(week),
        partial_days=partial_days(week),
        release=week.release,
    )
    return RetroResult(
        retrospective=retro,
        status=status,
        status_reasons=reasons,
        week=week,
        degradations=degradations,
        slos=slos,
        findings=findings,
    )
