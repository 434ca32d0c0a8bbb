"""Days the week cannot vouch for: judged on partial data, or without any traffic.

A KPI whose day has fewer than ``policy.MIN_COVERAGE`` of its expected 5-minute
points is partial; a day whose request rate is 0 or missing is "no data". Neither
kind of day can show a KPI as recovered or an SLO as met: the analyzers ask
``usable`` before they say so, and the retrospective lists these days
(``partial_days``).
"""

from __future__ import annotations

from tars_lib.core.formatting import coverage_text
from tars_lib.core.models import PartialDay
from tars_lib.core.policy import MIN_COVERAGE
from tars_lib.core.week import ReleaseWeek
from tars_lib.judge.health import no_traffic, traffic_kpis

__all__ = ["no_data_days", "partial_days", "usable"]


def no_data_days(week: ReleaseWeek) -> dict[int, str]:
    """Days of the week (GA day included) without traffic, and why."""
    summaries = {0: week.ga.kpis, **{d: s.kpis for d, s in week.days.items()}}
    out = {}
    for day, kpis in sorted(summaries.items()):
        reason = no_traffic(kpis, week.catalogue)
        if reason is not None:
            out[day] = reason
    return out


def usable(week: ReleaseWeek, kpi: str, day: int) -> bool:
    """Whether ``day`` has a full-enough value of ``kpi`` to call it acceptable or recovered."""
    if day != 0 and day not in week.days:
        return False
    kpis = week.ga.kpis if day == 0 else week.days[day].kpis
    entry = kpis.get(kpi)
    if entry is None or entry.value is None or entry.partial:
        return False
    return no_traffic(kpis, week.catalogue) is None


def partial_days(week: ReleaseWeek) -> list[PartialDay]:
    """One entry per day with no traffic or with KPIs below ``MIN_COVERAGE``, in day order."""
    empty = no_data_days(week)
    summaries = {0: week.ga.kpis, **{d: s.kpis for d, s in week.days.items()}}
    out = []
    for day, kpis in sorted(summaries.items()):
        name = "GA day" if day == 0 else f"Day {day}"
        partial = {k: v.coverage for k, v in kpis.items() if v.partial}
        if day in empty:
            blank = [k for k, v in kpis.items() if k in partial or v.value is None]
            affected = [*dict.fromkeys([*traffic_kpis(week.catalogue), *blank])]
            out.append(
                PartialDay(
                    day=day,
                    status="no_data",
                    kpis=affected,
                    coverage={k: kpis[k].coverage if k in kpis else None for k in affected},
                    text=f"{name}: no data ({empty[day]}): nothing about it is healthy, "
                    "met or recovered",
                )
            )
        elif partial:
            shown = coverage_text(partial)
            out.append(
                PartialDay(
                    day=day,
                    status="partial",
                    kpis=list(partial),
                    coverage=partial,
                    text=f"{name}: partial data (coverage below {MIN_COVERAGE * 100:g}%): "
                    f"{shown}; SLOs on these KPIs are unknown that day",
                )
            )
    return out
