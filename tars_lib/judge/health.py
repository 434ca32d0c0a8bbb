"""Phase 4: one day's health score and the mitigation plan that goes with it.

The score is a weighted mean of four components, each 0..100, so an SRE can see
at a glance which part of the day went wrong and by how much:

- ``slo_compliance``: the worst SLO's burn rate b; 100 up to 1x, then
  ``100 (1 - ln b / ln 14.4)``, 0 at the workbook's 14.4x fast-burn threshold.
  Logarithmic because burn rates span orders of magnitude: 2x is already a
  quarter of the way to a page.
- ``anomaly_load``: 100 minus a penalty per adverse anomaly touching the day
  (low 2, medium 5, high 15, critical 30).
- ``drift``: the worst adverse drift vs GA day; 100 up to 10%, 0 from 30% (the
  retrospective's drift band, where regression territory begins).
- ``resource_headroom``: the tightest resource or database KPI's utilisation of
  its target; 100 up to 70%, 0 at 100%.

A missing value is skipped and named in the component's detail, never read as
0: a KPI without data is not a healthy KPI. A day without traffic is ``no_data``
(never healthy), and a day whose SLO is unknown for partial data (coverage below
``policy.MIN_COVERAGE``) is at best degraded. Every mitigation item comes from a
finding and quotes its numbers, so nothing in the plan is boilerplate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tars_lib.core.catalogue import Catalogue, KpiSpec
from tars_lib.core.formatting import coverage_text, format_value
from tars_lib.core.models import (
    AnomalyEvent,
    AnomalyEvents,
    DaySummary,
    HealthComponent,
    HealthReport,
    Incident,
    KpiValue,
    MitigationAction,
    SloDay,
    format_utc,
)
from tars_lib.core.policy import (
    CRITICAL_BURN_RATE,
    DRIFT_BAND,
    MIN_COVERAGE,
    Priority,
    breach_severity,
    potential_causes,
)

__all__ = [
    "ANOMALY_PENALTY",
    "DRIFT_SCORE_BAND",
    "FAST_BURN_RATE",
    "HEADROOM_ACTION_AT",
    "HEADROOM_BAND",
    "RESOURCE_CATEGORIES",
    "HealthStatus",
    "adverse_drift",
    "anomaly_component",
    "build_health_report",
    "drift_component",
    "drift_score",
    "health_status",
    "mitigation_plan",
    "no_traffic",
    "overlaps",
    "resource_component",
    "slo_component",
    "slo_score",
    "traffic_kpis",
    "utilisation_score",
    "weighted_score",
]

HealthStatus = Literal["healthy", "degraded", "critical", "no_data"]

FAST_BURN_RATE = CRITICAL_BURN_RATE
"""14.4x: a whole day at this rate spends ~48% of a 30-day budget; the SLO score is 0."""
ANOMALY_PENALTY: dict[str, float] = {"low": 2.0, "medium": 5.0, "high": 15.0, "critical": 30.0}
DRIFT_SCORE_BAND = DRIFT_BAND
"""(10, 30): adverse drift at or below 10% scores 100, at or above 30% scores 0."""
HEADROOM_BAND = (0.7, 1.0)
"""Utilisation of the target at or below 70% scores 100, at or above 100% scores 0."""
HEADROOM_ACTION_AT = 0.85
"""A resource KPI at 85% of its target or more gets a mitigation item."""
RESOURCE_CATEGORIES = ("resources", "database")

_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_PRIORITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
_MAX_LISTED = 3


def _r9(value: float) -> float:
    """Rounded before comparing with a threshold, so 0.0144 / 0.001 counts as 14.4x."""
    return round(value, 9)


def _skipped(names: list[str]) -> str:
    return f"; skipped (no data): {', '.join(sorted(names))}" if names else ""


def _label(kpi: str, catalogue: Catalogue) -> tuple[KpiSpec | None, str]:
    spec = catalogue.kpis.get(kpi)
    return spec, spec.unit if spec else ""


# --------------------------------------------------------------------------- scores


def slo_score(burn_rate: float) -> float:
    """100 up to 1x, falling with ln(burn) to 0 at the 14.4x fast-burn threshold."""
    if _r9(burn_rate) <= 1.0:
        return 100.0
    return 100.0 * max(0.0, 1.0 - math.log(burn_rate) / math.log(FAST_BURN_RATE))


def drift_score(adverse_percent: float) -> float:
    """100 at or below 10% adverse drift, 0 at or above 30%, linear between."""
    low, high = DRIFT_SCORE_BAND
    a = _r9(adverse_percent)
    if a <= low:
        return 100.0
    if a >= high:
        return 0.0
    return 100.0 * (high - adverse_percent) / (high - low)


def utilisation_score(utilisation: float) -> float:
    """100 at or below 70% of the target, 0 at or above 100%, linear between."""
    low, high = HEADROOM_BAND
    u = _r9(utilisation)
    if u <= low:
        return 100.0
    if u >= high:
        return 0.0
    return 100.0 * (high - utilisation) / (high - low)


def adverse_drift(drift: float, spec: KpiSpec) -> float | None:
    """Drift in the bad direction (positive is worse); None for a neutral KPI."""
    if spec.direction == "lower":
        return drift
    if spec.direction == "higher":
        return -drift
    return None


def overlaps(event: AnomalyEvent, start: datetime, end: datetime) -> bool:
    """Whether the event touches [start, end); an instantaneous event counts at its time."""
    return event.start < end and (event.end > start or event.start >= start)


# --------------------------------------------------------------------------- data


def traffic_kpis(catalogue: Catalogue) -> list[str]:
    """The request-rate KPIs: without traffic on them a day has nothing to judge."""
    return [k for k, s in catalogue.kpis.items() if s.aggregate == "rate" and s.family == "traffic"]


def no_traffic(kpis: Mapping[str, KpiValue], catalogue: Catalogue) -> str | None:
    """Why the day had no traffic (request rate 0 or missing), or None when it had some.

    A day without requests is "no data": no error, no slow request, no breach,
    and nothing about it is healthy or recovered.
    """
    for kpi in traffic_kpis(catalogue):
        entry = kpis.get(kpi)
        if entry is None or entry.value is None:
            return f"no data for {kpi}"
        if entry.value <= 0.0:
            return f"{kpi} 0 {entry.unit}: no traffic"
    return None


def _partial_text(kpis: Mapping[str, KpiValue]) -> str:
    shown = coverage_text({k: v.coverage for k, v in kpis.items() if v.partial})
    return f"partial data (coverage below {MIN_COVERAGE * 100:g}%): {shown}" if shown else ""


# --------------------------------------------------------------------------- components


def _component(score: float, weight: float, detail: str) -> HealthComponent:
    return HealthComponent(score=round(score, 1), weight=weight, detail=detail)


def _slo_text(key: str, slo: SloDay, catalogue: Catalogue) -> str:
    """'P99 Latency SLO (p99_latency_ms): 3.50% of 5-minute windows over 500 ms ...'."""
    assert slo.bad_fraction is not None and slo.burn_rate is not None
    spec = catalogue.slos.get(key)
    if spec is not None and spec.kind == "latency":
        _, unit = _label(slo.kpi, catalogue)
        bad = (
            f"{slo.bad_fraction * 100:.2f}% of 5-minute windows over "
            f"{format_value(spec.threshold or 0.0, unit)}"
        )
    else:
        bad = f"{slo.bad_fraction * 100:.2f}% bad events"
    return (
        f"{catalogue.slo_name(key)} SLO ({slo.kpi}): {bad} against a "
        f"{slo.budget_fraction * 100:.2g}% budget, burn rate {slo.burn_rate:.2f}x"
    )


def slo_component(day: DaySummary, catalogue: Catalogue) -> HealthComponent:
    """The worst SLO decides: one SLO burning its budget fast is an incident on its own."""
    weight = catalogue.health.weights.slo_compliance
    measured = {k: s for k, s in day.slos.items() if s.burn_rate is not None}
    skipped = [f"{k} ({s.kpi})" for k, s in day.slos.items() if s.burn_rate is None]
    unknown = [
        f"{k} ({s.kpi}, coverage {(s.coverage or 0.0) * 100:.1f}%)"
        for k, s in measured.items()
        if s.status == "unknown"
    ]
    partial = (
        f"; unknown (partial data, below {MIN_COVERAGE * 100:g}% coverage): "
        + ", ".join(sorted(unknown))
        if unknown
        else ""
    )
    if not measured:
        return _component(100.0, weight, "No SLO measured this day" + _skipped(skipped))
    key, worst = max(measured.items(), key=lambda kv: (kv[1].burn_rate or 0.0, kv[0]))
    assert worst.burn_rate is not None
    score = slo_score(worst.burn_rate)
    verdict = {"breached": "breached", "met": "within budget", "unknown": "partial data"}[
        worst.status
    ]
    detail = f"Worst: {_slo_text(key, worst, catalogue)} ({verdict})" + partial
    return _component(score, weight, detail + _skipped(skipped))


def _day_events(day: DaySummary, anomalies: AnomalyEvents | None) -> list[AnomalyEvent]:
    if anomalies is None:
        return []
    return [
        e
        for e in anomalies.events
        if e.impact == "adverse" and overlaps(e, day.window.start, day.window.end)
    ]


def anomaly_component(
    day: DaySummary, anomalies: AnomalyEvents | None, catalogue: Catalogue
) -> HealthComponent:
    """Each adverse anomaly of the day costs points by severity; improvements cost nothing."""
    weight = catalogue.health.weights.anomaly_load
    if anomalies is None:
        return _component(100.0, weight, "No anomaly events given: anomaly load not measured")
    covered = anomalies.window.start <= day.window.start and anomalies.window.end >= day.window.end
    gap = "" if covered else f"; anomaly detection window does not cover Day {day.day_number}"
    events = _day_events(day, anomalies)
    if not events:
        return _component(100.0, weight, "No adverse anomaly this day" + gap)
    penalty = sum(ANOMALY_PENALTY[e.severity] for e in events)
    ranked = sorted(events, key=lambda e: (-ANOMALY_PENALTY[e.severity], e.start, e.metric_name))
    listed = ", ".join(
        f"{e.metric_name} {e.severity} (-{ANOMALY_PENALTY[e.severity]:g})"
        for e in ranked[:_MAX_LISTED]
    )
    more = f" and {len(ranked) - _MAX_LISTED} more" if len(ranked) > _MAX_LISTED else ""
    detail = (
        f"{len(events)} adverse anomal{'y' if len(events) == 1 else 'ies'}, "
        f"penalty {penalty:g}: {listed}{more}{gap}"
    )
    return _component(max(0.0, 100.0 - penalty), weight, detail)


def _adverse_drifts(day: DaySummary, catalogue: Catalogue) -> tuple[dict[str, float], list[str]]:
    """Adverse drift per KPI with a direction, and the KPIs skipped for lack of a drift."""
    out: dict[str, float] = {}
    skipped: list[str] = []
    for kpi, spec in catalogue.kpis.items():
        if spec.direction == "neutral":
            continue
        if kpi not in day.drift_percent and kpi not in day.kpis:
            continue  # the day does not know this KPI at all
        drift = day.drift_percent.get(kpi)
        if drift is None:
            skipped.append(kpi)
            continue
        adverse = adverse_drift(drift, spec)
        if adverse is not None:
            out[kpi] = adverse
    return out, skipped


def _drift_text(kpi: str, day: DaySummary, catalogue: Catalogue) -> str:
    """'p99_latency_ms 390.0 ms vs 300.0 ms on GA day (+30.0%)'; the GA value is derived."""
    drift = day.drift_percent[kpi]
    assert drift is not None
    entry = day.kpis.get(kpi)
    _, unit = _label(kpi, catalogue)
    value = entry.value if entry is not None else None
    if value is None or 1.0 + drift / 100.0 <= 0.0:
        return f"{kpi} {drift:+.1f}% vs GA day"
    ga = value / (1.0 + drift / 100.0)
    return (
        f"{kpi} {format_value(value, unit, True)} vs {format_value(ga, unit, True)} "
        f"on GA day ({drift:+.1f}%)"
    )


def drift_component(day: DaySummary, catalogue: Catalogue) -> HealthComponent:
    """The worst adverse drift vs GA day; improvements never lower the score."""
    weight = catalogue.health.weights.drift
    drifts, skipped = _adverse_drifts(day, catalogue)
    if not drifts:
        return _component(100.0, weight, "No drift vs GA day measured" + _skipped(skipped))
    kpi, worst = max(drifts.items(), key=lambda kv: (kv[1], kv[0]))
    if worst <= 0:
        detail = f"No adverse drift vs GA day ({len(drifts)} KPIs)"
    else:
        detail = f"Worst adverse drift: {_drift_text(kpi, day, catalogue)}, {worst:.1f}% worse"
    return _component(drift_score(worst), weight, detail + _skipped(skipped))


def _utilisations(day: DaySummary, catalogue: Catalogue) -> tuple[dict[str, float], list[str]]:
    """value / target of each lower-is-better resource or database KPI with a target."""
    out: dict[str, float] = {}
    skipped: list[str] = []
    for kpi, spec in catalogue.kpis.items():
        if (
            spec.category not in RESOURCE_CATEGORIES
            or spec.direction != "lower"
            or spec.target is None
            or spec.target <= 0
        ):
            continue
        entry = day.kpis.get(kpi)
        if entry is None or entry.value is None:
            skipped.append(kpi)
            continue
        out[kpi] = entry.value / spec.target
    return out, skipped


def _utilisation_text(kpi: str, day: DaySummary, catalogue: Catalogue, u: float) -> str:
    spec = catalogue.kpis[kpi]
    value = day.kpis[kpi].value
    assert value is not None and spec.target is not None
    return (
        f"{kpi} {format_value(value, spec.unit, True)} is {u * 100:.1f}% of its "
        f"{format_value(spec.target, spec.unit)} target"
    )


def resource_component(day: DaySummary, catalogue: Catalogue) -> HealthComponent:
    """The tightest resource decides: one saturated resource is enough to hurt."""
    weight = catalogue.health.weights.resource_headroom
    utilisations, skipped = _utilisations(day, catalogue)
    if not utilisations:
        return _component(100.0, weight, "No resource KPI measured" + _skipped(skipped))
    kpi, worst = max(utilisations.items(), key=lambda kv: (kv[1], kv[0]))
    detail = f"Tightest: {_utilisation_text(kpi, day, catalogue, worst)}" + _skipped(skipped)
    return _component(utilisation_score(worst), weight, detail)


# --------------------------------------------------------------------------- score and status


def weighted_score(components: dict[str, HealthComponent]) -> float:
    """sum(weight x score) / sum(weights), to 1 decimal, from the scores as reported."""
    total = sum(c.weight for c in components.values())
    return round(sum(c.weight * c.score for c in components.values()) / total, 1)


def health_status(
    score: float,
    slos: dict[str, SloDay],
    catalogue: Catalogue,
    kpis: Mapping[str, KpiValue] | None = None,
) -> HealthStatus:
    """Bands of the score, overridden upwards by SLOs: a breach is never healthy.

    ``no_data`` when the day had no traffic (``no_traffic``; needs ``kpis``);
    critical below ``degraded_at`` or when any SLO burns faster than 14.4x;
    degraded below ``healthy_at``, when any SLO is breached, or when an SLO is
    unknown for partial data (what was not seen is not called healthy); else healthy.
    """
    if kpis is not None and no_traffic(kpis, catalogue) is not None:
        return "no_data"
    burns = [s.burn_rate for s in slos.values() if s.burn_rate is not None]
    if score < catalogue.health.degraded_at or any(_r9(b) > FAST_BURN_RATE for b in burns):
        return "critical"
    if (
        score < catalogue.health.healthy_at
        or any(s.breached for s in slos.values())
        or any(s.partial and s.status == "unknown" for s in slos.values())
    ):
        return "degraded"
    return "healthy"


# --------------------------------------------------------------------------- mitigation


@dataclass(frozen=True)
class _Item:
    action: MitigationAction
    severity: int
    kind: int
    magnitude: float


_SLO_FIRST_CHECKS = {
    "latency": (
        "Check slow queries (pg_stat_statements, missing indexes) and saturation "
        "(CPU, connection pools, GC pauses) first, then downstream latency; roll back "
        "the last deploy if the slow windows started with it"
    ),
    "errors": (
        "Check the deploys of the last 24 h and dependency error and timeout rates "
        "first (5xx by endpoint and by upstream); roll back if the errors started "
        "with a deploy"
    ),
    "availability": (
        "Check recent deploys and config changes, pod restarts and failing health "
        "checks, and dependency error and timeout rates first"
    ),
}

_RESOURCE_FIRST_CHECKS = {
    "cpu": (
        "Find the top CPU consumers per pod and check that autoscaling kept up; "
        "add capacity before it reaches the target"
    ),
    "memory": (
        "Check per-pod memory for growth that never returns to baseline (a leak) "
        "and cache sizes; raise limits or add replicas before the target"
    ),
    "database": (
        "Check pg_stat_activity for long-running and idle-in-transaction sessions "
        "and the pool size per instance; raise max_connections only after that"
    ),
}


def _slo_items(day: DaySummary, catalogue: Catalogue) -> list[_Item]:
    items: list[_Item] = []
    for key, slo in day.slos.items():
        if not slo.breached or slo.burn_rate is None:
            continue
        spec, unit = _label(slo.kpi, catalogue)
        finding = _slo_text(key, slo, catalogue)
        entry = day.kpis.get(slo.kpi)
        if entry is not None and entry.value is not None and spec is not None:
            finding += f"; {slo.kpi} {format_value(entry.value, unit, True)}"
            if spec.target is not None:
                finding += f" vs {format_value(spec.target, unit)} target"
        family = spec.family if spec else ""
        worse = "down" if spec is not None and spec.direction == "higher" else "up"
        action = _SLO_FIRST_CHECKS.get(family, f"Check first: {potential_causes(family, worse)[0]}")
        priority: Priority = "P0" if _r9(slo.burn_rate) > FAST_BURN_RATE else "P1"
        severity = breach_severity(slo.burn_rate)
        items.append(
            _Item(
                MitigationAction(priority=priority, kpi=slo.kpi, finding=finding, action=action),
                _SEVERITY_RANK[severity],
                0,
                slo.burn_rate,
            )
        )
    return items


def _anomaly_items(
    day: DaySummary, anomalies: AnomalyEvents | None, catalogue: Catalogue
) -> list[_Item]:
    items: list[_Item] = []
    incidents = anomalies.incidents if anomalies else []
    named: set[str] = set()
    for e in _day_events(day, anomalies):
        if e.severity not in ("high", "critical") or e.explained_by is not None:
            continue
        incident = next(
            (
                i
                for i in incidents
                if i.start <= e.start <= i.end and e.metric_name in {k.kpi for k in i.kpis}
            ),
            None,
        )
        if incident is not None:  # the incident once, with its real window
            if incident.id not in named:
                named.add(incident.id)
                items.append(_incident_item(incident, catalogue))
            continue
        spec, unit = _label(e.metric_name, catalogue)
        labels = "".join(f" {k}={v}" for k, v in sorted(e.labels.items()))
        moved = "rose" if e.direction == "up" else "fell"
        start, end = format_utc(e.start), format_utc(e.end)
        finding = (
            f"{e.severity.capitalize()} anomaly: {e.metric_name}{labels} {moved} to "
            f"{format_value(e.observed, unit, True)} (expected "
            f"{format_value(e.expected, unit, True)}, z = {e.peak_z:.1f}) from {start} to {end}"
        )
        cause = potential_causes(spec.family if spec else "", e.direction)[0]
        action = (
            f"Look at what changed between {start} and {end} (deploys, config, traffic); "
            f"first suspect: {cause}"
        )
        items.append(
            _Item(
                MitigationAction(priority="P1", kpi=e.metric_name, finding=finding, action=action),
                _SEVERITY_RANK[e.severity],
                1,
                abs(e.peak_z),
            )
        )
    return items


def _incident_item(incident: Incident, catalogue: Catalogue) -> _Item:
    lead = incident.kpis[0]
    spec, _ = _label(lead.kpi, catalogue)
    start, end = format_utc(incident.start), format_utc(incident.end)
    burned = ", ".join(f"{v:.1f}% of the {k} budget" for k, v in incident.budget_burned.items())
    finding = f"{incident.severity.capitalize()} incident {incident.id}: {incident.title}" + (
        f"; burned {burned}" if burned else ""
    )
    direction = "up" if lead.peak > lead.expected else "down"
    cause = potential_causes(spec.family if spec else "", direction)[0]
    action = (
        f"Look at what changed between {start} and {end} (deploys, config, traffic); "
        f"first suspect: {cause}"
    )
    return _Item(
        MitigationAction(priority="P1", kpi=lead.kpi, finding=finding, action=action),
        _SEVERITY_RANK[incident.severity],
        1,
        abs(lead.peak_z),
    )


def _data_items(day: DaySummary, catalogue: Catalogue) -> list[_Item]:
    """No traffic (the request rate's drop quoted) and partial data: P1, ahead of the rest."""
    items: list[_Item] = []
    reason = no_traffic(day.kpis, catalogue)
    if reason is not None:
        kpi = (traffic_kpis(catalogue) or ["requests_per_second"])[0]
        finding = f"No data: {reason} on Day {day.day_number}"
        drift = day.drift_percent.get(kpi)
        if drift is not None:
            finding += f" (request rate {drift:+.0f}% vs GA day)"
        items.append(
            _Item(
                MitigationAction(
                    priority="P1",
                    kpi=kpi,
                    finding=finding + "; the day cannot be judged healthy",
                    action="Check that the service is up and reachable (load balancer, DNS, "
                    "client errors before the service) and that the metrics pipeline scrapes it",
                ),
                _SEVERITY_RANK["high"],
                -1,
                100.0,
            )
        )
        return items
    partial = _partial_text(day.kpis)
    if partial:
        worst = min(
            (k for k, v in day.kpis.items() if v.partial),
            key=lambda k: (day.kpis[k].coverage or 0.0, k),
        )
        items.append(
            _Item(
                MitigationAction(
                    priority="P1",
                    kpi=worst,
                    finding=f"Day {day.day_number} judged on {partial}; SLOs on these KPIs "
                    "are unknown, not met",
                    action="Find the gap in the backend (scrape failures, a down "
                    "Prometheus or store, NaN samples) and rerun `tars stability --day-number "
                    f"{day.day_number}` once the data is complete",
                ),
                _SEVERITY_RANK["medium"],
                -1,
                1.0 - (day.kpis[worst].coverage or 0.0),
            )
        )
    return items


def _drift_items(day: DaySummary, catalogue: Catalogue) -> list[_Item]:
    items: list[_Item] = []
    low, high = DRIFT_SCORE_BAND
    drifts, _ = _adverse_drifts(day, catalogue)
    for kpi, adverse in drifts.items():
        if _r9(adverse) < low:
            continue
        spec = catalogue.kpis[kpi]
        drift = day.drift_percent[kpi]
        assert drift is not None
        serious = _r9(adverse) >= high
        finding = f"Drift vs GA day: {_drift_text(kpi, day, catalogue)}, {adverse:.1f}% worse"
        if spec.target is not None:
            entry = day.kpis.get(kpi)
            if entry is not None and entry.value is not None:
                finding += f" (target {format_value(spec.target, spec.unit)})"
        cause = potential_causes(spec.family, "up" if drift > 0 else "down")[0]
        items.append(
            _Item(
                MitigationAction(
                    priority="P1" if serious else "P2",
                    kpi=kpi,
                    finding=finding,
                    action=f"Check first: {cause}",
                ),
                _SEVERITY_RANK["medium" if serious else "low"],
                2,
                adverse,
            )
        )
    return items


def _resource_items(day: DaySummary, catalogue: Catalogue) -> list[_Item]:
    items: list[_Item] = []
    utilisations, _ = _utilisations(day, catalogue)
    for kpi, u in utilisations.items():
        if _r9(u) < HEADROOM_ACTION_AT:
            continue
        spec = catalogue.kpis[kpi]
        action = _RESOURCE_FIRST_CHECKS.get(
            spec.family, f"Check first: {potential_causes(spec.family, 'up')[0]}"
        )
        finding = f"Low headroom: {_utilisation_text(kpi, day, catalogue, u)}"
        items.append(
            _Item(
                MitigationAction(priority="P2", kpi=kpi, finding=finding, action=action),
                _SEVERITY_RANK["medium" if _r9(u) >= HEADROOM_BAND[1] else "low"],
                3,
                u,
            )
        )
    return items


def mitigation_plan(
    day: DaySummary, anomalies: AnomalyEvents | None, catalogue: Catalogue
) -> list[MitigationAction]:
    """One item per finding, by priority, then severity; empty on a clean day.

    P0 an SLO burning faster than 14.4x; P1 any other SLO breach, a high or
    critical adverse anomaly, an adverse drift of 30% or more; P2 an adverse
    drift of 10% or more, a resource KPI at 85% of its target or more.
    Within a priority, SLO breaches and anomalies bring their own severity
    (breach: critical from 14.4x, high from 6x, else medium); a drift of 30% or
    more and a resource over its target rank as medium, smaller ones as low, so
    a breached SLO comes before a drift of the same priority. A day without
    traffic, or judged on partial data, gets a P1 item saying so (with the
    request rate's drift from the GA day).
    """
    items = (
        _data_items(day, catalogue)
        + _slo_items(day, catalogue)
        + _anomaly_items(day, anomalies, catalogue)
        + _drift_items(day, catalogue)
        + _resource_items(day, catalogue)
    )
    items.sort(
        key=lambda i: (
            _PRIORITY_RANK[i.action.priority],
            -i.severity,
            i.kind,
            -i.magnitude,
            i.action.kpi,
        )
    )
    return [i.action for i in items]


# --------------------------------------------------------------------------- report


def build_health_report(
    day: DaySummary,
    anomalies: AnomalyEvents | None,
    catalogue: Catalogue,
    generated_at: datetime,
) -> HealthReport:
    """Phase 4: the day's four components, weighted score, status and mitigation plan.

    A day without traffic is ``no_data`` whatever its score (the score is of what
    was measured).
    """
    components = {
        "slo_compliance": slo_component(day, catalogue),
        "anomaly_load": anomaly_component(day, anomalies, catalogue),
        "drift": drift_component(day, catalogue),
        "resource_headroom": resource_component(day, catalogue),
    }
    score = weighted_score(components)
    return HealthReport(
        day_number=day.day_number,
        generated_at=generated_at,
        health_score=score,
        status=health_status(score, day.slos, catalogue, day.kpis),
        components=components,
        mitigation_plan=mitigation_plan(day, anomalies, catalogue),
    )
