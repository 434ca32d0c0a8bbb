"""What could be improved: SLO breaches and serious anomalies, grouped into episodes.

A day is flagged for a KPI when an SLO on that KPI was breached that day, or a
high or critical anomaly with adverse impact touched that day. Consecutive
flagged days of one KPI are one episode, reported once, on its first day, with
the worst severity seen. An improvement is never a degradation. A KPI recovers
only on a day with traffic and enough of its points (``coverage.usable``): a day
without requests has no slow request, which is not a recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from tars_lib.core.catalogue import KpiSpec, meets_target
from tars_lib.core.formatting import format_value
from tars_lib.core.models import WEEK_DAYS, Degradation
from tars_lib.core.policy import DegradationSeverity, breach_severity
from tars_lib.core.week import ReleaseWeek
from tars_lib.retro.coverage import usable

__all__ = [
    "DegradationFinding",
    "Flag",
    "analyze_degradations",
    "collect_flags",
]

_RANK: dict[DegradationSeverity, int] = {"medium": 1, "high": 2, "critical": 3}

_IMPACT = {
    "availability": "Failed requests for users",
    "reliability": "Errors returned to users",
    "performance": "Slower responses for users",
    "cache": "More cache misses and more load on the database",
    "resources": "Less capacity headroom",
    "database": "Pressure on the database",
    "traffic": "Unexpected load on the service",
    "cost": "Higher spend",
}


@dataclass(frozen=True)
class Flag:
    day: int
    kpi: str
    severity: DegradationSeverity
    reason: str


@dataclass(frozen=True)
class DegradationFinding:
    """An episode with what the seed's JSON leaves out (which KPI, which days)."""

    kpi: str
    first_day: int
    last_day: int
    severity: DegradationSeverity
    resolved: bool
    last_value: float | None
    json: Degradation


def collect_flags(week: ReleaseWeek) -> list[Flag]:
    flags: list[Flag] = []
    for day, summary in week.days.items():
        for key, slo in summary.slos.items():
            if not slo.breached or slo.burn_rate is None or slo.bad_fraction is None:
                continue
            slo_spec = week.catalogue.slos.get(key)
            if slo_spec is not None and slo_spec.kind == "latency":
                unit = week.catalogue.kpis[slo_spec.kpi].unit
                over = format_value(slo_spec.threshold or 0.0, unit)
                bad = f"{slo.bad_fraction * 100:.2f}% of 5-minute windows over {over}"
            else:
                bad = f"{slo.bad_fraction * 100:.2f}% bad events"
            flags.append(
                Flag(
                    day=day,
                    kpi=slo.kpi,
                    severity=breach_severity(slo.burn_rate),
                    reason=(
                        f"{week.catalogue.slo_name(key)} SLO breached: {bad} against a "
                        f"{slo.budget_fraction * 100:.2g}% budget (burn rate {slo.burn_rate:.1f}x)"
                    ),
                )
            )
    events = week.anomalies.events if week.anomalies else []
    for event in events:
        if event.impact != "adverse" or event.severity not in ("high", "critical"):
            continue
        if event.explained_by is not None:  # a recorded change: expected, not a degradation
            continue
        severity: DegradationSeverity = "critical" if event.severity == "critical" else "high"
        spec = week.catalogue.kpis.get(event.metric_name)
        unit = spec.unit if spec else ""
        labels = "".join(f" {k}={v}" for k, v in sorted(event.labels.items()))
        what = "rose" if event.direction == "up" else "fell"
        reason = (
            f"anomaly{labels}: {what} to {format_value(event.observed, unit, True)} "
            f"(expected {format_value(event.expected, unit, True)}, z = {event.peak_z:.1f})"
        )
        first = max(week.day_of(event.start), 1)
        last = min(week.day_of(event.end), WEEK_DAYS)
        for day in range(first, last + 1):
            if day in week.days:
                flags.append(Flag(day, event.metric_name, severity, reason))
    return flags


def _episodes(flags: list[Flag]) -> list[list[Flag]]:
    """Split each KPI's flags into runs of consecutive days."""
    out: list[list[Flag]] = []
    by_kpi = sorted(flags, key=lambda f: (f.kpi, f.day))
    for _, group in groupby(by_kpi, key=lambda f: f.kpi):
        items = list(group)
        run: list[Flag] = [items[0]]
        for flag in items[1:]:
            if flag.day - run[-1].day > 1:
                out.append(run)
                run = []
            run.append(flag)
        out.append(run)
    return out


RECOVERY_BAND = 10.0
"""A KPI without a target has recovered when it is back within 10% of its GA-day value."""


def _acceptable(
    week: ReleaseWeek, kpi: str, spec: KpiSpec | None, day: int
) -> tuple[bool | None, str]:
    """Whether the KPI is acceptable on ``day``, and how that reads in a sentence.

    Against its target when it has one; otherwise against its GA-day value
    (less than 10% worse); None when neither can be judged.
    """
    value = week.value(kpi, day)
    if value is None or spec is None:
        return None, ""
    unit = spec.unit
    shown = format_value(value, unit, True)
    if spec.target is not None:
        target = format_value(spec.target, unit)
        if meets_target(value, spec):
            return True, f"{shown}, within the {target} target"
        return False, f"{shown} vs {target}"
    ga = week.value(kpi, 0)
    if not ga or spec.direction == "neutral":
        return None, shown
    worse = (value - ga) / abs(ga) * 100.0 * (1 if spec.direction == "lower" else -1)
    if worse < RECOVERY_BAND:
        return True, f"{shown}, within {RECOVERY_BAND:g}% of the GA-day {format_value(ga, unit)}"
    return False, f"{shown}, {worse:.1f}% worse than the GA-day {format_value(ga, unit)}"


def _resolution(
    week: ReleaseWeek, kpi: str, spec: KpiSpec | None, last_flagged: int
) -> tuple[bool, str]:
    """Resolved when the KPI is acceptable again by the last day (see ``_acceptable``).

    Only days with traffic and enough of the KPI's points count (``usable``):
    when every later day lacks them, the recovery was not seen, so it is unresolved.
    """
    last_day = week.last_day
    if last_flagged >= last_day:
        value = week.value(kpi, last_day)
        shown = (
            format_value(value, spec.unit if spec else "", True)
            if value is not None
            else ("no data")
        )
        return False, f"Still degraded on Day {last_day}, the last day of data ({shown})"
    after = [d for d in range(last_flagged + 1, last_day + 1) if d in week.days]
    judged = [d for d in after if usable(week, kpi, d)]
    if not judged:
        days = ", ".join(str(d) for d in after)
        return False, (
            f"Recovery not seen: Day(s) {days} had no traffic or too little data for {kpi} to judge"
        )
    final = judged[-1]
    final_ok, final_text = _acceptable(week, kpi, spec, final)
    if final_ok is False:
        where = "outside target" if spec is not None and spec.target is not None else "degraded"
        return False, f"Still {where} on Day {final}: {final_text}"
    for day in judged:
        ok, text = _acceptable(week, kpi, spec, day)
        if ok is not False:
            return True, f"Recovered on Day {day}" + (f": {text}" if text else "")
    return True, f"Recovered by Day {final}"


def analyze_degradations(week: ReleaseWeek) -> list[DegradationFinding]:
    """One finding per episode, ordered by first day, then worst severity first."""
    out: list[DegradationFinding] = []
    for run in _episodes(collect_flags(week)):
        kpi = run[0].kpi
        spec = week.catalogue.kpis.get(kpi)
        worst = max(run, key=lambda f: _RANK[f.severity])
        days = sorted({f.day for f in run})
        worst_day_reasons = list(dict.fromkeys(f.reason for f in run if f.day == worst.day))
        label = spec.label if spec else kpi
        span = f"Day {days[0]}" if len(days) == 1 else f"Days {days[0]}-{days[-1]}"
        value = week.value(kpi, worst.day)
        unit = spec.unit if spec else ""
        impact = _IMPACT.get(spec.category if spec else "", "Degraded service")
        if value is not None:
            impact += f": {label} {format_value(value, unit, True)} on Day {worst.day}"
            if spec is not None and spec.target is not None:
                impact += f" (target {format_value(spec.target, unit)})"
        resolved, details = _resolution(week, kpi, spec, days[-1])
        out.append(
            DegradationFinding(
                kpi=kpi,
                first_day=days[0],
                last_day=days[-1],
                severity=worst.severity,
                resolved=resolved,
                last_value=week.value(kpi, week.last_day),
                json=Degradation(
                    day_occurred=days[0],
                    category=spec.category if spec else "other",
                    description=f"{label} ({span}): " + "; ".join(worst_day_reasons),
                    severity=worst.severity,
                    impact=impact,
                    resolution_status="resolved" if resolved else "unresolved",
                    resolution_details=details,
                ),
            )
        )
    out.sort(key=lambda f: (f.first_day, -_RANK[f.severity], f.kpi))
    return out
