"""Phase 3 around the detector: the plain EWMA against pandas, severity and impact, the
matrix, and the events and incidents of the simulated week (phase function and CLI)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import SettingError
from tars_lib.core.models import AnomalyEvent, AnomalyEvents, AnomalyParameters, Window
from tars_lib.judge.anomaly import (
    SeriesMatrix,
    detect,
    detector_config,
    ewma_moments,
    matrix_from_windows,
    severity_of,
)
from tars_lib.phases import AnomalyRun, run_anomalies, run_ga_kpi
from tars_lib.sources.scenario import ScenarioSource, load_scenario
from tars_lib.sources.spec import SourceSpec

from .conftest import ROOT, SCENARIO, run_tars
from .truth import quantile

Array = npt.NDArray[np.float64]
GA = datetime(2025, 11, 18, tzinfo=UTC)
DAY = timedelta(days=1)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
STEP = 300
WARMUP = 288
CHANGES = ROOT / "data" / "scenarios" / "ga_week_changes.yaml"
TOLERANCE = timedelta(minutes=15)


# --------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize("alpha", [0.05, 0.3, 0.9])
def test_ewma_moments_match_pandas(alpha: float) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(100, 5, size=(3, 500)) + np.linspace(0, 20, 500)
    mean, var = ewma_moments(x[:, 1:], alpha, x[:, 0], np.zeros(3))
    for row in range(3):
        ewm = pd.Series(x[row]).ewm(alpha=alpha, adjust=False)
        np.testing.assert_allclose(mean[row], ewm.mean().to_numpy()[1:], rtol=1e-10)
        np.testing.assert_allclose(
            var[row], ewm.var(bias=True).to_numpy()[1:], rtol=1e-8, atol=1e-10
        )


@pytest.mark.parametrize(
    ("z", "change", "severity"),
    [
        (3.2, 1.0, "low"),
        (3.99, 1.0, "low"),
        (4.0, 1.0, "medium"),
        (6.0, 1.0, "high"),
        (9.0, 1.0, "critical"),
        (-9.5, 1.0, "low"),  # severity_of takes |z|: a negative z is below every band
        (120.0, 0.12, "medium"),
        (7.0, 0.19, "medium"),
        (7.0, 0.2, "high"),
        (5.0, 0.01, "medium"),  # the cap only lowers high and critical
    ],
)
def test_severity_bands(z: float, change: float, severity: str) -> None:
    assert severity_of(z, change) == severity


def test_detector_config_is_the_settings_in_points() -> None:
    params = AnomalyParameters(
        z_threshold=2.5,
        ewma_alpha=0.2,
        variance_alpha=0.05,
        level_shift_hours=4.0,
        max_events_per_day=7,
    )
    five = detector_config(params, 300, 288)
    assert (five.z_threshold, five.alpha, five.beta) == (2.5, 0.2, 0.05)
    assert (five.shift_points, five.day_points, five.max_per_day, five.warmup) == (48, 288, 7, 288)
    minute = detector_config(params, 60, 1440)
    assert (minute.shift_points, minute.day_points) == (240, 1440)
    tiny = detector_config(AnomalyParameters(level_shift_hours=0.01), 300, 288)
    assert tiny.shift_points == 1  # never zero points


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("variance_alpha", 0.0, "variance_alpha 0: must be in (0, 1] (default 0.0003)"),
        ("variance_alpha", 1.5, "variance_alpha 1.5: must be in (0, 1] (default 0.0003)"),
        ("level_shift_hours", 0.0, "level_shift_hours 0: must be a positive number of hours"),
        ("level_shift_hours", 745.0, "(at most 744) (default 4)"),
        ("max_events_per_day", 0, "max_events_per_day 0: must be a whole number from 1 to 1000"),
    ],
)
def test_new_settings_are_checked(setting: str, value: float, words: str) -> None:
    with pytest.raises(SettingError) as caught:
        AnomalyParameters.checked(**{setting: value})
    assert caught.value.setting == setting
    assert words in str(caught.value)


def test_matrix_leaves_out_kpis_without_data() -> None:
    grid = np.arange(1, 6, dtype=np.int64) * STEP
    series = {
        "error_rate": np.array([1.0, 2, 3, 4, 5]),
        "p99_latency_ms": np.full(5, np.nan),  # collected, but no data
        "availability": np.array([np.nan, 99.0, np.nan, 98.0, 97.0]),
    }
    kpis = ["availability", "p99_latency_ms", "error_rate", "daily_cost_usd"]
    matrix = matrix_from_windows(kpis, series, grid, 2, STEP)
    assert matrix.kpis == ("availability", "error_rate")  # catalogue order, data only
    assert matrix.labels == ({}, {})
    np.testing.assert_array_equal(matrix.values[0], series["availability"])
    np.testing.assert_array_equal(matrix.values[1], series["error_rate"])
    assert (matrix.warmup, matrix.step) == (2, STEP)
    empty = matrix_from_windows(kpis, {}, grid, 2, STEP)
    assert empty.kpis == () and empty.values.shape == (0, 5)


# --------------------------------------------------------------------------- detect(), synthetic


def grid(days: int) -> npt.NDArray[np.int64]:
    """Window ends on the 5-minute grid from the GA moment; column j ends at GA + (j+1) x 5 min."""
    start = int(GA.timestamp())
    return np.arange(start + STEP, start + days * 86400 + 1, STEP, dtype=np.int64)


def synthetic(rows: Mapping[str, Array], days: int = 3) -> SeriesMatrix:
    timestamps = grid(days)
    assert all(len(v) == len(timestamps) for v in rows.values())
    return SeriesMatrix(
        timestamps,
        tuple(rows),
        tuple({} for _ in rows),
        np.array(list(rows.values())),
        WARMUP,
        STEP,
    )


def flat(level: float, spread: float, days: int = 3, seed: int = 0) -> Array:
    """Bounded noise of +-spread x level: no event can open in it (see test_detector)."""
    rng = np.random.default_rng(seed)
    return level * (1.0 + rng.uniform(-spread, spread, days * 288))


T0, T1 = 400, 429  # a 30-point (2.5 h) block on day 1: 09:20-11:50 UTC


def block(x: Array, value: float) -> Array:
    x = x.copy()
    x[T0 : T1 + 1] = value * (1.0 + np.linspace(-0.001, 0.001, T1 - T0 + 1))
    return x


def run_detect(
    matrix: SeriesMatrix,
    catalogue: Catalogue,
    window: Window | None = None,
    parameters: AnomalyParameters | None = None,
) -> AnomalyEvents:
    end = datetime.fromtimestamp(int(matrix.timestamps[-1]), UTC)
    return detect(
        matrix,
        catalogue,
        window or Window(start=GA + DAY, end=end),
        parameters or AnomalyParameters(),
        NOW,
    )


def test_impact_follows_the_kpi_direction(catalogue: Catalogue) -> None:
    rows = {
        "p99_latency_ms": block(flat(400.0, 0.01), 200.0),  # faster: improvement
        "availability": block(flat(99.0, 0.0001, seed=1), 99.95),  # up: improvement
        "requests_per_second": block(flat(1200.0, 0.01, seed=2), 3000.0),  # neutral
        "error_rate": block(flat(0.03, 0.05, seed=3), 2.0),  # up: adverse
        "db_cache_hit_rate": block(flat(99.4, 0.0005, seed=4), 80.0),  # down: adverse
    }
    result = run_detect(synthetic(rows), catalogue)
    got = {e.metric_name: (e.direction, e.impact) for e in result.events}
    assert got == {
        "p99_latency_ms": ("down", "improvement"),
        "availability": ("up", "improvement"),
        "requests_per_second": ("up", "neutral"),
        "error_rate": ("up", "adverse"),
        "db_cache_hit_rate": ("down", "adverse"),
    }
    # one incident of the adverse events only; improvements and neutral moves are not in it
    assert len(result.incidents) == 1
    incident = result.incidents[0]
    assert {k.kpi for k in incident.kpis} == {"error_rate", "db_cache_hit_rate"}
    breached = {e.metric_name: e.slo_breached for e in result.events}
    assert breached == {
        "p99_latency_ms": False,  # 200 ms is under the 500 ms threshold
        "availability": False,  # 99.95% is over the 99.9% target
        "requests_per_second": False,
        "error_rate": True,  # 2% errors against a 0.1% budget
        "db_cache_hit_rate": False,  # no SLO
    }
    # budget: the error share of each incident window over 0.1% of a 30-day period
    want = 100.0 * float(np.sum(rows["error_rate"][T0 : T1 + 1] / 100.0)) / (0.001 * 8640)
    assert incident.budget_burned == {"Error Rate": pytest.approx(round(want, 2), abs=1e-9)}


def test_event_times_values_and_severity_come_from_the_grid(catalogue: Catalogue) -> None:
    base = flat(400.0, 0.01)
    rows = {"p99_latency_ms": block(base, 900.0), "p50_latency_ms": block(flat(44.0, 0.0001), 46.0)}
    matrix = synthetic(rows)
    result = run_detect(matrix, catalogue)
    p99 = next(e for e in result.events if e.metric_name == "p99_latency_ms")
    # column j is the window ending at GA + (j + 1) x 5 min: the event starts where
    # window T0 starts and ends where window T1 ends
    assert p99.start == GA + T0 * timedelta(seconds=STEP)
    assert p99.end == GA + (T1 + 1) * timedelta(seconds=STEP)
    assert p99.duration_seconds == (T1 - T0 + 1) * STEP
    peak = int(np.argmax(rows["p99_latency_ms"][T0 : T1 + 1])) + T0
    assert p99.observed == pytest.approx(rows["p99_latency_ms"][peak], rel=1e-6)
    expected = pd.Series(base[:T0]).ewm(alpha=0.3, adjust=False).mean().iloc[-1]
    assert p99.expected == pytest.approx(expected, rel=1e-6)
    assert p99.kind == "spike" and p99.new_level is None and p99.explained_by is None
    assert p99.severity == "critical" and p99.peak_z > 9 and p99.slo_breached
    # P50 +4.5%: statistically sharp (peak z far over 9) but a small move, so medium
    p50 = next(e for e in result.events if e.metric_name == "p50_latency_ms")
    assert p50.peak_z > 9 and p50.severity == "medium" and not p50.slo_breached


def test_a_breached_slo_lifts_a_small_move_to_high(catalogue: Catalogue) -> None:
    # availability 99.97% -> 98%: a 2% move (capped at medium) that burns the 0.1% budget
    rows = {"availability": block(flat(99.97, 0.00002), 98.0)}
    event = run_detect(synthetic(rows), catalogue).events[0]
    assert abs(event.peak_z) >= 6 and severity_of(abs(event.peak_z), 0.02) == "medium"
    assert event.slo_breached and event.severity == "high"


def test_window_keeps_the_events_whose_peak_is_inside(catalogue: Catalogue) -> None:
    x = flat(400.0, 0.01)
    x[T0 : T1 + 1] = 900.0  # day 1
    x[T0 + 288 : T1 + 289] = 900.0  # day 2
    matrix = synthetic({"p99_latency_ms": x})
    both = run_detect(matrix, catalogue)
    assert [e.start.day for e in both.events] == [19, 20]
    day2 = run_detect(matrix, catalogue, Window(start=GA + 2 * DAY, end=GA + 3 * DAY))
    assert [e.start for e in day2.events] == [both.events[1].start]
    assert [i.id for i in day2.incidents] == [both.incidents[1].id]


def test_events_over_the_daily_cap_are_counted_per_kpi(catalogue: Catalogue) -> None:
    x = flat(400.0, 0.01)
    for at in (300, 350, 400, 450):  # four one-point spikes on day 1
        x[at] = 900.0
    y = flat(0.03, 0.05, seed=5)
    y[300] = 2.0
    matrix = synthetic({"p99_latency_ms": x, "error_rate": y})
    result = run_detect(matrix, catalogue, parameters=AnomalyParameters(max_events_per_day=2))
    assert [e.metric_name for e in result.events].count("p99_latency_ms") == 2
    assert result.suppressed == {"p99_latency_ms": 2}
    listed = [e.start for e in result.events if e.metric_name == "p99_latency_ms"]
    assert listed == [GA + 300 * timedelta(seconds=STEP), GA + 350 * timedelta(seconds=STEP)]


# --------------------------------------------------------------------------- the simulated week


def week_run(tmp: Path, catalogue: Catalogue, with_changes: bool) -> AnomalyRun:
    source = SourceSpec(scenario=SCENARIO).open()
    _, ga_path = run_ga_kpi(source, catalogue, tmp, None, NOW)
    return run_anomalies(
        source,
        catalogue,
        ga_path,
        tmp / "anomaly_events.json",
        window=None,
        detector=AnomalyParameters(),
        now=NOW,
        changes=load_changes(CHANGES) if with_changes else [],
    )


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> AnomalyRun:
    """Phase 3 on the simulated week with the scenario's changes file."""
    return week_run(tmp_path_factory.mktemp("week"), catalogue, with_changes=True)


@pytest.fixture(scope="module")
def week_without_changes(
    tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue
) -> AnomalyRun:
    return week_run(tmp_path_factory.mktemp("bare"), catalogue, with_changes=False)


def near(moment: datetime, hour: int, minute: int, day: int) -> bool:
    return abs(moment - (GA + day * DAY + timedelta(hours=hour, minutes=minute))) <= TOLERANCE


def test_the_week_is_written_with_the_defaults(week: AnomalyRun) -> None:
    events = week.events
    assert events.window == Window(start=GA + DAY, end=GA + 8 * DAY)
    assert events.parameters == AnomalyParameters()
    assert week.path is not None
    assert AnomalyEvents.model_validate_json(week.path.read_text(encoding="utf-8")) == events
    assert events.suppressed == {}
    assert [c.description for c in events.changes] == [c.description for c in load_changes(CHANGES)]


def test_day_2_latency_spike_is_one_incident(week: AnomalyRun) -> None:
    on_day_2 = [i for i in week.events.incidents if i.start.date() == (GA + 2 * DAY).date()]
    assert len(on_day_2) == 1
    incident = on_day_2[0]
    assert near(incident.start, 14, 0, day=2) and near(incident.end, 16, 30, day=2)
    assert {k.kpi for k in incident.kpis} >= {"p99_latency_ms"}
    assert incident.severity == "critical"
    assert incident.title.startswith("Latency spike: P99 latency ")
    for kpi in ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms"):
        (event,) = [e for e in week.events.events if e.metric_name == kpi]
        assert event.kind == "spike" and event.impact == "adverse"
        assert near(event.start, 14, 0, day=2) and near(event.end, 16, 30, day=2)


def test_day_4_error_burst_is_one_incident(week: AnomalyRun) -> None:
    on_day_4 = [i for i in week.events.incidents if i.start.date() == (GA + 4 * DAY).date()]
    assert len(on_day_4) == 1
    incident = on_day_4[0]
    assert near(incident.start, 9, 0, day=4) and near(incident.end, 12, 0, day=4)
    assert {k.kpi for k in incident.kpis} == {"error_rate", "availability"}
    assert incident.title.startswith("Error burst: Error rate ")
    error = next(e for e in week.events.events if e.metric_name == "error_rate")
    assert error.observed > 1.0 > 0.05 > error.expected > 0.0
    assert error.severity == "critical" and error.peak_z > 9 and error.slo_breached
    assert error.duration_seconds == (error.end - error.start).total_seconds() >= 300
    # availability moved 2%: under the small-change cap, lifted to high by its SLO breach
    availability = next(e for e in week.events.events if e.metric_name == "availability")
    assert availability.direction == "down" and availability.slo_breached
    change = abs(availability.observed - availability.expected) / availability.expected
    assert change < 0.2 and availability.severity == "high"


def test_no_recovery_is_reported_as_an_improvement(week: AnomalyRun) -> None:
    assert [e for e in week.events.events if e.impact != "adverse"] == []
    # and nothing at all starts at the incidents' ends (the return to the baseline)
    for incident in week.events.incidents:
        assert not [
            e
            for e in week.events.events
            if incident.end - TOLERANCE <= e.start <= incident.end + 2 * TOLERANCE
        ]


def test_quiet_kpis_have_no_events(week: AnomalyRun) -> None:
    quiet = [
        "requests_per_second",
        "avg_cpu_percent",
        "peak_cpu_percent",
        "avg_memory_percent",
        "redis_hit_rate",
        "redis_memory_mb",
        "db_connections",
        "db_cache_hit_rate",
    ]
    assert set(quiet) <= set(week.matrix.kpis)  # they were collected
    assert [e.metric_name for e in week.events.events if e.metric_name in quiet] == []


def test_every_sudden_incident_of_the_scenario_yields_an_adverse_event(week: AnomalyRun) -> None:
    scenario = load_scenario(SCENARIO)
    affected = {
        "latency_median_seconds": {"p99_latency_ms", "p95_latency_ms", "p50_latency_ms"},
        "error_fraction": {"error_rate", "availability"},
        "hourly_cost_usd": {"daily_cost_usd"},
    }
    checked = 0
    for incident in scenario.incidents:
        if incident.kind == "drift":
            continue  # slow drifts are the drift analysis's job, not a z-score's
        start, end = incident.window
        end = min(end, GA + 8 * DAY)
        for kpi in affected[incident.quantity]:
            hits = [
                e
                for e in week.events.events
                if e.metric_name == kpi
                and e.start < end
                and e.end > start
                and e.impact == "adverse"
            ]
            assert len(hits) == 1, (incident.name, kpi, hits)
            checked += 1
    assert checked == 6
    assert len(week.events.events) == checked  # and nothing else


def test_cost_step_is_a_level_shift_the_changes_file_explains(week: AnomalyRun) -> None:
    (cost,) = [e for e in week.events.events if e.metric_name == "daily_cost_usd"]
    assert cost.kind == "level_shift"
    assert near(cost.start, 0, 0, day=5)
    assert cost.end - cost.start == timedelta(hours=AnomalyParameters().level_shift_hours)
    # 12.5 USD/h x 24 = 300, then +12%
    assert cost.expected == pytest.approx(300.0, rel=1e-3)
    assert cost.new_level == pytest.approx(336.0, rel=1e-3)
    (change,) = load_changes(CHANGES)
    assert cost.explained_by == change.description
    assert all("daily_cost_usd" not in {k.kpi for k in i.kpis} for i in week.events.incidents)
    assert len(week.events.incidents) == 2


def test_without_the_changes_file_the_cost_step_is_an_incident(
    week_without_changes: AnomalyRun,
) -> None:
    events = week_without_changes.events
    (cost,) = [e for e in events.events if e.metric_name == "daily_cost_usd"]
    assert cost.explained_by is None and cost.kind == "level_shift"
    assert len(events.incidents) == 3
    (incident,) = [i for i in events.incidents if i.kpis[0].kpi == "daily_cost_usd"]
    assert [k.kpi for k in incident.kpis] == ["daily_cost_usd"]
    assert (incident.start, incident.end) == (cost.start, cost.end)
    assert incident.title.startswith("Daily cost level shift: Daily cost $336 against $300")
    assert incident.severity == "medium"  # a 12% move: capped
    assert incident.id == "inc-20251123-0000-daily_cost_usd"
    assert events.changes == []


def window_p99_ms(
    raw_buckets: list[tuple[Mapping[str, str], Array]], at: npt.NDArray[np.int64], t: int
) -> float:
    """histogram_quantile(0.99) of the 5-minute increase of the buckets, from raw samples."""
    now, before = int(np.flatnonzero(at == t)[0]), int(np.flatnonzero(at == t - STEP)[0])
    buckets: dict[float, float] = defaultdict(float)
    for labels, values in raw_buckets:
        buckets[float(labels["le"])] += values[now] - values[before]
    return 1000.0 * quantile(0.99, buckets)


def test_p99_budget_burned_by_the_latency_incident(week: AnomalyRun) -> None:
    (incident,) = [i for i in week.events.incidents if i.start.date() == (GA + 2 * DAY).date()]
    raw = ScenarioSource(SCENARIO).raw
    buckets = raw.series("http_request_duration_seconds_bucket")
    ends = range(int(incident.start.timestamp()) + STEP, int(incident.end.timestamp()) + 1, STEP)
    over = sum(window_p99_ms(buckets, raw.timestamps, t) > 500.0 for t in ends)
    assert over >= 25  # the spike is 150 minutes of p99 near a second
    want = over / (0.01 * 8640) * 100.0  # windows over 500 ms / (1% x 30 days of windows)
    assert incident.budget_burned == {"P99 Latency": pytest.approx(want, abs=0.006)}


def test_incident_id_is_the_same_on_a_run_that_ended_mid_incident(
    week: AnomalyRun, catalogue: Catalogue
) -> None:
    """A rerun later in the week (here: a run that stopped at 15:00 on day 2, inside the
    spike) names the incident the same way as the full week."""
    full = next(i for i in week.events.incidents if i.start.date() == (GA + 2 * DAY).date())
    matrix = week.matrix
    stop = int(np.searchsorted(matrix.timestamps, (GA + 2 * DAY + timedelta(hours=15)).timestamp()))
    cut = SeriesMatrix(
        matrix.timestamps[: stop + 1],
        matrix.kpis,
        matrix.labels,
        matrix.values[:, : stop + 1],
        matrix.warmup,
        matrix.step,
    )
    early = run_detect(
        cut, catalogue, Window(start=GA + DAY, end=GA + 2 * DAY + timedelta(hours=15))
    )
    (partial,) = early.incidents
    assert partial.id == full.id and partial.start == full.start
    assert partial.end == GA + 2 * DAY + timedelta(hours=15) < full.end


def test_day_window_on_the_same_matrix(week: AnomalyRun, catalogue: Catalogue) -> None:
    day4 = detect(
        week.matrix,
        catalogue,
        Window(start=GA + 4 * DAY, end=GA + 5 * DAY),
        AnomalyParameters(),
        NOW,
        load_changes(CHANGES),
    )
    assert {e.metric_name for e in day4.events} == {"error_rate", "availability"}
    full = [i for i in week.events.incidents if i.start.date() == (GA + 4 * DAY).date()]
    assert day4.incidents == full
    day2 = detect(
        week.matrix,
        catalogue,
        Window(start=GA + 2 * DAY, end=GA + 3 * DAY),
        AnomalyParameters(),
        NOW,
        load_changes(CHANGES),
    )
    assert day2.changes == []  # the change is on day 5
    assert [i.id for i in day2.incidents] == ["inc-20251120-1400-p50_latency_ms"]


# --------------------------------------------------------------------------- the CLI


def test_cli_anomalies_with_changes(tmp_path: Path) -> None:
    assert run_tars("ga-kpi", "--scenario", str(SCENARIO), cwd=tmp_path).returncode == 0
    result = run_tars(
        "anomalies",
        "--scenario",
        str(SCENARIO),
        "--changes",
        str(CHANGES),
        "--max-events-per-day",
        "5",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "anomaly_events.json").read_text(encoding="utf-8"))
    assert data["parameters"] == {**AnomalyParameters().model_dump(), "max_events_per_day": 5}
    assert [i["id"] for i in data["incidents"]] == [
        "inc-20251120-1400-p50_latency_ms",
        "inc-20251122-0900-availability",
    ]
    cost = [AnomalyEvent.model_validate(e) for e in data["events"]]
    assert [e.explained_by is not None for e in cost] == [
        e.metric_name == "daily_cost_usd" for e in cost
    ]
    assert "2 incident(s)" in result.stdout.splitlines()[0]
    titles = [line.strip() for line in result.stdout.splitlines()[1:]]
    assert titles == [f"[{i['severity']}] {i['title']}" for i in data["incidents"]]
    bad = tmp_path / "bad.yaml"
    bad.write_text("changes:\n  - at: 2025-11-23T00:00:00Z\n    kind: deploy\n", encoding="utf-8")
    failed = run_tars("anomalies", "--scenario", str(SCENARIO), "--changes", str(bad), cwd=tmp_path)
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        f"tars anomalies: error: {bad}: changes[0].description: Field required"
    ]
