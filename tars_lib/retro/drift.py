"""Unexpected drifts: KPIs that moved 10-30% from GA without being a regression."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

from tars_lib.core.models import Change, ExplainedChange, UnexpectedDrift
from tars_lib.core.policy import DRIFT_BAND, INVESTIGATE_ABOVE, potential_causes
from tars_lib.core.week import ReleaseWeek

__all__ = [
    "analyze_drifts",
    "classify_trend",
    "drift_percent",
    "explained_changes",
    "explaining",
]

Trend = Literal["increasing", "decreasing", "volatile"]


def drift_percent(baseline: float, final: float) -> float | None:
    """(final - baseline) / baseline x 100; None when the baseline is 0 (undefined)."""
    if baseline == 0:
        return None
    return (final - baseline) / abs(baseline) * 100.0


def classify_trend(series: Sequence[float]) -> Trend:
    """Increasing, decreasing or volatile, from the daily values (GA day first).

    The path is the sum of the absolute day-to-day changes; the net change is
    last minus first. A series whose path is more than twice its net change
    went back and forth more than it went anywhere: volatile. Otherwise the sign
    of the net change decides.
    """
    if len(series) < 2:
        return "volatile"
    net = series[-1] - series[0]
    path = sum(abs(b - a) for a, b in itertools.pairwise(series))
    if net == 0 or path > 2 * abs(net):
        return "volatile"
    return "increasing" if net > 0 else "decreasing"


def explaining(week: ReleaseWeek, kpi: str) -> Change | None:
    """A recorded change of the week that names ``kpi``: the drift is its expected effect."""
    named = [c for c in week.changes if kpi in c.kpis and week.ga.ga_timestamp <= c.at <= week.end]
    return named[-1] if named else None


def explained_changes(week: ReleaseWeek) -> list[ExplainedChange]:
    """Drifts in the 10-30% band that a recorded change accounts for, in the order of changes."""
    out = []
    for drift in _drifts(week, explained=True):
        change = explaining(week, drift.metric_name)
        assert change is not None
        spec = week.catalogue.kpis[drift.metric_name]
        day = max(week.day_of(change.at), 0)
        out.append(
            ExplainedChange(
                metric_name=drift.metric_name,
                drift_percent=drift.drift_percent,
                change=change,
                text=f"{spec.label} {drift.drift_percent:+.1f}% from day {day}: "
                f"{change.description}",
            )
        )
    return sorted(out, key=lambda e: e.change.at)


def analyze_drifts(week: ReleaseWeek) -> list[UnexpectedDrift]:
    """Drifts of the final day vs GA day in the 10-30% band, largest first.

    The final value is the last day's (day 7, or the last day that has data).
    KPIs that the regression analysis calls regressions are left to it, and
    drifts a recorded change explains are ``explained_changes``, not unexpected.
    """
    return _drifts(week, explained=False)


def _drifts(week: ReleaseWeek, explained: bool) -> list[UnexpectedDrift]:
    regressed = week.regressed_kpis
    out: list[tuple[float, UnexpectedDrift]] = []
    for kpi, spec in week.catalogue.kpis.items():
        if (explaining(week, kpi) is not None) != explained:
            continue
        baseline = week.value(kpi, 0)
        values = week.week_values(kpi)
        if baseline is None or not values or kpi in regressed:
            continue
        final = values[max(values)]
        drift = drift_percent(baseline, final)
        if drift is None or not DRIFT_BAND[0] <= abs(drift) < DRIFT_BAND[1]:
            continue
        series = [baseline, *(values[d] for d in sorted(values))]
        out.append(
            (
                abs(drift),
                UnexpectedDrift(
                    metric_name=kpi,
                    baseline_value=round(baseline, 4),
                    final_value=round(final, 4),
                    drift_percent=round(drift, 1),
                    trend=classify_trend(series),
                    potential_causes=potential_causes(spec.family, "up" if drift > 0 else "down"),
                    investigation_needed=abs(drift) > INVESTIGATE_ABOVE,
                ),
            )
        )
    out.sort(key=lambda pair: -pair[0])
    return [drift for _, drift in out]
