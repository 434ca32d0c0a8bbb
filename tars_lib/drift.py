"""Unexpected drifts: KPIs that moved 10-30% from GA without being a regression."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

from tars_lib.models import UnexpectedDrift
from tars_lib.week import ReleaseWeek

__all__ = [
    "DRIFT_BAND",
    "INVESTIGATE_ABOVE",
    "analyze_drifts",
    "classify_trend",
    "drift_percent",
    "potential_causes",
]

DRIFT_BAND = (10.0, 30.0)
"""A drift is 10 <= |drift| < 30 percent; 30% or more is regression territory."""
INVESTIGATE_ABOVE = 15.0

Trend = Literal["increasing", "decreasing", "volatile"]

_CAUSES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("availability", "down"): (
        "Failing dependency or upstream timeouts",
        "Pods restarting (OOM kills, failing health checks)",
        "A rollout or config change dropping requests",
    ),
    ("availability", "up"): (
        "Fix deployed for an early post-GA failure",
        "Retries at the edge hiding backend errors",
        "Traffic shifted away from a failing zone",
    ),
    ("errors", "up"): (
        "New code path failing for some inputs",
        "Dependency errors or timeouts surfacing as 5xx",
        "Resource exhaustion (connection pool, file descriptors)",
    ),
    ("errors", "down"): (
        "Bug fix or hotfix deployed after GA",
        "Problematic client traffic stopped",
        "Errors now returned as 4xx instead of 5xx (check the classification)",
    ),
    ("latency", "up"): (
        "Slower queries as data grows (missing index, table scans)",
        "CPU saturation or GC pauses under higher load",
        "Slower downstream dependency or lower cache hit rate",
    ),
    ("latency", "down"): (
        "Caches warmed up after GA",
        "Lower load than on GA day",
        "Performance fix deployed after GA",
    ),
    ("traffic", "up"): (
        "Organic adoption of the release",
        "Client retry storm or a misbehaving integration",
        "Marketing campaign or migration of another service's traffic",
    ),
    ("traffic", "down"): (
        "Launch-day interest fading to steady state",
        "Clients failing before reaching the service",
        "Traffic routed elsewhere (DNS, load balancer weights)",
    ),
    ("cpu", "up"): (
        "Increased workload",
        "Less efficient code path introduced in the release",
        "Background jobs, GC pressure or noisy neighbours",
    ),
    ("cpu", "down"): (
        "Lower workload than on GA day",
        "Instances added by autoscaling, spreading the load",
        "Optimisation or feature flag turned off after GA",
    ),
    ("memory", "up"): (
        "Memory leak (growth that never returns to baseline)",
        "Cache or buffer sizes growing with the working set",
        "Larger payloads or sessions kept in memory",
    ),
    ("memory", "down"): (
        "Process restarts resetting memory (check for crash loops)",
        "Eviction or TTL changes shrinking caches",
        "Lower load than on GA day",
    ),
    ("cache", "down"): (
        "Key space grew beyond the cache size (evictions)",
        "New access pattern with poor locality",
        "TTL or invalidation change in the release",
    ),
    ("cache", "up"): (
        "Cache warmed up after GA",
        "Hot keys dominating traffic",
        "Fewer writes invalidating entries",
    ),
    ("database", "up"): (
        "Connection pool misconfiguration or leaked connections",
        "Slow queries holding connections longer",
        "More instances each opening their own pool",
    ),
    ("database", "down"): (
        "Working set no longer fits in shared buffers",
        "New queries reading cold data",
        "Vacuum or reindex activity evicting pages",
    ),
    ("cost", "up"): (
        "Autoscaling added capacity",
        "Larger instances or more replicas deployed",
        "Growth in storage or network egress",
    ),
    ("cost", "down"): (
        "Capacity scaled in after launch",
        "Reserved or spot pricing applied",
        "Lower traffic than on GA day",
    ),
}


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


def potential_causes(family: str, direction: str) -> list[str]:
    causes = _CAUSES.get((family, direction))
    if causes is None:
        return [
            f"Change in the release affecting this metric ({direction})",
            "Change in load or traffic mix since GA",
            "Change in the environment (infrastructure, dependencies, configuration)",
        ]
    return list(causes)


def analyze_drifts(week: ReleaseWeek) -> list[UnexpectedDrift]:
    """Drifts of the final day vs GA day in the 10-30% band, largest first.

    The final value is the last day's (day 7, or the last day that has data).
    KPIs that the regression analysis calls regressions are left to it.
    """
    regressed = week.regressed_kpis
    out: list[tuple[float, UnexpectedDrift]] = []
    for kpi, spec in week.catalogue.kpis.items():
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
