"""Incidents: grouping of hand-built events, ids, severity, titles, the budget arithmetic,
and how the health report and the retrospective name an incident (once)."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.formatting import short_value
from tars_lib.core.models import AnomalyEvent, AnomalyEvents, AnomalyParameters, Window
from tars_lib.judge.health import mitigation_plan
from tars_lib.judge.incidents import (
    MERGE_GAP,
    bad_fractions,
    budget_burned,
    group_incidents,
    slo_breached,
)
from tars_lib.retro.retrospective import build_retrospective

from .conftest import DAY, GA, WeekBuilder, quiet


def by_span(
    budgets: dict[tuple[datetime, datetime], dict[str, float]],
) -> Callable[[datetime, datetime, set[str]], dict[str, float]]:
    """Budgets given per incident span, as ``group_incidents`` asks for them."""
    return lambda start, end, _kpis: budgets.get((start, end), {})


ID = re.compile(r"^inc-(\d{8})-(\d{4})-([a-z0-9_]+)$")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return GA + day * DAY + timedelta(hours=hour, minutes=minute)


def ev(
    metric: str,
    start: datetime,
    end: datetime,
    z: float = 12.0,
    *,
    severity: str = "critical",
    impact: str = "adverse",
    observed: float = 2.0,
    expected: float = 1.0,
    kind: str = "spike",
    explained_by: str | None = None,
) -> AnomalyEvent:
    return AnomalyEvent(
        metric_name=metric,
        start=start,
        end=end,
        duration_seconds=(end - start).total_seconds(),
        peak_z=z,
        observed=observed,
        expected=expected,
        direction="up" if z > 0 else "down",
        impact=impact,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        explained_by=explained_by,
    )


def latency_events() -> list[AnomalyEvent]:
    """The day-2 spike as the detector reports it on the simulated week."""
    s, e = at(2, 14), at(2, 16, 30)
    return [
        ev("p50_latency_ms", s, e, 99.156, observed=125.007, expected=44.313),
        ev("p95_latency_ms", s, e, 104.973, observed=492.952, expected=220.989),
        ev("p99_latency_ms", s, e, 60.543, observed=956.961, expected=403.477),
    ]


def error_events() -> list[AnomalyEvent]:
    return [
        ev(
            "availability",
            at(4, 9),
            at(4, 12),
            -20.171,
            severity="high",
            observed=97.9538,
            expected=99.9703,
        ),
        ev("error_rate", at(4, 9), at(4, 12, 10), 431.694, observed=2.0462, expected=0.0297004),
    ]


# --------------------------------------------------------------------------- grouping


def test_overlapping_events_of_different_kpis_form_one_incident(catalogue: Catalogue) -> None:
    events = [
        ev("p99_latency_ms", at(2, 14), at(2, 16, 30), 60.0),
        ev("error_rate", at(2, 15), at(2, 15, 30), 15.0),
        ev("avg_cpu_percent", at(2, 16), at(2, 17, 10), 7.0),
    ]
    (incident,) = group_incidents(events, catalogue)
    assert (incident.start, incident.end) == (at(2, 14), at(2, 17, 10))
    assert [k.kpi for k in incident.kpis] == ["p99_latency_ms", "error_rate", "avg_cpu_percent"]


def test_events_further_apart_than_the_merge_gap_are_separate(catalogue: Catalogue) -> None:
    first = ev("p99_latency_ms", at(2, 10), at(2, 11))
    touching = ev("error_rate", at(2, 11) + MERGE_GAP, at(2, 12))
    apart = ev("error_rate", at(2, 11) + MERGE_GAP + timedelta(seconds=1), at(2, 12))
    assert len(group_incidents([first, touching], catalogue)) == 1
    assert len(group_incidents([first, apart], catalogue)) == 2
    # the gap counts from the latest end of the group, not from its last event
    long = ev("avg_cpu_percent", at(2, 10), at(2, 18))
    short = ev("p99_latency_ms", at(2, 10, 30), at(2, 11))
    late = ev("error_rate", at(2, 18, 10), at(2, 19))
    (one,) = group_incidents([long, short, late], catalogue)
    assert (one.start, one.end) == (at(2, 10), at(2, 19))
    # a chain of events each within the gap of the previous one is one incident
    chain = [ev("error_rate", at(3, h, 10), at(3, h + 1)) for h in range(5)]
    assert len(group_incidents(chain, catalogue)) == 1


def test_improvements_neutral_and_explained_events_never_form_incidents(
    catalogue: Catalogue,
) -> None:
    others = [
        ev("p99_latency_ms", at(2, 10), at(2, 11), -8.0, impact="improvement"),
        ev("requests_per_second", at(2, 12), at(2, 13), 9.0, impact="neutral"),
        ev(
            "daily_cost_usd",
            at(5, 0),
            at(5, 4),
            120.0,
            kind="level_shift",
            explained_by="api scaled out",
        ),
    ]
    assert group_incidents(others, catalogue) == []
    # nor do they bridge two adverse events into one incident
    a = ev("error_rate", at(2, 9), at(2, 10))
    b = ev("error_rate", at(2, 11, 20), at(2, 12))
    bridge = ev("p99_latency_ms", at(2, 10), at(2, 11, 30), -8.0, impact="improvement")
    incidents = group_incidents([a, bridge, b, *others], catalogue)
    assert [(i.start, i.end) for i in incidents] == [
        (at(2, 9), at(2, 10)),
        (at(2, 11, 20), at(2, 12)),
    ]


def test_ids_follow_the_format_and_are_stable(catalogue: Catalogue) -> None:
    events = latency_events() + error_events()
    ids = [i.id for i in group_incidents(events, catalogue)]
    # inc-<start, UTC, to the minute>-<KPI of the first event, alphabetically on a tie>
    assert ids == ["inc-20251120-1400-p50_latency_ms", "inc-20251122-0900-availability"]
    for incident_id in ids:
        assert ID.match(incident_id)
    # the same input, in any order, gives the same ids
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)
    assert [i.id for i in group_incidents(shuffled, catalogue)] == ids
    # a rerun over a longer window (more events later on) keeps the earlier ids
    later = [ev("avg_cpu_percent", at(6, 3), at(6, 4), 7.0, severity="high")]
    longer = [i.id for i in group_incidents(events + later, catalogue)]
    assert longer == [*ids, "inc-20251124-0300-avg_cpu_percent"]
    # and a run that ended inside the first incident (its events cut short) names it the same
    cut = [e.model_copy(update={"end": at(2, 15)}) for e in latency_events()]
    assert group_incidents(cut, catalogue)[0].id == ids[0]


def test_severity_is_the_highest_of_the_events(catalogue: Catalogue) -> None:
    for severities, want in [
        (("low", "medium"), "medium"),
        (("high", "low", "medium"), "high"),
        (("medium", "critical", "high"), "critical"),
        (("low",), "low"),
    ]:
        events = [
            ev(kpi, at(3, 10), at(3, 11), severity=s)
            for kpi, s in zip(
                ["error_rate", "p99_latency_ms", "avg_cpu_percent"], severities, strict=False
            )
        ]
        (incident,) = group_incidents(events, catalogue)
        assert incident.severity == want, severities


def test_each_kpi_once_with_its_strongest_event(catalogue: Catalogue) -> None:
    events = [
        ev("p99_latency_ms", at(2, 14), at(2, 14, 30), 8.0, observed=700.0, expected=400.0),
        ev("p99_latency_ms", at(2, 14, 40), at(2, 16), -30.0, observed=100.0, expected=400.0),
        ev("error_rate", at(2, 15), at(2, 15, 30), 12.0, observed=1.5, expected=0.03),
    ]
    (incident,) = group_incidents(events, catalogue)
    assert [(k.kpi, k.peak_z, k.peak, k.expected) for k in incident.kpis] == [
        ("p99_latency_ms", -30.0, 100.0, 400.0),
        ("error_rate", 12.0, 1.5, 0.03),
    ]
    assert [(k.label, k.unit) for k in incident.kpis] == [
        ("P99 latency", "ms"),
        ("Error rate", "%"),
    ]


# --------------------------------------------------------------------------- titles


def test_latency_title_leads_with_the_kpi_whose_slo_burned(catalogue: Catalogue) -> None:
    events = latency_events()
    span = (at(2, 14), at(2, 16, 30))
    (plain,) = group_incidents(events, catalogue)
    # no budget given: the lead is the strongest event (P95)
    assert (
        plain.title == "Latency spike: P95 latency 493 ms against 221 ms expected, 14:00-16:30 UTC"
    )
    (burned,) = group_incidents(events, catalogue, by_span({span: {"P99 Latency": 34.72}}))
    assert (
        burned.title == "Latency spike: P99 latency 957 ms against 403 ms expected, 14:00-16:30 UTC"
    )
    assert burned.budget_burned == {"P99 Latency": 34.72}


def test_error_burst_and_other_titles(catalogue: Catalogue) -> None:
    (errors,) = group_incidents(error_events(), catalogue)
    assert errors.title == "Error burst: Error rate 2.05% against 0.0297% expected, 09:00-12:10 UTC"
    drop = ev("availability", at(4, 9), at(4, 12), -20.0, observed=97.9538, expected=99.9703)
    (availability,) = group_incidents([drop], catalogue)
    assert availability.title.startswith("Availability drop: Availability ")
    cpu = ev("avg_cpu_percent", at(3, 23), at(4, 1, 30), 7.0, observed=88.0, expected=45.2)
    (overnight,) = group_incidents([cpu], catalogue)
    assert overnight.title == (
        "Average CPU rise: Average CPU 88% against 45.2% expected, Nov 21 23:00 - Nov 22 01:30 UTC"
    )
    step = ev("daily_cost_usd", at(5, 0), at(5, 4), 120.0, severity="medium", kind="level_shift",
              observed=336.0, expected=300.0)  # fmt: skip
    (cost,) = group_incidents([step], catalogue)
    assert (
        cost.title
        == "Daily cost level shift: Daily cost $336 against $300 expected, 00:00-04:00 UTC"
    )


def test_availability_title_keeps_the_distance_from_100(catalogue: Catalogue) -> None:
    drop = ev("availability", at(4, 9), at(4, 12), -20.0, observed=97.9538, expected=99.9703)
    (incident,) = group_incidents([drop], catalogue)
    assert "100%" not in incident.title
    assert "97.95%" in incident.title and "99.97%" in incident.title


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (956.961, "ms", "957 ms"),
        (2.0462, "%", "2.05%"),
        (336.0, "USD", "$336"),
        (12345.6, "USD", "$12,346"),
        (0.5, "", "0.5"),
    ],
)
def test_short_values(value: float, unit: str, text: str) -> None:
    assert short_value(value, unit) == text


# --------------------------------------------------------------------------- budget arithmetic


def test_budget_burned_arithmetic(catalogue: Catalogue) -> None:
    p99 = catalogue.slos["p99_latency"]
    series = np.array([400.0, 501.0, 957.0, np.nan, 500.0, 800.0])
    bad = bad_fractions(p99, "lower", series)
    np.testing.assert_array_equal(bad, [0.0, 1.0, 1.0, np.nan, 0.0, 1.0])  # over, not at, 500
    assert budget_burned(p99, bad, 300) == pytest.approx(3 / (0.01 * 8640) * 100)
    # the worked example of the module: 30 windows over 500 ms burn 34.7%
    assert budget_burned(p99, np.ones(30), 300) == pytest.approx(34.722, abs=1e-3)
    availability = catalogue.slos["availability"]
    share = bad_fractions(availability, "higher", np.array([99.95, 98.0, 101.0]))
    np.testing.assert_allclose(share, [0.0005, 0.02, 0.0])  # clipped at 0
    assert budget_burned(availability, share, 300) == pytest.approx(100 * 0.0205 / (0.001 * 8640))
    errors = catalogue.slos["error_rate"]
    np.testing.assert_allclose(
        bad_fractions(errors, "lower", np.array([2.0, 0.05])), [0.02, 0.0005]
    )


def test_slo_breached_is_burning_faster_than_the_budget(catalogue: Catalogue) -> None:
    p99 = catalogue.slos["p99_latency"]  # 1% of windows may be over
    assert slo_breached(p99, np.array([1.0] + [0.0] * 98))  # 1.01%
    assert not slo_breached(p99, np.array([1.0] + [0.0] * 99))  # exactly 1%
    assert not slo_breached(p99, np.array([np.nan, np.nan]))  # no data is no breach
    assert slo_breached(p99, np.array([np.nan, 1.0]))  # NaN windows are left out


# --------------------------------------------------------------------------- named once


def with_incidents(events: list[AnomalyEvent], catalogue: Catalogue) -> AnomalyEvents:
    span = (at(2, 14), at(2, 16, 30))
    return AnomalyEvents(
        generated_at=GA + 8 * DAY,
        window=Window(start=GA + DAY, end=GA + 8 * DAY),
        parameters=AnomalyParameters(),
        events=events,
        incidents=group_incidents(events, catalogue, by_span({span: {"P99 Latency": 34.72}})),
    )


def test_health_names_the_incident_once(make_week: WeekBuilder, catalogue: Catalogue) -> None:
    explained = ev("daily_cost_usd", at(2, 0), at(2, 4), 120.0, severity="high",
                   kind="level_shift", explained_by="api scaled out")  # fmt: skip
    anomalies = with_incidents([*latency_events(), explained], catalogue)
    (incident,) = anomalies.incidents
    week = make_week(quiet())
    plan = mitigation_plan(week.days[2], anomalies, catalogue)
    named = [a for a in plan if incident.id in a.finding]
    assert len(named) == 1
    assert named[0].finding == (
        f"Critical incident {incident.id}: {incident.title}; burned 34.7% of the P99 Latency budget"
    )
    assert named[0].priority == "P1"
    # no separate items for the incident's events, none for the explained step
    (item,) = [a for a in plan if "latency" in a.kpi or a.kpi == "daily_cost_usd"]
    assert item is named[0] and item.kpi in {k.kpi for k in incident.kpis}
    # the day after has nothing of it
    assert [
        a for a in mitigation_plan(week.days[3], anomalies, catalogue) if "incident" in a.finding
    ] == []


def test_retrospective_has_one_review_per_incident(
    make_week: WeekBuilder, catalogue: Catalogue
) -> None:
    events = latency_events() + error_events()
    errors_span = (at(4, 9), at(4, 12, 10))
    anomalies = with_incidents(events, catalogue).model_copy(
        update={
            "incidents": group_incidents(
                events,
                catalogue,
                by_span({(at(2, 14), at(2, 16, 30)): {"P99 Latency": 34.72}, errors_span: {}}),
            )
        }
    )
    week = make_week(quiet())
    week = dataclasses.replace(week, anomalies=anomalies)
    result = build_retrospective(week, GA + 9 * DAY)
    assert result.retrospective.incidents == anomalies.incidents
    for incident in anomalies.incidents:
        day = (incident.start - GA).days
        reviews = [
            a.description
            for a in result.retrospective.action_items
            if a.description.startswith(f"Post-incident review of the Day {day} incident")
        ]
        assert reviews == [
            f"Post-incident review of the Day {day} incident {incident.id}: {incident.title}"
        ]
    # the five degradations (three latency KPIs, two error KPIs) get two reviews, not five
    degraded = sorted((d.first_day, d.kpi) for d in result.degradations)
    assert degraded == [
        (2, "p50_latency_ms"),
        (2, "p95_latency_ms"),
        (2, "p99_latency_ms"),
        (4, "availability"),
        (4, "error_rate"),
    ]
    items = result.retrospective.action_items
    assert len([a for a in items if a.description.startswith("Post-incident")]) == 2
    # without incidents each degradation has its own review
    alone = dataclasses.replace(week, anomalies=anomalies.model_copy(update={"incidents": []}))
    items = build_retrospective(alone, GA + 9 * DAY).retrospective.action_items
    assert len([a for a in items if a.description.startswith("Post-incident")]) == 5
