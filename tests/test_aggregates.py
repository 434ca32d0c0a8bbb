"""The daily arithmetic: quantiles from buckets, ratios of sums, missing data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tars_lib.collect.aggregates import histogram_quantile, kpi_window, series_stats
from tars_lib.core.catalogue import Catalogue
from tars_lib.sources.base import SeriesSet

from .truth import quantile

T = np.arange(300, 301 * 4, 300, dtype=np.int64)[:4]
BOUNDS = (0.1, 0.25, 0.5, 1.0, math.inf)


def one(values: list[float]) -> SeriesSet:
    return SeriesSet(T, ({},), np.array([values], dtype=float))


@given(
    increments=st.lists(st.integers(min_value=0, max_value=1000), min_size=5, max_size=5),
    q=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999]),
)
def test_histogram_quantile_matches_reference(increments: list[int], q: float) -> None:
    cumulative = np.cumsum(increments).astype(float)
    got = histogram_quantile(q, np.array(BOUNDS), cumulative[:, None])[0]
    want = quantile(q, dict(zip(BOUNDS, cumulative.tolist(), strict=True)))
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(want)


def test_ratio_is_of_summed_counts_not_mean_of_ratios(catalogue: Catalogue):
    spec = catalogue.kpis["error_rate"]
    num, den = [0.0, 0.0, 0.0, 50.0], [1000.0, 1000.0, 1000.0, 100.0]
    window = kpi_window(
        spec, {"numerator": one(num), "denominator": one(den)}, 300, catalogue.pricing
    )
    assert window.value == pytest.approx(100 * 50 / 3100)
    assert window.value != pytest.approx(np.mean(100 * np.array(num) / np.array(den)))
    assert window.series[3] == pytest.approx(50.0)


def test_daily_quantile_is_of_summed_buckets(catalogue: Catalogue):
    spec = catalogue.kpis["p99_latency_ms"]
    rows = np.array([[90, 0], [99, 0], [100, 0], [100, 10], [100, 10]], dtype=float)
    labels = tuple({"le": "+Inf" if math.isinf(b) else str(b)} for b in BOUNDS)
    buckets = SeriesSet(T[:2], labels, rows)
    window = kpi_window(spec, {"buckets": buckets}, 300, catalogue.pricing)
    day = {b: float(c) for b, c in zip(BOUNDS, rows.sum(axis=1), strict=True)}
    assert window.value == pytest.approx(1000 * quantile(0.99, day))
    assert window.series[1] == pytest.approx(
        1000 * quantile(0.99, dict(zip(BOUNDS, rows[:, 1].tolist(), strict=True)))
    )


def test_rate_mean_max_and_cost(catalogue: Catalogue):
    pricing = catalogue.pricing
    rps = kpi_window(
        catalogue.kpis["requests_per_second"], {"count": one([300, 600, 900, 0])}, 300, pricing
    )
    assert rps.value == pytest.approx(1800 / 1200)
    peak = kpi_window(
        catalogue.kpis["peak_cpu_percent"], {"value": one([10, 70, 20, np.nan])}, 300, pricing
    )
    assert peak.value == 70
    cost = kpi_window(
        catalogue.kpis["daily_cost_usd"],
        {"hourly": one([10, 12, 14, 12]), "cores": one([4] * 4), "memory_gib": one([16] * 4)},
        300,
        pricing,
    )
    assert cost.value == pytest.approx(12 * 24)


def test_cost_falls_back_to_priced_cores_and_memory(catalogue: Catalogue):
    pricing = catalogue.pricing
    empty = SeriesSet.empty(T)
    cost = kpi_window(
        catalogue.kpis["daily_cost_usd"],
        {"hourly": empty, "cores": one([8] * 4), "memory_gib": one([32] * 4)},
        300,
        pricing,
    )
    hourly = 8 * pricing.cpu_core_hour_usd + 32 * pricing.memory_gib_hour_usd
    assert cost.value == pytest.approx(hourly * 24)


def test_no_data_is_missing_not_zero(catalogue: Catalogue):
    empty = SeriesSet.empty(T)
    for kpi, spec in catalogue.kpis.items():
        components = {c: empty for c in (*spec.queries, *spec.fallback)}
        window = kpi_window(spec, components, 300, catalogue.pricing)
        assert window.value is None and window.missing, kpi
    zero_traffic = kpi_window(
        catalogue.kpis["availability"],
        {"numerator": one([0] * 4), "denominator": one([0] * 4)},
        300,
        catalogue.pricing,
    )
    assert zero_traffic.value is None


def test_two_series_where_one_is_expected_is_refused(catalogue: Catalogue):
    two = SeriesSet(T, ({"a": "1"}, {"a": "2"}), np.ones((2, 4)))
    with pytest.raises(ValueError, match="wrap it in sum"):
        kpi_window(catalogue.kpis["avg_cpu_percent"], {"value": two}, 300, catalogue.pricing)


def test_series_stats():
    stats = series_stats(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    assert stats is not None
    assert (stats.mean, stats.min, stats.max, stats.samples) == (2.5, 1.0, 4.0, 4)
    assert stats.std == pytest.approx(np.std([1, 2, 3, 4]))
    assert stats.p95 == pytest.approx(np.percentile([1, 2, 3, 4], 95))
    assert series_stats(np.array([np.nan])) is None
