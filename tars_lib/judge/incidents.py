"""Incidents: adverse events of different KPIs that overlap in time, as one thing that happened.

An SLO's budget burned by an incident is the share of its whole period's error
budget spent inside the incident's windows::

    burned% = 100 x sum_t bad_t / (budget x windows in the SLO period)

with ``bad_t`` the window's bad fraction (latency SLO: 1 when the window's
quantile is over the threshold; ratio SLO: the error share), traffic taken as
even across windows. A 150-minute latency spike with every window over 500 ms
burns 30 / (1% x 8,640) = 34.7% of a 30-day, 99% P99 budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from tars_lib.core.catalogue import Catalogue, SloSpec
from tars_lib.core.formatting import short_value
from tars_lib.core.models import AnomalyEvent, Incident, IncidentKpi, Severity

__all__ = [
    "MERGE_GAP",
    "Budgets",
    "bad_fractions",
    "budget_burned",
    "group_incidents",
    "slo_breached",
]

Array = npt.NDArray[np.float64]
MERGE_GAP = timedelta(minutes=15)
"""Events closer than this belong to one incident."""
_RANK: dict[Severity, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_WORDS = {
    "latency": "Latency spike",
    "errors": "Error burst",
    "availability": "Availability drop",
}


def bad_fractions(slo: SloSpec, direction: str, series: Array) -> Array:
    """Each window's bad fraction for ``slo`` from its KPI's 5-minute series (NaN: no data)."""
    if slo.kind == "latency":
        assert slo.threshold is not None
        return np.where(np.isfinite(series), (series > slo.threshold).astype(float), np.nan)
    share = 1.0 - series / 100.0 if direction == "higher" else series / 100.0
    return np.clip(share, 0.0, 1.0)


def budget_burned(slo: SloSpec, bad: Array, step: int) -> float:
    """Percent of the SLO period's error budget that these windows' bad fractions used."""
    budget = 1.0 - slo.target_percent / 100.0
    windows = slo.period_days * 86400 / step
    used = float(np.nansum(bad))
    return 100.0 * used / (budget * windows) if budget > 0 else 0.0


def slo_breached(slo: SloSpec, bad: Array) -> bool:
    """Burning faster than the budget allows (more than 1x) over these windows."""
    finite = bad[np.isfinite(bad)]
    return bool(finite.size) and float(finite.mean()) > 1.0 - slo.target_percent / 100.0


def _span(start: datetime, end: datetime) -> str:
    if start.date() == end.date():
        return f"{start:%H:%M}-{end:%H:%M} UTC"
    return f"{start:%b %d %H:%M} - {end:%b %d %H:%M} UTC"


def _headline(lead: AnomalyEvent, catalogue: Catalogue) -> str:
    spec = catalogue.kpis.get(lead.metric_name)
    label = spec.label if spec else lead.metric_name
    unit = spec.unit if spec else ""
    family = spec.family if spec else ""
    if lead.kind == "level_shift":
        word = f"{label} level shift"
    else:
        word = _WORDS.get(family) or f"{label} {'rise' if lead.direction == 'up' else 'drop'}"
    peak, expected = short_value(lead.observed, unit), short_value(lead.expected, unit)
    return f"{word}: {label} {peak} against {expected} expected"


Budgets = Callable[[datetime, datetime, set[str]], dict[str, float]]
"""(start, end, the incident's KPIs) -> budget burned per SLO name, from the series."""


def group_incidents(
    events: Sequence[AnomalyEvent],
    catalogue: Catalogue,
    burned: Budgets | None = None,
) -> list[Incident]:
    """Adverse, unexplained events merged across KPIs when they overlap (within ``MERGE_GAP``).

    Each incident lists its lead KPI first (the one whose SLO burned most, else
    the largest |z|): the one its title and the health plan name.

    ``burned`` computes an incident's budget use per SLO name (the caller has the
    series, this function does not); without it the incidents carry no budget.
    """
    adverse = sorted(
        (e for e in events if e.impact == "adverse" and e.explained_by is None),
        key=lambda e: (e.start, e.metric_name),
    )
    groups: list[list[AnomalyEvent]] = []
    end = None  # the open group's latest end: one pass, however many events overlap
    for event in adverse:
        if end is not None and event.start <= end + MERGE_GAP:
            groups[-1].append(event)
            end = max(end, event.end)
        else:
            groups.append([event])
            end = event.end
    return [_incident(group, catalogue, burned) for group in groups]


def incident_span(group: Sequence[AnomalyEvent]) -> tuple[datetime, datetime]:
    return min(e.start for e in group), max(e.end for e in group)


def _incident(
    group: list[AnomalyEvent],
    catalogue: Catalogue,
    burned: Budgets | None,
) -> Incident:
    start, end = incident_span(group)
    budget = burned(start, end, {e.metric_name for e in group}) if burned else {}
    by_kpi: dict[str, AnomalyEvent] = {}
    for e in group:  # the strongest event per KPI
        if e.metric_name not in by_kpi or abs(e.peak_z) > abs(by_kpi[e.metric_name].peak_z):
            by_kpi[e.metric_name] = e
    slo_kpis = {catalogue.slos[k].kpi: v for k, v in _by_key(catalogue, budget).items()}
    lead = max(by_kpi.values(), key=lambda e: (slo_kpis.get(e.metric_name, 0.0), abs(e.peak_z)))
    first = group[0]
    severity = max((e.severity for e in group), key=lambda s: _RANK[s])
    return Incident(
        id=f"inc-{start:%Y%m%d-%H%M}-{first.metric_name}",
        start=start,
        end=end,
        headline=(headline := _headline(lead, catalogue)),
        title=f"{headline}, {_span(start, end)}",
        severity=severity,
        kpis=[
            IncidentKpi(
                kpi=e.metric_name,
                label=catalogue.kpis[e.metric_name].label
                if e.metric_name in catalogue.kpis
                else e.metric_name,
                unit=catalogue.kpis[e.metric_name].unit if e.metric_name in catalogue.kpis else "",
                peak=e.observed,
                expected=e.expected,
                peak_z=e.peak_z,
            )
            for e in sorted(by_kpi.values(), key=lambda e: (e is not lead, -abs(e.peak_z)))
        ],
        budget_burned=budget,
    )


def _by_key(catalogue: Catalogue, budget: dict[str, float]) -> dict[str, float]:
    """SLO name -> burned, re-keyed by the SLO's catalogue key."""
    names = {catalogue.slo_name(k): k for k in catalogue.slos}
    return {names[n]: v for n, v in budget.items() if n in names}
