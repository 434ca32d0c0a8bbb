"""SLO error-budget burn-down over the release week (Google SRE workbook arithmetic).

For an SLO with target T (a ratio) over a period of P days, a day whose bad
fraction is f burns at rate b = f / (1 - T) and uses 100 * b / P percent of the
period's budget. The week's consumption is the sum over days 1..7; the pace
that would spend exactly the budget over the period is 7/P of it.

A day judged on partial data (coverage below ``policy.MIN_COVERAGE``) that stays
within budget is neither compliant nor not: ``compliant`` is null ("unknown").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from tars_lib.core.models import WEEK_DAYS, DayCompliance, SloBurnDown, SloDay
from tars_lib.core.week import ReleaseWeek

__all__ = [
    "BurnDown",
    "SloStatus",
    "analyze_slos",
    "daily_budget_use",
    "days_to_exhaustion",
    "slo_status",
]

SloStatus = Literal["Healthy", "Moderate", "At Risk", "Critical"]


def daily_budget_use(bad_fraction: float, target_percent: float, period_days: int) -> float:
    """Percent of the period's error budget one day at ``bad_fraction`` uses."""
    burn_rate = bad_fraction / (1.0 - target_percent / 100.0)
    return 100.0 * burn_rate / period_days


def days_to_exhaustion(consumed_percent: float, daily_uses: list[float]) -> float | None:
    """Days until the budget is gone at the week's mean daily use; None if nothing is used."""
    if consumed_percent >= 100.0:
        return 0.0
    if not daily_uses:
        return None
    mean_use = sum(daily_uses) / len(daily_uses)
    if mean_use <= 0.0:
        return None
    left = (100.0 - consumed_percent) / mean_use
    return left if math.isfinite(left) else None  # a vanishing burn never exhausts it


def slo_status(consumed_percent: float, period_days: int, days: int = WEEK_DAYS) -> SloStatus:
    """Healthy up to the linear pace, Moderate up to twice it, then At Risk; Critical at 100%."""
    pace = 100.0 * days / period_days
    if consumed_percent >= 100.0:
        return "Critical"
    if consumed_percent <= pace:
        return "Healthy"
    if consumed_percent <= 2 * pace:
        return "Moderate"
    return "At Risk"


@dataclass(frozen=True)
class BurnDown:
    """A burn-down with what the JSON leaves out but the report needs."""

    key: str
    kpi: str
    period_days: int
    status: SloStatus
    daily_use: dict[int, float]
    pace_percent: float
    json: SloBurnDown


def _compliance(day: int, slo: SloDay | None, cumulative: float) -> DayCompliance:
    if slo is None or slo.bad_fraction is None:
        return DayCompliance(
            day=day, value=None, compliant=None, budget_consumed=round(cumulative, 4)
        )
    return DayCompliance(
        day=day,
        value=round(100.0 * (1.0 - slo.bad_fraction), 4),
        compliant={"met": True, "breached": False}.get(slo.status),
        budget_consumed=round(cumulative, 4),
    )


def analyze_slos(week: ReleaseWeek) -> list[BurnDown]:
    """One burn-down per SLO that the GA day or any day of the week measured.

    The target and period are the ones recorded in the summaries (what the data
    was judged against when collected); the catalogue gives only the name.
    """
    keys: list[str] = list(week.catalogue.slos)
    recorded = [week.ga.slos, *(s.slos for s in week.days.values())]
    for slos in recorded:
        keys += [k for k in slos if k not in keys]
    out: list[BurnDown] = []
    for key in keys:
        per_day: dict[int, SloDay] = {}
        if key in week.ga.slos:
            per_day[0] = week.ga.slos[key]
        for day, summary in week.days.items():
            if key in summary.slos:
                per_day[day] = summary.slos[key]
        if not per_day:
            continue
        reference = per_day.get(0) or next(iter(per_day.values()))
        cumulative = 0.0
        uses: dict[int, float] = {}
        compliance = [_compliance(0, per_day.get(0), 0.0)]
        for day in range(1, WEEK_DAYS + 1):
            slo = per_day.get(day)
            if slo is not None and slo.bad_fraction is not None:
                uses[day] = daily_budget_use(slo.bad_fraction, slo.target_percent, slo.period_days)
                cumulative += uses[day]
            compliance.append(_compliance(day, slo, cumulative))
        consumed = sum(uses.values())
        period = reference.period_days
        out.append(
            BurnDown(
                key=key,
                kpi=reference.kpi,
                period_days=period,
                status=slo_status(consumed, period),
                daily_use=uses,
                pace_percent=100.0 * WEEK_DAYS / period,
                json=SloBurnDown(
                    slo_name=week.catalogue.slo_name(key),
                    target=reference.target_percent,
                    budget=round(100.0 - reference.target_percent, 6),
                    budget_consumed_percent=round(consumed, 2),
                    days_to_exhaustion=_rounded(days_to_exhaustion(consumed, list(uses.values()))),
                    compliance_by_day=compliance,
                ),
            )
        )
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
