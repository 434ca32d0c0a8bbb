"""The week's story (``story``), the day-by-KPI heat map (``heat_map``), and how the
executive summary of the Markdown retrospective shows them.

Every expected text is written out here by hand from the inputs, not taken from the
code under test.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timedelta

import pytest

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.models import (
    AnomalyEvent,
    AnomalyEvents,
    AnomalyParameters,
    Change,
    DaySummary,
    HealthComponent,
    HealthReport,
    Incident,
    IncidentKpi,
    SloDay,
    TimelineEntry,
    Window,
)
from tars_lib.core.week import ReleaseWeek, load_release_week
from tars_lib.core.workspace import RetroInputs
from tars_lib.retro.markdown import render_markdown
from tars_lib.retro.retrospective import build_retrospective
from tars_lib.retro.timeline import STATUS_ORDER, heat_map, story

from .conftest import DAY, GA, TEST_DATA, build_week, slo_day
from .conftest import quiet as quiet_series

# --------------------------------------------------------------------------- helpers


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return GA + day * DAY + timedelta(hours=hour, minutes=minute)


def quiet(day: int) -> str:
    return f"Day {day}: quiet: no incident, no SLO breach"


def week_of(
    catalogue: Catalogue,
    *,
    series: dict[str, list[float | None]] | None = None,
    slos: dict[str, list[SloDay | None]] | None = None,
    events: list[AnomalyEvent] | None = None,
    incidents: list[Incident] | None = None,
    changes: list[Change] | None = None,
    days: list[int] | None = None,
) -> ReleaseWeek:
    week = build_week(catalogue, series or quiet_series(), slos=slos, days=days)
    if events is not None or incidents is not None:
        anomalies = AnomalyEvents(
            generated_at=GA + 8 * DAY,
            window=Window(start=GA, end=GA + 8 * DAY),
            parameters=AnomalyParameters(),
            events=events or [],
            incidents=incidents or [],
        )
        week = dataclasses.replace(week, anomalies=anomalies)
    if changes:
        week = dataclasses.replace(week, changes=tuple(changes))
    return week


def only_on(day: int, value: SloDay) -> list[SloDay | None]:
    """An SLO recorded on ``day`` only."""
    return [value if d == day else None for d in range(8)]


def ev(
    metric: str,
    start: datetime,
    end: datetime,
    z: float = 8.0,
    *,
    impact: str = "adverse",
    observed: float = 2.0,
    expected: float = 1.0,
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
        severity="high",
        explained_by=explained_by,
    )


def incident(
    kpis: list[str],
    start: datetime,
    end: datetime,
    headline: str,
    *,
    severity: str = "critical",
    budget: dict[str, float] | None = None,
) -> Incident:
    return Incident(
        id=f"inc-{start:%Y%m%d-%H%M}-{kpis[0]}",
        start=start,
        end=end,
        title=f"{headline}, {start:%H:%M}-{end:%H:%M} UTC",
        headline=headline,
        severity=severity,  # type: ignore[arg-type]
        kpis=[
            IncidentKpi(kpi=k, label=k, unit="", peak=2.0, expected=1.0, peak_z=9.0) for k in kpis
        ],
        budget_burned=budget or {},
    )


def with_rollback(week: ReleaseWeek, day: int, reasons: list[str]) -> ReleaseWeek:
    summary = DaySummary.model_validate(
        {
            **week.days[day].model_dump(),
            "rollback_recommended": True,
            "rollback_reasons": reasons,
        }
    )
    return dataclasses.replace(week, days={**week.days, day: summary})


def texts(lines: list[TimelineEntry]) -> list[str]:
    return [line.text for line in lines]


def of_day(lines: list[TimelineEntry], day: int) -> list[TimelineEntry]:
    return [line for line in lines if line.day == day]


# burn rates: bad fraction / (1 - target): 0.0035 / 0.001 = 3.5x, 0.0032 / 0.001 = 3.2x,
# 0.1 / 0.01 = 10.0x
AVAILABILITY_BREACH = slo_day("availability", 0.0035)
ERROR_BREACH = slo_day("error_rate", 0.0032)
P99_BREACH = slo_day("p99_latency_ms", 0.1, target=99.0)


# --------------------------------------------------------------------------- story


def test_a_week_with_nothing_is_seven_quiet_days_in_order(catalogue: Catalogue) -> None:
    lines = story(week_of(catalogue))
    assert texts(lines) == [quiet(d) for d in range(1, 8)]
    assert [(line.day, line.kind, line.start, line.end) for line in lines] == [
        (d, "quiet", None, None) for d in range(1, 8)
    ]
    # SLOs within budget are no breach; a day of no SLO data (None) is none either
    ok = {"availability": [slo_day("availability", 0.0005)] * 8}
    ok["error_rate"] = [slo_day("error_rate", None)] * 8
    assert texts(story(week_of(catalogue, slos=ok))) == [quiet(d) for d in range(1, 8)]


def test_an_incident_is_one_line_with_its_span_budget_and_severity(catalogue: Catalogue) -> None:
    latency = incident(
        ["p99_latency_ms", "p95_latency_ms"],
        at(2, 14),
        at(2, 16, 30),
        "Latency spike: P99 latency 957 ms against 403 ms expected",
        budget={"P99 Latency": 34.72},
    )
    errors = incident(
        ["error_rate"],
        at(4, 9),
        at(4, 12, 10),
        "Error burst: Error rate 2.05% against 0.0297% expected",
        severity="high",
        budget={"Error Rate": 12.345, "Availability": 3.0},
    )
    cpu = incident(
        ["avg_cpu_percent"],
        at(6, 3, 5),
        at(6, 4),
        "Average CPU rise: Average CPU 88% against 45.2% expected",
        severity="medium",
    )
    lines = story(week_of(catalogue, incidents=[latency, errors, cpu]))
    assert texts(lines) == [
        quiet(1),
        "Day 2, 14:00-16:30 UTC: Latency spike: P99 latency 957 ms against 403 ms expected; "
        "34.7% of the P99 Latency budget (critical)",
        quiet(3),
        "Day 4, 09:00-12:10 UTC: Error burst: Error rate 2.05% against 0.0297% expected; "
        "12.3% of the Error Rate budget, 3.0% of the Availability budget (high)",
        quiet(5),
        # no budget burned: no budget part
        "Day 6, 03:05-04:00 UTC: Average CPU rise: Average CPU 88% against 45.2% expected (medium)",
        quiet(7),
    ]
    (two,) = of_day(lines, 2)
    assert (two.kind, two.start, two.end) == ("incident", at(2, 14), at(2, 16, 30))
    assert (two.incident_id, two.severity) == ("inc-20251120-1400-p99_latency_ms", "critical")
    (four,) = of_day(lines, 4)
    assert (four.start, four.end, four.incident_id, four.severity) == (
        at(4, 9),
        at(4, 12, 10),
        "inc-20251122-0900-error_rate",
        "high",
    )


def test_a_multi_day_incident_names_the_date_it_ended(catalogue: Catalogue) -> None:
    overnight = incident(
        ["avg_cpu_percent"],
        at(3, 23),
        at(4, 1, 30),
        "Average CPU rise: Average CPU 88% against 45.2% expected",
        severity="high",
    )
    lines = story(week_of(catalogue, incidents=[overnight]))
    # day 3 is Nov 21 (GA Nov 18 is day 0), day 4 is Nov 22; the timed line is on its start day
    # (day 4 gets an untimed "still in the Day 3 incident" line)
    (line,) = [line for line in lines if line.kind == "incident" and line.start is not None]
    assert line.day == 3
    assert line.text == (
        "Day 3, 23:00 UTC to Nov 22 01:30 UTC: Average CPU rise: Average CPU 88% against "
        "45.2% expected (high)"
    )
    assert (line.start, line.end) == (at(3, 23), at(4, 1, 30))
    # a same-day incident keeps the short form
    same_day = incident(["avg_cpu_percent"], at(3, 0), at(3, 23, 59), "CPU", severity="low")
    (short,) = [x for x in story(week_of(catalogue, incidents=[same_day])) if x.day == 3]
    assert short.text == "Day 3, 00:00-23:59 UTC: CPU (low)"


def test_a_day_inside_a_multi_day_incident_is_not_called_quiet(catalogue: Catalogue) -> None:
    """An incident from day 3 10:00 to day 5 10:00 is running all of day 4."""
    long = incident(["p99_latency_ms"], at(3, 10), at(5, 10), "Latency spike", severity="high")
    lines = story(week_of(catalogue, incidents=[long]))
    assert sorted({line.day for line in lines}) == list(range(1, 8))
    assert [line.day for line in lines] == sorted(line.day for line in lines)
    for day in (4, 5):
        assert quiet(day) not in texts(of_day(lines, day)), day


def test_a_recorded_change_is_a_timed_line(catalogue: Catalogue) -> None:
    changes = [
        Change(at=at(3, 9, 30), kind="feature_flag", description="checkout v2 on for 50%"),
        Change(at=at(5, 17, 45), kind="scaling", description="api 6 -> 9 pods", kpis=["x"]),
        Change(at=at(0, 12), kind="deploy", description="v1.0.1 to all regions"),
        Change(at=at(8, 1), kind="rollback", description="after the week: not in it"),
        Change(at=at(-1, 23), kind="config", description="before GA: not in it"),
    ]
    lines = story(week_of(catalogue, changes=changes))
    assert texts(lines) == [
        "Day 0, 12:00 UTC: deploy: v1.0.1 to all regions",
        quiet(1),
        quiet(2),
        "Day 3, 09:30 UTC: feature flag: checkout v2 on for 50%",
        quiet(4),
        "Day 5, 17:45 UTC: scaling: api 6 -> 9 pods",
        quiet(6),
        quiet(7),
    ]
    (three,) = of_day(lines, 3)
    assert (three.kind, three.start, three.end, three.incident_id) == (
        "change",
        at(3, 9, 30),
        None,
        None,
    )


def test_a_breach_an_incident_covers_has_no_line_of_its_own(catalogue: Catalogue) -> None:
    latency = incident(
        ["p95_latency_ms", "p99_latency_ms"],
        at(2, 14),
        at(2, 16, 30),
        "Latency spike",
        budget={"P99 Latency": 34.72},
    )
    slos = {"p99_latency": only_on(2, P99_BREACH), "availability": only_on(2, AVAILABILITY_BREACH)}
    lines = of_day(story(week_of(catalogue, slos=slos, incidents=[latency])), 2)
    # the P99 breach is the incident's; the availability breach is not covered by it
    assert texts(lines) == [
        "Day 2, 14:00-16:30 UTC: Latency spike; 34.7% of the P99 Latency budget (critical)",
        "Day 2: Availability SLO breached (burn rate 3.5x); no anomaly pinned it to a time",
    ]
    # an incident of the KPI on another day does not cover this day's breach
    other_day = incident(["p99_latency_ms"], at(3, 1), at(3, 2), "Latency spike")
    slos = {"p99_latency": only_on(2, P99_BREACH)}
    lines = of_day(story(week_of(catalogue, slos=slos, incidents=[other_day])), 2)
    assert texts(lines) == [
        "Day 2: P99 Latency SLO breached (burn rate 10.0x); no anomaly pinned it to a time"
    ]


def test_a_breach_continuing_an_overnight_incident_has_no_line_of_its_own(
    catalogue: Catalogue,
) -> None:
    """The incident runs from day 3 22:00 to day 4 03:00: it covers day 4's P99 breach too."""
    overnight = incident(["p99_latency_ms"], at(3, 22), at(4, 3), "Latency spike")
    slos = {"p99_latency": only_on(4, P99_BREACH)}
    lines = story(week_of(catalogue, slos=slos, incidents=[overnight]))
    assert [line for line in lines if line.kind == "slo_breach"] == []


def test_a_breach_an_adverse_anomaly_pins_down_gets_its_span_and_peak(
    catalogue: Catalogue,
) -> None:
    events = [
        ev("error_rate", at(4, 9, 15), at(4, 11, 45), 8.1, observed=2.4, expected=0.03),
        # a later, weaker adverse event of the same KPI widens the span, not the peak
        ev("error_rate", at(4, 13), at(4, 13, 30), 4.0, observed=0.9, expected=0.03),
        # none of these count: an improvement, another KPI, another day
        ev("error_rate", at(4, 20), at(4, 23), -9.5, impact="improvement", observed=0.001),
        ev("p99_latency_ms", at(4, 5), at(4, 6), 20.0, observed=900.0, expected=300.0),
        ev("error_rate", at(3, 8), at(3, 9), 30.0, observed=5.0, expected=0.03),
    ]
    slos = {"error_rate": only_on(4, ERROR_BREACH)}
    lines = story(week_of(catalogue, slos=slos, events=events))
    (line,) = of_day(lines, 4)
    assert line.text == (
        "Day 4, 09:15-13:30 UTC: Error Rate SLO breached (burn rate 3.2x); "
        "Error rate peaked at 2.4% (0.03% expected)"
    )
    assert (line.kind, line.start, line.end) == ("slo_breach", at(4, 9, 15), at(4, 13, 30))
    # the peak is the event furthest out in |z|, a drop as much as a rise
    drop = [
        ev("p99_latency_ms", at(2, 14, 5), at(2, 16, 40), 9.6, observed=1450.0, expected=330.0),
        ev("p99_latency_ms", at(2, 17), at(2, 17, 20), -12.0, observed=120.0, expected=330.0),
    ]
    slos = {"p99_latency": only_on(2, P99_BREACH)}
    (line,) = of_day(story(week_of(catalogue, slos=slos, events=drop)), 2)
    assert line.text == (
        "Day 2, 14:05-17:20 UTC: P99 Latency SLO breached (burn rate 10.0x); "
        "P99 latency peaked at 120 ms (330 ms expected)"
    )


def test_a_breach_nothing_pins_down_says_so(catalogue: Catalogue) -> None:
    events = [
        ev("availability", at(4, 9), at(4, 10), 5.0, impact="improvement"),
        ev("error_rate", at(4, 9), at(4, 12), 8.0),  # adverse, but of another KPI
    ]
    slos = {"availability": only_on(4, AVAILABILITY_BREACH)}
    for week in (
        week_of(catalogue, slos=slos),  # no anomaly file at all
        week_of(catalogue, slos=slos, events=events),
    ):
        (line,) = of_day(story(week), 4)
        assert line.text == (
            "Day 4: Availability SLO breached (burn rate 3.5x); no anomaly pinned it to a time"
        )
        assert (line.kind, line.start, line.end) == ("slo_breach", None, None)


def test_a_daily_rollback_recommendation_is_a_line(catalogue: Catalogue) -> None:
    week = with_rollback(
        week_of(catalogue), 5, ["P99 latency 40% over GA day", "error rate 3x GA day"]
    )
    lines = story(week)
    (line,) = of_day(lines, 5)
    assert line.text == (
        "Day 5: the daily check recommended a rollback: P99 latency 40% over GA day; "
        "error rate 3x GA day"
    )
    assert (line.kind, line.start) == ("rollback", None)
    assert texts(lines) == [quiet(d) if d != 5 else line.text for d in range(1, 8)]


def test_a_missing_day_is_a_missing_line_not_a_quiet_one(catalogue: Catalogue) -> None:
    lines = story(week_of(catalogue, days=[1, 2, 4, 5, 7]))
    assert texts(lines) == [
        quiet(1),
        quiet(2),
        "Day 3: no data (the daily monitor did not run); nothing is known",
        quiet(4),
        quiet(5),
        "Day 6: no data (the daily monitor did not run); nothing is known",
        quiet(7),
    ]
    assert [line.kind for line in lines if line.day in (3, 6)] == ["missing", "missing"]


def test_lines_of_a_day_are_in_time_order(catalogue: Catalogue) -> None:
    latency = incident(["p99_latency_ms"], at(2, 14), at(2, 16), "Latency spike")
    early = incident(["avg_cpu_percent"], at(2, 3), at(2, 3, 40), "CPU rise", severity="medium")
    changes = [
        Change(at=at(2, 9), kind="deploy", description="v1.0.1-hotfix"),
        Change(at=at(2, 22, 15), kind="config", description="pool size 50"),
        Change(at=at(1, 23, 59), kind="other", description="late on day 1"),
    ]
    events = [ev("error_rate", at(2, 11), at(2, 12), 8.0, observed=2.4, expected=0.03)]
    slos = {
        "error_rate": only_on(2, ERROR_BREACH),
        "availability": only_on(2, AVAILABILITY_BREACH),
        "p99_latency": only_on(2, P99_BREACH),  # the incident's: no line
    }
    week = week_of(
        catalogue,
        slos=slos,
        events=events,
        incidents=[latency, early],  # given out of time order
        changes=changes,
    )
    week = with_rollback(week, 2, ["error rate 3x GA day"])
    lines = story(week)
    assert texts(lines) == [
        "Day 1, 23:59 UTC: other: late on day 1",
        "Day 2, 03:00-03:40 UTC: CPU rise (medium)",
        "Day 2, 09:00 UTC: deploy: v1.0.1-hotfix",
        "Day 2, 11:00-12:00 UTC: Error Rate SLO breached (burn rate 3.2x); "
        "Error rate peaked at 2.4% (0.03% expected)",
        "Day 2, 14:00-16:00 UTC: Latency spike (critical)",
        "Day 2, 22:15 UTC: config: pool size 50",
        # untimed lines after the timed ones
        "Day 2: Availability SLO breached (burn rate 3.5x); no anomaly pinned it to a time",
        "Day 2: the daily check recommended a rollback: error rate 3x GA day",
        *[quiet(d) for d in range(3, 8)],
    ]
    timed = [line.start for line in of_day(lines, 2) if line.start is not None]
    assert timed == sorted(timed)


TEST_WEEK_STORY = [
    "Day 1: quiet: no incident, no SLO breach",
    # P99 bad fraction 0.100694 of a 1% budget; the p99 anomaly 14:05-16:40, 1450 vs 330 ms
    "Day 2, 14:05-16:40 UTC: P99 Latency SLO breached (burn rate 10.1x); "
    "P99 latency peaked at 1,450 ms (330 ms expected)",
    "Day 3: quiet: no incident, no SLO breach",
    # the error rate's 0.08% stays under its 0.1% budget: no breach, no line of its own;
    # availability 0.0035 of a 0.1% budget; no availability anomaly that day
    "Day 4: Availability SLO breached (burn rate 3.5x); no anomaly pinned it to a time",
    "Day 5: quiet: no incident, no SLO breach",
    "Day 6: quiet: no incident, no SLO breach",
    "Day 7: quiet: no incident, no SLO breach",
]


@pytest.fixture
def test_week(test_data_inputs: RetroInputs, catalogue: Catalogue) -> ReleaseWeek:
    return load_release_week(test_data_inputs, catalogue)


def test_the_story_of_the_bundled_test_week(test_week: ReleaseWeek) -> None:
    lines = story(test_week)
    assert texts(lines) == TEST_WEEK_STORY
    assert [(line.day, line.kind, line.start, line.end) for line in lines] == [
        (1, "quiet", None, None),
        (2, "slo_breach", at(2, 14, 5), at(2, 16, 40)),
        (3, "quiet", None, None),
        (4, "slo_breach", None, None),
        (5, "quiet", None, None),
        (6, "quiet", None, None),
        (7, "quiet", None, None),
    ]


# --------------------------------------------------------------------------- heat map


def cell(week: ReleaseWeek, kpi: str, day: int) -> str:
    hm = heat_map(week)
    return hm.status[hm.kpis.index(kpi)][hm.days.index(day)]


def test_rows_follow_the_catalogue_and_columns_are_days_0_to_7(catalogue: Catalogue) -> None:
    assert STATUS_ORDER == (
        "incident",
        "breach",
        "explained",
        "drift",
        "partial",
        "ok",
        "no_data",
    )
    hm = heat_map(week_of(catalogue))
    assert hm.kpis == list(catalogue.kpis)
    assert hm.labels == [spec.label for spec in catalogue.kpis.values()]
    assert hm.labels[:3] == ["Availability", "Error rate", "P50 latency"]
    assert hm.days == [0, 1, 2, 3, 4, 5, 6, 7]
    assert hm.status == [["ok"] * 8 for _ in catalogue.kpis]
    assert hm.health == {}
    assert hm.no_data == frozenset()


def test_the_worst_status_of_a_cell_wins(catalogue: Catalogue) -> None:
    kpi, day = "p99_latency_ms", 3

    def week(*present: str) -> ReleaseWeek:
        # p99 400 ms on day 3 against 300 ms on GA day: +33%, adverse
        value: list[float | None] = [300.0, 300.0, 300.0, 400.0, 300.0, 300.0, 300.0, 300.0]
        return week_of(
            catalogue,
            series=quiet_series(p99_latency_ms=value) if "drift" in present else None,
            slos={"p99_latency": only_on(day, P99_BREACH)} if "breach" in present else None,
            incidents=(
                [incident([kpi], at(day, 14), at(day, 16), "Latency spike")]
                if "incident" in present
                else None
            ),
            events=(
                [ev(kpi, at(day, 1), at(day, 2), explained_by="cache flushed")]
                if "explained" in present
                else None
            ),
        )

    all_four = ("incident", "breach", "explained", "drift")
    assert cell(week(*all_four), kpi, day) == "incident"
    assert cell(week("breach", "explained", "drift"), kpi, day) == "breach"
    assert cell(week("explained", "drift"), kpi, day) == "explained"
    assert cell(week("drift"), kpi, day) == "drift"
    assert cell(week(), kpi, day) == "ok"
    # each alone, too; and the other KPIs and days of the week with everything are ok
    for status in all_four:
        assert cell(week(status), kpi, day) == status
    hm = heat_map(week(*all_four))
    for row, name in zip(hm.status, hm.kpis, strict=True):
        for d, status in zip(hm.days, row, strict=True):
            if (name, d) != (kpi, day):
                assert status == "ok", (name, d)
    # a recorded change naming the KPI explains it too (one naming other KPIs does not)
    deploy = Change(at=at(day, 9), kind="deploy", description="v1.0.1-hotfix", kpis=[kpi])
    assert cell(week_of(catalogue, changes=[deploy]), kpi, day) == "explained"
    assert cell(week_of(catalogue, changes=[deploy]), "error_rate", day) == "ok"
    # incident beats no data: an incident on a missing day shows
    missing = week_of(
        catalogue,
        days=[1, 2, 4, 5, 6, 7],
        incidents=[incident([kpi], at(day, 1), at(day, 2), "Latency spike")],
    )
    assert cell(missing, kpi, day) == "incident"
    assert cell(missing, "error_rate", day) == "no_data"


def test_an_incident_marks_every_day_it_spans_and_only_its_kpis(catalogue: Catalogue) -> None:
    long = incident(
        ["p99_latency_ms", "error_rate"], at(3, 23), at(5, 1), "Latency spike and errors"
    )
    hm = heat_map(week_of(catalogue, incidents=[long]))
    row = dict(zip(hm.kpis, hm.status, strict=True))
    expected = ["ok", "ok", "ok", "incident", "incident", "incident", "ok", "ok"]
    assert row["p99_latency_ms"] == expected
    assert row["error_rate"] == expected
    assert row["availability"] == ["ok"] * 8


@pytest.mark.parametrize(
    ("kpi", "ga", "value", "status"),
    [
        # lower is better: up 10% or more is adverse
        ("p99_latency_ms", 200.0, 220.0, "drift"),
        ("p99_latency_ms", 200.0, 280.0, "drift"),
        ("p99_latency_ms", 200.0, 219.8, "ok"),  # 9.9%
        ("p99_latency_ms", 200.0, 180.0, "ok"),  # down 10%: better
        ("daily_cost_usd", 300.0, 330.0, "drift"),
        ("daily_cost_usd", 300.0, 270.0, "ok"),
        # higher is better: down 10% or more is adverse
        ("redis_hit_rate", 50.0, 45.0, "drift"),
        ("redis_hit_rate", 50.0, 45.05, "ok"),  # -9.9%
        ("redis_hit_rate", 50.0, 55.0, "ok"),  # up 10%: better
        # neutral: 10% either way
        ("requests_per_second", 1000.0, 1100.0, "drift"),
        ("requests_per_second", 1000.0, 900.0, "drift"),
        ("requests_per_second", 1000.0, 1050.0, "ok"),
        ("requests_per_second", 1000.0, 950.0, "ok"),
    ],
)
def test_drift_is_an_adverse_move_of_ten_percent_from_ga_day(
    catalogue: Catalogue, kpi: str, ga: float, value: float, status: str
) -> None:
    series = quiet_series(**{kpi: [ga, ga, ga, ga, value, ga, ga, ga]})
    hm = heat_map(week_of(catalogue, series=series))
    row = hm.status[hm.kpis.index(kpi)]
    assert row == ["ok"] * 4 + [status] + ["ok"] * 3


def test_missing_days_and_values_are_no_data(catalogue: Catalogue) -> None:
    series = quiet_series(
        redis_memory_mb=[None, 1000.0, None, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0],
        db_connections=[30.0, 30.0, 30.0, 30.0, 30.0, 30.0, None, 30.0],
    )
    hm = heat_map(week_of(catalogue, series=series, days=[1, 2, 3, 4, 6, 7]))
    row = dict(zip(hm.kpis, hm.status, strict=True))
    for name in catalogue.kpis:
        assert row[name][5] == "no_data", name  # day 5 missing
    assert row["redis_memory_mb"] == ["no_data", "ok", "no_data", "ok", "ok", "no_data", "ok", "ok"]
    assert row["db_connections"] == ["ok", "ok", "ok", "ok", "ok", "no_data", "no_data", "ok"]
    assert row["availability"] == ["ok"] * 5 + ["no_data"] + ["ok"] * 2


def health(day: int, score: float) -> HealthReport:
    return HealthReport(
        day_number=day,
        generated_at=GA + (day + 1) * DAY,
        health_score=score,
        status="healthy" if score >= 80 else "degraded" if score >= 60 else "critical",
        components={"slo_compliance": HealthComponent(score=score, weight=1.0, detail="-")},
        mitigation_plan=[],
    )


def test_health_scores_are_passed_through(catalogue: Catalogue) -> None:
    reports = {1: health(1, 91.5), 2: health(2, 42.0), 6: health(6, 100.0)}
    hm = heat_map(week_of(catalogue), reports)
    assert hm.health == {1: 91.5, 2: 42.0, 6: 100.0}
    assert heat_map(week_of(catalogue), {}).health == {}
    assert heat_map(week_of(catalogue), None).health == {}


def test_heat_map_of_the_bundled_test_week(test_week: ReleaseWeek) -> None:
    hm = heat_map(test_week)
    row = dict(zip(hm.kpis, hm.status, strict=True))
    # P99 720 ms on day 2 (breach) against 320 ms on GA day; otherwise within 10%
    assert row["p99_latency_ms"] == ["ok", "ok", "breach", "ok", "ok", "ok", "ok", "ok"]
    # availability breached on day 4; the error rate (0.04, 0.08, 0.05 vs 0.03) drifted only
    assert row["error_rate"] == ["ok", "ok", "drift", "ok", "drift", "drift", "ok", "ok"]
    assert row["availability"] == ["ok", "ok", "ok", "ok", "breach", "ok", "ok", "ok"]
    # Redis hit rate 95.1 -> 85.0 and lower from day 4 on: -10.6% or worse
    assert row["redis_hit_rate"] == ["ok"] * 4 + ["drift"] * 4
    # Redis memory 1024 -> 1140 (+11.3%) on day 4 and up from there
    assert row["redis_memory_mb"] == ["ok"] * 4 + ["drift"] * 4
    # request rate never moves 10% from 1200
    assert row["requests_per_second"] == ["ok"] * 8


def with_coverage(week: ReleaseWeek, coverage: dict[tuple[str, int], float]) -> ReleaseWeek:
    """``week`` with the recorded coverage of some (KPI, day) values replaced."""
    ga, days = week.ga, dict(week.days)
    for (kpi, day), share in coverage.items():
        summary = ga if day == 0 else days[day]
        entry = summary.kpis[kpi].model_copy(update={"coverage": share})
        changed = summary.model_copy(update={"kpis": {**summary.kpis, kpi: entry}})
        if day == 0:
            ga = changed  # type: ignore[assignment]
        else:
            days[day] = changed  # type: ignore[assignment]
    return dataclasses.replace(week, ga=ga, days=days)


def test_a_kpi_below_minimum_coverage_is_partial_unless_something_worse_shows(
    catalogue: Catalogue,
) -> None:
    # Day 4: a backend gap leaves most KPIs at 87.5% of their points; on the same day
    # avg CPU has an incident, P99 latency breaches its SLO and Redis memory drifts
    # +20%. The GA day has one partial KPI; DB connections at 95% and the error rate
    # at exactly 90% are not partial.
    coverage = {(kpi, 4): 0.875 for kpi in catalogue.kpis}
    coverage |= {
        ("db_connections", 4): 0.95,
        ("error_rate", 4): 0.9,
        ("redis_hit_rate", 4): 0.899,
        ("daily_cost_usd", 0): 0.5,
        ("p50_latency_ms", 6): 0.1,
    }
    memory: list[float | None] = [1000.0, 1000.0, 1000.0, 1000.0, 1200.0, 1000.0, 1000.0, 1000.0]
    week = with_coverage(
        week_of(
            catalogue,
            series=quiet_series(redis_memory_mb=memory),
            slos={"p99_latency": only_on(4, P99_BREACH)},
            incidents=[incident(["avg_cpu_percent"], at(4, 12), at(4, 16), "CPU level shift")],
        ),
        coverage,
    )
    seen = {("avg_cpu_percent", 4): "incident", ("p99_latency_ms", 4): "breach"}
    seen |= {("redis_memory_mb", 4): "drift"}
    hm = heat_map(week)
    for kpi, statuses in zip(hm.kpis, hm.status, strict=True):
        for day, status in zip(hm.days, statuses, strict=True):
            share = coverage.get((kpi, day))
            expected = seen.get((kpi, day)) or (
                "partial" if share is not None and share < 0.9 else "ok"
            )
            assert status == expected, (kpi, day)
    row = dict(zip(hm.kpis, hm.status, strict=True))
    assert row["availability"] == ["ok"] * 4 + ["partial"] + ["ok"] * 3
    assert row["daily_cost_usd"] == ["partial"] + ["ok"] * 3 + ["partial"] + ["ok"] * 3
    assert row["db_connections"] == ["ok"] * 8
    assert row["error_rate"] == ["ok"] * 8
    assert row["p50_latency_ms"][4:7] == ["partial", "ok", "partial"]
    assert hm.no_data == frozenset()
    # a KPI without a value is no data, whatever coverage says
    blank = with_coverage(
        week_of(catalogue, series=quiet_series(availability=[99.9] * 4 + [None] + [99.9] * 3)),
        {("availability", 4): 0.0},
    )
    assert cell(blank, "availability", 4) == "no_data"


def test_a_day_without_traffic_has_no_health_score(catalogue: Catalogue) -> None:
    # Day 3: no requests at all (the latency and availability KPIs have no value);
    # day 4 is partial but had traffic, so its score stands
    traffic: list[float | None] = [1000.0, 1000.0, 1000.0, 0.0, 1000.0, 1000.0, 1000.0, 1000.0]
    series = quiet_series(
        requests_per_second=traffic,
        availability=[99.95] * 3 + [None] + [99.95] * 4,
        p99_latency_ms=[300.0] * 3 + [None] + [300.0] * 4,
    )
    week = with_coverage(week_of(catalogue, series=series), {(k, 4): 0.875 for k in catalogue.kpis})
    no_traffic = health(3, 95.0).model_copy(update={"status": "no_data"})
    reports = {2: health(2, 88.0), 3: no_traffic, 4: health(4, 92.1)}
    hm = heat_map(week, reports)
    assert hm.no_data == frozenset({3})
    assert hm.health == {2: 88.0, 4: 92.1}
    row = dict(zip(hm.kpis, hm.status, strict=True))
    assert row["availability"][3] == "no_data" and row["p99_latency_ms"][3] == "no_data"
    assert row["requests_per_second"][3] == "drift"  # 0 against 1000: -100%
    assert row["avg_cpu_percent"][3] == "ok"  # measured in full
    assert all(r[4] == "partial" for r in hm.status)
    # without reports the week itself says day 3 had no traffic
    assert heat_map(week).no_data == frozenset({3})
    # and a report calling a day no_data is believed even if the week is complete
    assert heat_map(week_of(catalogue), {5: no_traffic}).no_data == frozenset({5})
    assert heat_map(week_of(catalogue), {5: no_traffic}).health == {}


# --------------------------------------------------------------------------- markdown


def executive(markdown: str) -> list[str]:
    start = markdown.index("## Executive Summary")
    end = markdown.index("## What Went Well")
    return markdown[start:end].splitlines()


def block_after(lines: list[str], heading: str) -> list[str]:
    """The lines after ``heading`` and its blank line, up to the next blank line."""
    i = lines.index(heading)
    assert lines[i + 1] == ""
    out = []
    for line in lines[i + 2 :]:
        if not line:
            break
        out.append(line)
    return out


@pytest.fixture
def test_week_markdown(test_week: ReleaseWeek) -> str:
    return render_markdown(build_retrospective(test_week, GA + 9 * DAY))


def test_executive_summary_tells_the_story_in_order(test_week_markdown: str) -> None:
    lines = executive(test_week_markdown)
    assert block_after(lines, "What happened, day by day (UTC):") == [
        f"- {text}" for text in TEST_WEEK_STORY
    ]


def test_timeline_text_is_escaped_in_the_markdown(catalogue: Catalogue) -> None:
    change = Change(at=at(3, 9), kind="config", description="set <limit> to a|b")
    result = build_retrospective(week_of(catalogue, changes=[change]), GA + 9 * DAY)
    story_lines = block_after(
        executive(render_markdown(result)), "What happened, day by day (UTC):"
    )
    assert story_lines[2] == "- Day 3, 09:00 UTC: config: set &lt;limit&gt; to a\\|b"
    assert len(story_lines) == 7


def test_key_metrics_name_the_worst_day_of_each_kpi(
    test_week_markdown: str, catalogue: Catalogue
) -> None:
    # the values as the files have them, read here without the library
    ga = json.loads((TEST_DATA / "ga_kpis" / "ga_kpi_summary.json").read_text())
    daily: dict[str, dict[int, float]] = {}
    for day in range(1, 8):
        path = TEST_DATA / "stability" / f"day_{day:02d}_summary.json"
        for kpi, entry in json.loads(path.read_text())["kpis"].items():
            if entry["value"] is not None:
                daily.setdefault(kpi, {})[day] = entry["value"]

    table = block_after(executive(test_week_markdown), "Key metrics at a glance:")
    header, rule, *rows = table
    assert header == "| KPI | GA day | Worst day | Day 7 | Change GA to last | Target |"
    assert rule == "|---|---|---|---|---|---|"
    cells = {row.split(" | ")[0].removeprefix("| "): row.split(" | ")[1:] for row in rows}
    labels = {spec.label: kpi for kpi, spec in catalogue.kpis.items()}
    # the SLOs' KPIs, then request rate and cost
    assert list(cells) == [
        "Availability",
        "P99 latency",
        "Error rate",
        "Request rate",
        "Daily cost",
    ]

    def number(text: str) -> float:
        match = re.search(r"\d[\d,]*(?:\.\d+)?", text)
        assert match, text
        return float(match.group().replace(",", ""))

    for label, (ga_cell, worst_cell, last_cell, *_) in cells.items():
        kpi = labels[label]
        direction = catalogue.kpis[kpi].direction
        values = daily[kpi]
        assert number(ga_cell) == pytest.approx(ga["kpis"][kpi]["value"]), label
        assert number(last_cell) == pytest.approx(values[7]), label
        if direction == "neutral":
            assert worst_cell == "—", label
            continue
        bad = max(values.values()) if direction == "lower" else min(values.values())
        (day,) = [d for d, v in values.items() if v == bad]  # no ties in the test data
        assert worst_cell.endswith(f" (Day {day})"), (label, worst_cell)
        assert number(worst_cell) == pytest.approx(bad), label
    # written out: availability lowest on day 4, P99 and error rate highest on days 2 and 4
    assert [cells[label][1] for label in cells] == [
        "99.650% (Day 4)",
        "720.0 ms (Day 2)",
        "0.080% (Day 4)",
        "—",
        "\\$330.00 (Day 4)",
    ]


def test_key_metrics_last_column_is_the_last_day_present(catalogue: Catalogue) -> None:
    series = quiet_series(p99_latency_ms=[300.0, 310.0, 450.0, 320.0, 330.0, 340.0, None, None])
    slos = {"p99_latency": [slo_day("p99_latency_ms", 0.0, target=99.0)] * 8}
    week = week_of(catalogue, series=series, slos=slos, days=[1, 2, 3, 4, 5])
    markdown = render_markdown(build_retrospective(week, GA + 9 * DAY))
    header, _, *rows = block_after(executive(markdown), "Key metrics at a glance:")
    assert header == "| KPI | GA day | Worst day | Day 5 | Change GA to last | Target |"
    (p99,) = [row for row in rows if row.startswith("| P99 latency |")]
    assert p99.split(" | ")[2:4] == ["450.0 ms (Day 2)", "340.0 ms"]
