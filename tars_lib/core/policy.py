"""The thresholds that both the daily judgements and the retrospective apply.

Kept in one place so a day's health report and the week's retrospective can
never disagree on what counts as a critical burn or a drift.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "CRITICAL_BURN_RATE",
    "DRIFT_BAND",
    "HIGH_BURN_RATE",
    "INVESTIGATE_ABOVE",
    "MIN_COVERAGE",
    "DegradationSeverity",
    "Priority",
    "breach_severity",
    "potential_causes",
]

Priority = Literal["P0", "P1", "P2", "P3"]
"""Action priorities: P0 now, P1 this week, P2 next release, P3 when convenient."""

CRITICAL_BURN_RATE = 14.4
"""A whole day at the workbook's fast-burn page threshold: ~48% of a 30-day budget."""
HIGH_BURN_RATE = 6.0
"""A whole day at the workbook's 6-hour page threshold: 20% of a 30-day budget."""

DegradationSeverity = Literal["medium", "high", "critical"]

MIN_COVERAGE = 0.9
"""A KPI whose day has fewer of its expected 5-minute points than this share is partial.

Coverage counts the points present after NaN and stale markers (for a ratio or a
histogram KPI: the points where every component is present). A partial value is
shown as such, an SLO judged on it is "unknown" rather than met, and ``--strict``
refuses it.
"""


def breach_severity(burn_rate: float) -> DegradationSeverity:
    """critical at >= 14.4x, high at >= 6x, else medium (any breach burns > 1x).

    Rounded first, so 0.0144 against a 0.1% budget is 14.4x, not 14.399999x.
    """
    burn_rate = round(burn_rate, 9)
    if burn_rate >= CRITICAL_BURN_RATE:
        return "critical"
    if burn_rate >= HIGH_BURN_RATE:
        return "high"
    return "medium"


DRIFT_BAND = (10.0, 30.0)
"""A drift is 10 <= |drift| < 30 percent; 30% or more is regression territory."""
INVESTIGATE_ABOVE = 15.0


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


def potential_causes(family: str, direction: str) -> list[str]:
    causes = _CAUSES.get((family, direction))
    if causes is None:
        return [
            f"Change in the release affecting this metric ({direction})",
            "Change in load or traffic mix since GA",
            "Change in the environment (infrastructure, dependencies, configuration)",
        ]
    return list(causes)
