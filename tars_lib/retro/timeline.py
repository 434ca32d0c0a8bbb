"""The week's story: what happened on which day and at what time, and a day-by-KPI status grid.

One line per incident ("Day 2, 14:00-16:30 UTC: Latency spike: P99 latency 957 ms
against 403 ms expected; 34.7% of the P99 Latency budget"), per recorded change,
per SLO breach no incident accounts for, per daily rollback recommendation, per
missing day, and a "quiet" line for a day with none of these, so every day of
the week is accounted for. The heat map grades each KPI on each day, worst first:
incident, SLO breach, explained (a recorded change moved it), drift (10% or more
adverse since GA), partial (a value from fewer than ``policy.MIN_COVERAGE`` of the
day's 5-minute points: not known to be OK), ok, no data. Its health row leaves out
the score of a day without traffic (``coverage.no_data_days``, or a report whose
status is ``no_data``): such a day has nothing to score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tars_lib.core.formatting import short_value
from tars_lib.core.models import WEEK_DAYS, HealthReport, TimelineEntry
from tars_lib.core.policy import DRIFT_BAND
from tars_lib.core.week import ReleaseWeek
from tars_lib.retro.coverage import no_data_days, partial_days

__all__ = ["STATUS_ORDER", "HeatMap", "heat_map", "story"]

STATUS_ORDER = ("incident", "breach", "explained", "drift", "partial", "ok", "no_data")
"""Heat-map statuses, worst first: a cell shows the worst that applies.

``partial`` (the day's value of the KPI is from too few points) loses to what was
seen (an incident, a breach, a change, a drift) and beats ``ok``: a partial day is
never shown as plainly OK."""


def _budget(burned: Mapping[str, float]) -> str:
    return ", ".join(f"{v:.1f}% of the {k} budget" for k, v in burned.items())


def _days_of(week: ReleaseWeek, start: datetime, end: datetime) -> range:
    """The days a span touches; an end exactly at midnight does not touch the next day."""
    last = week.day_of(end - timedelta(microseconds=1)) if end > start else week.day_of(start)
    return range(week.day_of(start), last + 1)


def story(week: ReleaseWeek) -> list[TimelineEntry]:
    """Days 1..7 in order, each with at least one line (GA day only when something happened)."""
    lines: list[TimelineEntry] = []
    incident_kpis: dict[int, set[str]] = {}
    for incident in week.incidents:
        day = week.day_of(incident.start)
        if not 0 <= day <= WEEK_DAYS:
            continue
        for covered in _days_of(week, incident.start, incident.end):  # every day it spans
            incident_kpis.setdefault(covered, set()).update(k.kpi for k in incident.kpis)
            if day < covered <= WEEK_DAYS:
                lines.append(
                    TimelineEntry(
                        day=covered,
                        kind="incident",
                        text=f"Day {covered}: still in the Day {day} incident "
                        f"({incident.headline}), until {incident.end:%b %d %H:%M} UTC",
                        severity=incident.severity,
                        incident_id=incident.id,
                    )
                )
        span = f"{incident.start:%H:%M}-{incident.end:%H:%M} UTC"
        if incident.end - incident.start >= timedelta(days=1) or (
            incident.end.date() != incident.start.date()
        ):
            span = f"{incident.start:%H:%M} UTC to {incident.end:%b %d %H:%M} UTC"
        burned = _budget(incident.budget_burned)
        lines.append(
            TimelineEntry(
                day=day,
                kind="incident",
                start=incident.start,
                end=incident.end,
                text=f"Day {day}, {span}: {incident.headline}"
                + (f"; {burned}" if burned else "")
                + f" ({incident.severity})",
                severity=incident.severity,
                incident_id=incident.id,
            )
        )
    for change in week.changes:
        day = week.day_of(change.at)
        if not 0 <= day <= WEEK_DAYS:
            continue
        lines.append(
            TimelineEntry(
                day=day,
                kind="change",
                start=change.at,
                text=f"Day {day}, {change.at:%H:%M} UTC: {change.kind.replace('_', ' ')}: "
                f"{change.description}",
            )
        )
    for day, summary in sorted(week.days.items()):
        for key, slo in summary.slos.items():
            if not slo.breached or slo.kpi in incident_kpis.get(day, set()):
                continue
            rate = f" (burn rate {slo.burn_rate:.1f}x)" if slo.burn_rate is not None else ""
            name = week.catalogue.slo_name(key)
            seen = [
                e
                for e in (week.anomalies.events if week.anomalies else [])
                if e.metric_name == slo.kpi
                and e.impact == "adverse"
                and week.day_of(e.start) == day
            ]
            if seen:  # an anomaly of the SLO's KPI says when it happened
                start, end = min(e.start for e in seen), max(e.end for e in seen)
                peak = max(seen, key=lambda e: abs(e.peak_z))
                unit = week.catalogue.kpis[slo.kpi].unit if slo.kpi in week.catalogue.kpis else ""
                text = (
                    f"Day {day}, {start:%H:%M}-{end:%H:%M} UTC: {name} SLO breached{rate}; "
                    f"{week.catalogue.kpis[slo.kpi].label if unit else slo.kpi} peaked at "
                    f"{short_value(peak.observed, unit)} ({short_value(peak.expected, unit)} "
                    "expected)"
                )
                lines.append(
                    TimelineEntry(day=day, kind="slo_breach", start=start, end=end, text=text)
                )
                continue
            lines.append(
                TimelineEntry(
                    day=day,
                    kind="slo_breach",
                    text=f"Day {day}: {name} SLO breached{rate}; no anomaly pinned it to a time",
                )
            )
        if summary.rollback_recommended:
            lines.append(
                TimelineEntry(
                    day=day,
                    kind="rollback",
                    text=f"Day {day}: the daily check recommended a rollback: "
                    + "; ".join(summary.rollback_reasons),
                )
            )
    for day in week.missing_days:
        lines.append(
            TimelineEntry(
                day=day,
                kind="missing",
                text=f"Day {day}: no data (the daily monitor did not run); nothing is known",
            )
        )
    for entry in partial_days(week):
        if entry.day >= 1:
            lines.append(TimelineEntry(day=entry.day, kind="missing", text=entry.text))
    busy = {line.day for line in lines}
    for day in range(1, WEEK_DAYS + 1):
        if day not in busy:
            lines.append(
                TimelineEntry(
                    day=day, kind="quiet", text=f"Day {day}: quiet: no incident, no SLO breach"
                )
            )
    order = {"incident": 0, "change": 1, "slo_breach": 2, "rollback": 3, "missing": 4, "quiet": 5}
    return sorted(
        lines,
        key=lambda e: (
            e.day,
            e.start is None,
            e.start.timestamp() if e.start else 0.0,
            order[e.kind],
        ),
    )


@dataclass(frozen=True)
class HeatMap:
    """Status of each KPI (rows) on each day 0..7 (columns), and the daily health scores.

    ``health`` has no score for a day in ``no_data``: a day without traffic is
    shown as "no data", not with the score of what little was measured.
    """

    kpis: list[str]
    labels: list[str]
    days: list[int]
    status: list[list[str]]
    health: dict[int, float]
    no_data: frozenset[int] = field(default_factory=frozenset)


def heat_map(week: ReleaseWeek, health: Mapping[int, HealthReport] | None = None) -> HeatMap:
    days = list(range(WEEK_DAYS + 1))
    marks: dict[tuple[str, int], set[str]] = {}

    def mark(kpi: str, day: int, status: str) -> None:
        if 0 <= day <= WEEK_DAYS:
            marks.setdefault((kpi, day), set()).add(status)

    for incident in week.incidents:
        for day in _days_of(week, incident.start, incident.end):
            for k in incident.kpis:
                mark(k.kpi, day, "incident")
    events = week.anomalies.events if week.anomalies else []
    for event in events:
        if event.explained_by is not None:
            mark(event.metric_name, week.day_of(event.start), "explained")
    for change in week.changes:  # the change explains its KPIs' new level from then on
        for kpi in change.kpis:
            for day in range(max(week.day_of(change.at), 0), WEEK_DAYS + 1):
                mark(kpi, day, "explained")
    for day, summary in week.days.items():
        for slo in summary.slos.values():
            if slo.breached:
                mark(slo.kpi, day, "breach")
    status: list[list[str]] = []
    for kpi, spec in week.catalogue.kpis.items():
        base = week.value(kpi, 0)
        row = []
        for day in days:
            value = week.value(kpi, day)
            found = marks.get((kpi, day), set())
            if value is None and not found:
                row.append("no_data")
                continue
            if _partial(week, kpi, day):
                found = found | {"partial"}
            if value is not None and base and day > 0:
                moved = (value - base) / abs(base) * 100
                adverse = {"lower": moved, "higher": -moved}.get(spec.direction, abs(moved))
                if adverse >= DRIFT_BAND[0]:
                    found = found | {"drift"}
            row.append(next((s for s in STATUS_ORDER if s in found), "ok"))
        status.append(row)
    empty = {d for d in no_data_days(week) if d in days}
    empty |= {d for d, r in (health or {}).items() if r.status == "no_data"}
    scores = {d: r.health_score for d, r in (health or {}).items() if d not in empty}
    return HeatMap(
        kpis=list(week.catalogue.kpis),
        labels=[spec.label for spec in week.catalogue.kpis.values()],
        days=days,
        status=status,
        health=scores,
        no_data=frozenset(empty),
    )


def _partial(week: ReleaseWeek, kpi: str, day: int) -> bool:
    """Whether the day's value of ``kpi`` is from fewer than ``MIN_COVERAGE`` of its points."""
    summary = week.ga if day == 0 else week.days.get(day)
    entry = summary.kpis.get(kpi) if summary is not None else None
    return entry is not None and entry.partial
