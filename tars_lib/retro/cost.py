"""Cost over the release week: totals, trend, breakdown and what to do about it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tars_lib.core.models import CostAnalysis, CostBreakdown
from tars_lib.core.week import ReleaseWeek

__all__ = ["COST_KPI", "TREND_THRESHOLD", "analyze_cost", "cost_trend", "half_means"]

COST_KPI = "daily_cost_usd"
TREND_THRESHOLD = 0.10
"""The second half must differ from the first by 10% or more to be a trend."""

CostTrend = Literal["increasing", "stable", "decreasing"]


def half_means(daily: Sequence[float]) -> tuple[float, float] | None:
    """Means of the first and last floor(n/2) days (the middle day of an odd week is left out)."""
    half = len(daily) // 2
    if half == 0:
        return None
    return sum(daily[:half]) / half, sum(daily[-half:]) / half


def cost_trend(daily: Sequence[float], threshold: float = TREND_THRESHOLD) -> CostTrend:
    """Increasing when the second half's mean is >= (1 + threshold) x the first's; likewise down."""
    halves = half_means(daily)
    if halves is None:
        return "stable"
    first, second = halves
    if first == 0:
        return "increasing" if second > 0 else "stable"
    change = round((second - first) / first, 9)  # 110 vs 100 is exactly 10%, not 9.99999%
    if change >= threshold:
        return "increasing"
    if change <= -threshold:
        return "decreasing"
    return "stable"


def _breakdown(week: ReleaseWeek, daily_average: float) -> tuple[CostBreakdown, str]:
    """The source's own breakdown (mean over the days) when every day has one, else shares."""
    parts = [s.cost_breakdown for s in week.days.values()]
    if parts and all(p is not None for p in parts):
        n = len(parts)
        return (
            CostBreakdown(
                compute=round(sum(p.compute for p in parts if p) / n, 2),
                storage=round(sum(p.storage for p in parts if p) / n, 2),
                network=round(sum(p.network for p in parts if p) / n, 2),
                other=round(sum(p.other for p in parts if p) / n, 2),
            ),
            "source",
        )
    shares = week.catalogue.pricing.cost_shares
    return (
        CostBreakdown(
            compute=round(daily_average * shares.compute, 2),
            storage=round(daily_average * shares.storage, 2),
            network=round(daily_average * shares.network, 2),
            other=round(daily_average * shares.other, 2),
        ),
        "configured shares",
    )


def _recommendations(
    week: ReleaseWeek,
    ga_cost: float | None,
    daily: dict[int, float],
    average: float,
    trend: CostTrend,
    breakdown: CostBreakdown,
    basis: str,
) -> list[str]:
    out: list[str] = []
    if not daily:
        return ["No daily cost data: add daily_cost_usd to the KPI catalogue's collection."]
    values = [daily[d] for d in sorted(daily)]
    halves = half_means(values)
    if trend == "increasing" and halves:
        first, second = halves
        out.append(
            f"Cost is rising: ${first:,.2f}/day in the first half of the week, "
            f"${second:,.2f}/day in the second (+{(second / first - 1) * 100:.1f}%); "
            "check autoscaling events and new resources since GA."
        )
    if ga_cost and average >= ga_cost * 1.05:
        out.append(
            f"Daily average ${average:,.2f} is {(average / ga_cost - 1) * 100:.1f}% above the "
            f"GA day's ${ga_cost:,.2f}: review what scaled up after launch."
        )
    parts = breakdown.model_dump()
    largest = max(parts, key=lambda k: parts[k])
    share = parts[largest] / average * 100 if average else 0.0
    cpu = week.week_values("avg_cpu_percent")
    cpu_text = ""
    if largest == "compute" and cpu:
        mean_cpu = sum(cpu.values()) / len(cpu)
        if mean_cpu < 50:
            cpu_text = (
                f" Average CPU was {mean_cpu:.1f}% over the week: right-size instances "
                "or lower the autoscaling floor."
            )
        else:
            cpu_text = f" Average CPU was {mean_cpu:.1f}%: little room to shrink compute."
    out.append(
        f"{largest.capitalize()} is the largest cost: ${parts[largest]:,.2f}/day, "
        f"{share:.0f}% of ${average:,.2f}/day ({basis}).{cpu_text}"
    )
    rps = week.week_values("requests_per_second")
    common = [d for d in daily if rps.get(d, 0) > 0]
    if common:
        requests = sum(rps[d] * 86400 for d in common)
        per_million = sum(daily[d] for d in common) / requests * 1e6
        out.append(
            f"Cost per million requests: ${per_million:,.2f} over {len(common)} day(s); "
            "track it per release to see efficiency change, not just spend."
        )
    return out


def analyze_cost(week: ReleaseWeek) -> CostAnalysis:
    """GA-day cost, week total (days 1..7 present), daily average, trend and breakdown."""
    ga_cost = week.value(COST_KPI, 0)
    daily = week.week_values(COST_KPI)
    total = sum(daily.values())
    average = total / len(daily) if daily else 0.0
    trend = cost_trend([daily[d] for d in sorted(daily)])
    breakdown, basis = _breakdown(week, average)
    return CostAnalysis(
        ga_day_cost=None if ga_cost is None else round(ga_cost, 2),
        seven_day_total_cost=round(total, 2),
        daily_average_cost=round(average, 2),
        cost_trend=trend,
        cost_breakdown=breakdown,
        cost_optimization_recommendations=_recommendations(
            week, ga_cost, daily, average, trend, breakdown, basis
        ),
    )
