"""EWMA z-score detection: the arithmetic against pandas, events on the simulated week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tars_lib.collect.collector import collect_window
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.models import AnomalyEvents, Window
from tars_lib.judge.anomaly import (
    SeriesMatrix,
    detect,
    ewma_moments,
    find_events,
    matrix_from_windows,
    severity_of,
    zscores,
)
from tars_lib.sources.scenario import ScenarioSource, load_scenario

from .conftest import SCENARIO

GA = datetime(2025, 11, 18, tzinfo=UTC)
DAY = timedelta(days=1)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


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


def test_z_uses_the_state_before_the_point() -> None:
    x = np.array([[10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 10.0, 30.0, 10.0]])
    alpha = 0.3
    z, expected = zscores(x, alpha, warmup=7)
    m, v = x[0, 0], 0.0
    ms, vs = [], []
    for value in x[0]:
        ms.append(m)
        vs.append(v)
        d = value - m
        m = m + alpha * d
        v = (1 - alpha) * (v + alpha * d * d)
    residual = x[0, 1:7] - np.array(ms[1:7])
    mad = np.median(np.abs(residual - np.median(residual)))
    floor = max(1.5 * 1.4826 * mad, 0.001 * abs(x[0, :7].mean()))
    want = (x[0, 7] - ms[7]) / max(np.sqrt(vs[7]), floor)
    assert z[0, 7] == pytest.approx(want)
    assert expected[0, 7] == pytest.approx(ms[7])
    assert np.isnan(z[0, :7]).all()  # warm-up points are never scored


def test_flat_series_is_floored_not_exploded() -> None:
    x = np.full((1, 400), 50.0)
    x[0, 350] = 50.01  # 0.02%: far under the 0.1% relative floor
    z, _ = zscores(x, 0.3, warmup=288)
    assert np.nanmax(np.abs(z)) == pytest.approx(0.01 / 0.05)


def test_find_events_merges_consecutive_same_sign_points() -> None:
    z = np.array(
        [
            [0, 4, 5, 0, -4, -4, 4, 0],
            [3.5, 0, 0, 0, 0, 0, 0, 3.5],
        ],
        dtype=float,
    )
    assert find_events(z, 3.0) == [(0, 1, 2), (0, 4, 5), (0, 6, 6), (1, 0, 0), (1, 7, 7)]
    assert find_events(np.full((2, 3), np.nan), 3.0) == []


@pytest.mark.parametrize(
    ("z", "change", "severity"),
    [
        (3.2, 1.0, "low"),
        (4.0, 1.0, "medium"),
        (6.0, 1.0, "high"),
        (9.0, 1.0, "critical"),
        (120.0, 0.12, "medium"),
        (7.0, 0.19, "medium"),
        (7.0, 0.2, "high"),
    ],
)
def test_severity_bands(z: float, change: float, severity: str) -> None:
    assert severity_of(z, change) == severity


def _matrix_and_events(catalogue: Catalogue, path=SCENARIO) -> tuple[SeriesMatrix, AnomalyEvents]:  # type: ignore[no-untyped-def]
    end = GA + 8 * DAY
    windows = collect_window(ScenarioSource(path), catalogue, GA, end)
    grid = np.arange(int(GA.timestamp()) + 300, int(end.timestamp()) + 1, 300)
    matrix = matrix_from_windows(
        list(catalogue.kpis), {k: w.series for k, w in windows.items()}, grid, 288, 300
    )
    events = detect(matrix, catalogue, Window(start=GA + DAY, end=end), 3.0, 0.3, NOW)
    return matrix, events


@pytest.fixture(scope="module")
def week_events(catalogue: Catalogue) -> AnomalyEvents:
    return _matrix_and_events(catalogue)[1]


def test_every_sudden_incident_yields_an_overlapping_adverse_event(week_events) -> None:  # type: ignore[no-untyped-def]
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
                for e in week_events.events
                if e.metric_name == kpi
                and e.start < end
                and e.end > start
                and e.impact == "adverse"
            ]
            assert hits, (incident.name, kpi)
            checked += 1
    assert checked == 6


def test_quiet_kpis_stay_quiet(week_events) -> None:  # type: ignore[no-untyped-def]
    quiet = [
        "requests_per_second",
        "avg_memory_percent",
        "redis_hit_rate",
        "db_connections",
        "db_cache_hit_rate",
        "redis_memory_mb",
        "avg_cpu_percent",
        "peak_cpu_percent",
    ]
    for kpi in quiet:
        assert sum(e.metric_name == kpi for e in week_events.events) <= 1, kpi


def test_improvements_are_never_incidents(week_events) -> None:  # type: ignore[no-untyped-def]
    recoveries = [
        e for e in week_events.events if e.metric_name == "p99_latency_ms" and e.direction == "down"
    ]
    assert recoveries and all(e.impact == "improvement" for e in recoveries)
    for event in week_events.events:
        if event.metric_name == "availability":
            assert event.impact == ("adverse" if event.direction == "down" else "improvement")
        if event.metric_name == "requests_per_second":
            assert event.impact == "neutral"


def test_events_carry_peak_values(week_events) -> None:  # type: ignore[no-untyped-def]
    spike = next(
        e for e in week_events.events if e.metric_name == "error_rate" and e.impact == "adverse"
    )
    assert spike.observed > 1.0 > 0.05 > spike.expected > 0.0
    assert spike.severity == "critical" and spike.peak_z > 9
    assert spike.duration_seconds == (spike.end - spike.start).total_seconds() >= 300
    assert week_events.parameters.z_threshold == 3.0 and week_events.parameters.ewma_alpha == 0.3


def test_gaps_do_not_poison_the_state() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(100, 1, size=(1, 600))
    x[0, 400:420] = np.nan
    x[0, 500] = 130
    z, _ = zscores(x, 0.3, warmup=288)
    assert np.isnan(z[0, 400:420]).all()
    assert np.isfinite(z[0, 421:]).all()
    assert z[0, 500] > 9


def test_rows_are_independent() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, size=(4, 300)) + np.array([[0], [10], [100], [1000]])
    together, _ = zscores(x, 0.3, warmup=100)
    for row in range(4):
        alone, _ = zscores(x[row : row + 1], 0.3, warmup=100)
        np.testing.assert_allclose(together[row], alone[0], equal_nan=True)
