"""The retrospective's overall status, with the reasons that decided it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tars_lib.core.models import UnexpectedDrift
from tars_lib.core.policy import INVESTIGATE_ABOVE
from tars_lib.core.week import ReleaseWeek
from tars_lib.retro.coverage import partial_days
from tars_lib.retro.degradations import DegradationFinding
from tars_lib.retro.slo import BurnDown

__all__ = ["OverallStatus", "overall_status", "rollback_recommended"]

OverallStatus = Literal["EXCELLENT", "STABLE", "NEEDS ATTENTION", "CRITICAL"]


def rollback_recommended(week: ReleaseWeek) -> tuple[bool, list[str]]:
    """The regression verdict when there is one, else the last day's monitor verdict."""
    if week.regression is not None:
        verdict = week.regression.rollback_recommendation
        return verdict.verdict == "recommended", [r.text for r in verdict.reasons]
    if week.days:
        last = week.days[week.last_day]
        return last.rollback_recommended, list(last.rollback_reasons)
    return False, []


def overall_status(
    week: ReleaseWeek,
    degradations: Sequence[DegradationFinding],
    drifts: Sequence[UnexpectedDrift],
    slos: Sequence[BurnDown],
) -> tuple[OverallStatus, list[str]]:
    """CRITICAL > NEEDS ATTENTION > STABLE > EXCELLENT, first rule that matches wins."""
    critical: list[str] = []
    for d in degradations:
        if d.severity == "critical" and not d.resolved:
            critical.append(f"unresolved critical degradation of {d.kpi} (since Day {d.first_day})")
    for s in slos:
        if s.status == "Critical":
            critical.append(
                f"{s.json.slo_name} error budget exhausted "
                f"({s.json.budget_consumed_percent:.1f}% consumed)"
            )
    rollback, _ = rollback_recommended(week)
    if rollback:
        critical.append("rollback recommended")
    if critical:
        return "CRITICAL", critical

    attention: list[str] = []
    for d in degradations:
        if d.severity == "high" and not d.resolved:
            attention.append(f"unresolved high-severity degradation of {d.kpi}")
    for s in slos:
        if s.status == "At Risk":
            attention.append(
                f"{s.json.slo_name} SLO at risk ({s.json.budget_consumed_percent:.1f}% of the "
                f"budget in 7 days, pace {s.pace_percent:.1f}%)"
            )
    unknown = partial_days(week)
    if unknown:  # unknown is not fine: the week cannot vouch for those days
        kinds = {"no_data": "no data", "partial": "partial data"}
        days = "; ".join(
            f"{'GA day' if p.day == 0 else f'Day {p.day}'} {kinds.get(p.status, p.status)}"
            for p in unknown
        )
        attention.append(
            f"{days}: SLO compliance unknown there; rerun those days once the backend has the data"
        )
    investigate = [d for d in drifts if d.investigation_needed]
    if len(investigate) >= 2:
        names = ", ".join(d.metric_name for d in investigate)
        attention.append(f"{len(investigate)} drifts need investigation ({names})")
    if attention:
        return "NEEDS ATTENTION", attention

    big_drifts = [d for d in drifts if abs(d.drift_percent) > INVESTIGATE_ABOVE]
    if not degradations and not big_drifts and all(s.status == "Healthy" for s in slos):
        return "EXCELLENT", ["no degradation, no drift over 15%, every SLO healthy"]
    reasons = []
    if degradations:
        reasons.append(f"{len(degradations)} degradation(s), none unresolved at high severity")
    if big_drifts:
        reasons.append(f"{len(big_drifts)} drift(s) over 15%")
    reasons += [f"{s.json.slo_name} SLO {s.status}" for s in slos if s.status != "Healthy"]
    return "STABLE", reasons
