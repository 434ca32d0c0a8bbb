"""What went well: KPIs whose week met their target."""

from __future__ import annotations

from tars_lib.core.catalogue import KpiSpec, meets_target
from tars_lib.core.formatting import format_value
from tars_lib.core.models import Success
from tars_lib.core.week import ReleaseWeek

__all__ = ["ACHIEVEMENT_CAP", "achievement_percent", "analyze_successes", "week_value"]

ACHIEVEMENT_CAP = 1000.0
"""target/actual is unbounded when a lower-is-better KPI reaches 0 (no errors at all)."""

_WEEKLY_WORDS = {
    "request_weighted": "request-weighted mean of days {days}",
    "mean": "mean of days {days}",
    "worst": "worst day of days {days}",
}


def week_value(week: ReleaseWeek, kpi: str, spec: KpiSpec) -> float | None:
    """The week's value of a KPI, formed as the catalogue's ``weekly`` says.

    ``request_weighted`` weights each day by its ``requests_per_second`` (days are
    equally long, so this is total good over total requests); it falls back to
    the plain mean when a day's request rate is unknown.
    """
    values = week.week_values(kpi)
    if not values:
        return None
    if spec.weekly == "worst" and spec.direction != "neutral":
        return max(values.values()) if spec.direction == "lower" else min(values.values())
    if spec.weekly == "request_weighted":
        weights = week.week_values("requests_per_second")
        if all(weights.get(day, 0.0) > 0 for day in values):
            total = sum(weights[day] for day in values)
            return sum(values[day] * weights[day] for day in values) / total
    return sum(values.values()) / len(values)


def achievement_percent(actual: float, spec: KpiSpec) -> float:
    """actual/target x 100 when higher is better, target/actual x 100 when lower is better."""
    assert spec.target is not None
    if spec.direction == "higher":
        return actual / spec.target * 100.0
    if actual <= 0:
        return ACHIEVEMENT_CAP
    return min(spec.target / actual * 100.0, ACHIEVEMENT_CAP)


def _days_label(days: list[int]) -> str:
    if days == list(range(days[0], days[-1] + 1)):
        return f"{days[0]}-{days[-1]}" if len(days) > 1 else str(days[0])
    return ", ".join(str(d) for d in days)


def analyze_successes(week: ReleaseWeek) -> list[Success]:
    """One success per KPI with a target whose week value meets it, in catalogue order.

    A KPI whose SLO was breached on any day of the week is never a success, whatever
    its weekly value: the report must not call a breached KPI "met".
    """
    breached = {
        slo.kpi for summary in week.days.values() for slo in summary.slos.values() if slo.breached
    }
    out: list[Success] = []
    for kpi, spec in week.catalogue.kpis.items():
        if spec.target is None or kpi in breached:
            continue
        actual = week_value(week, kpi, spec)
        if actual is None or not meets_target(actual, spec):
            continue
        how = _WEEKLY_WORDS[spec.weekly].format(days=_days_label(sorted(week.week_values(kpi))))
        out.append(
            Success(
                category=spec.category,
                description=(
                    f"{spec.label} met its target: {format_value(actual, spec.unit, True)} "
                    f"({how}) against {format_value(spec.target, spec.unit)}"
                ),
                metric_name=kpi,
                target_value=format_value(spec.target, spec.unit),
                actual_value=format_value(actual, spec.unit, precise=True),
                achievement_percent=round(achievement_percent(actual, spec), 2),
            )
        )
    return out
