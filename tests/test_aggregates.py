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


def test_two_series_where_one_is_expected_cost_only_that_kpi(catalogue: Catalogue):
    two = SeriesSet(T, ({"a": "1"}, {"a": "2"}), np.ones((2, 4)))
    window = kpi_window(catalogue.kpis["avg_cpu_percent"], {"value": two}, 300, catalogue.pricing)
    assert window.value is None
    assert window.warning is not None and "returned 2 series where one was expected" in (
        window.warning
    )
    ratio = kpi_window(
        catalogue.kpis["error_rate"],
        {"numerator": two, "denominator": one([10.0] * 4)},
        300,
        catalogue.pricing,
    )
    assert ratio.value is None and ratio.warning and "query numerator" in ratio.warning


def _histogram(bounds: tuple[str, ...], rows: np.ndarray) -> SeriesSet:
    return SeriesSet(T[:2], tuple({"le": b} for b in bounds), rows)


ROWS = np.array([[90, 0], [99, 0], [100, 0], [100, 10], [100, 10]], dtype=float)
LES = ("0.1", "0.25", "0.5", "1", "+Inf")


def test_histogram_without_inf_bucket_has_no_value(catalogue: Catalogue):
    """Prometheus' histogram_quantile is NaN without +Inf: the KPI is missing, with the reason."""
    spec = catalogue.kpis["p99_latency_ms"]
    window = kpi_window(spec, {"buckets": _histogram(LES[:-1], ROWS[:-1])}, 300, catalogue.pricing)
    assert window.value is None and window.series.size == 0
    assert window.warning is not None and 'no le="+Inf" bucket' in window.warning


def test_bucket_with_a_non_numeric_le_is_ignored_as_prometheus_does(catalogue: Catalogue):
    spec = catalogue.kpis["p99_latency_ms"]
    clean = kpi_window(spec, {"buckets": _histogram(LES, ROWS)}, 300, catalogue.pricing)
    extra = np.vstack([ROWS, [[5.0, 7.0]]])
    odd = kpi_window(spec, {"buckets": _histogram((*LES, "abc"), extra)}, 300, catalogue.pricing)
    assert clean.value is not None and odd.value == clean.value
    np.testing.assert_array_equal(odd.series, clean.series)
    assert odd.warning is not None and "le='abc'" in odd.warning
    assert clean.warning is None


@pytest.mark.parametrize("huge", [1e308, -1e308, 1e101])
def test_values_no_measurement_reaches_leave_the_kpi_missing(catalogue: Catalogue, huge: float):
    """A gauge of 1e308 made a six-line ValidationError; now the KPI alone has no value."""
    for kpi in ("db_connections", "peak_cpu_percent", "requests_per_second"):
        spec = catalogue.kpis[kpi]
        component = next(iter(spec.queries))
        window = kpi_window(spec, {component: one([1.0, huge, 2.0, 3.0])}, 300, catalogue.pricing)
        assert window.value is None, kpi
        assert window.warning is not None and f"{abs(huge):.3g}" in window.warning
    buckets = _histogram(LES, np.where(ROWS == 99, huge, ROWS))
    p99 = kpi_window(catalogue.kpis["p99_latency_ms"], {"buckets": buckets}, 300, catalogue.pricing)
    assert p99.value is None and p99.warning


def test_a_ratio_that_overflows_is_missing_not_infinite(catalogue: Catalogue):
    spec = catalogue.kpis["error_rate"]
    window = kpi_window(
        spec,
        {"numerator": one([1e99, 0, 0, 0]), "denominator": one([1e-300, 0, 0, 0])},
        300,
        catalogue.pricing,
    )
    assert window.value is None and window.warning and "overflowed" in window.warning


def test_negative_counts_leave_a_ratio_missing(catalogue: Catalogue):
    spec = catalogue.kpis["availability"]
    window = kpi_window(
        spec, {"numerator": one([-5.0] * 4), "denominator": one([10.0] * 4)}, 300, catalogue.pricing
    )
    assert window.value is None and window.warning and "cannot be negative" in window.warning


def test_series_stats():
    stats = series_stats(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    assert stats is not None
    assert (stats.mean, stats.min, stats.max, stats.samples) == (2.5, 1.0, 4.0, 4)
    assert stats.std == pytest.approx(np.std([1, 2, 3, 4]))
    assert stats.p95 == pytest.approx(np.percentile([1, 2, 3, 4], 95))
    assert series_stats(np.array([np.nan])) is None


def test_buckets_of_one_bound_are_summed_whatever_their_spelling(catalogue: Catalogue):
    """le="1" until noon and le="1.0" after it are one bucket, as Prometheus coalesces them."""
    spec = catalogue.kpis["p99_latency_ms"]
    clean = kpi_window(spec, {"buckets": _histogram(LES, ROWS)}, 300, catalogue.pricing)
    split = np.vstack([ROWS[:3], [[100, np.nan]], ROWS[4:], [[np.nan, 10]]])
    respelled = kpi_window(
        spec, {"buckets": _histogram((*LES[:3], "1", "+Inf", "1.0"), split)}, 300, catalogue.pricing
    )
    assert respelled.value == clean.value and respelled.warning is None
    np.testing.assert_array_equal(respelled.series, clean.series)


def test_a_bucket_absent_at_a_point_is_left_out_there():
    """Prometheus never sees an absent series: interpolate across the buckets present."""
    bounds = np.array([0.1, 0.5, 1.0, math.inf])
    with_gap = histogram_quantile(0.5, bounds, np.array([[10.0], [np.nan], [30.0], [40.0]]))
    without = histogram_quantile(
        0.5, np.array([0.1, 1.0, math.inf]), np.array([[10.0], [30.0], [40.0]])
    )
    assert with_gap[0] == without[0] == pytest.approx(0.1 + 0.9 * 10 / 20)
    assert math.isnan(histogram_quantile(0.5, bounds, np.array([[1.0], [2.0], [3.0], [np.nan]]))[0])


def test_decreasing_counts_are_raised_as_prometheus_does_with_a_warning(catalogue: Catalogue):
    spec = catalogue.kpis["p50_latency_ms"]
    rows = np.array([[60, 60], [50, 50], [80, 80], [100, 100], [100, 100]], dtype=float)
    window = kpi_window(spec, {"buckets": _histogram(LES, rows)}, 300, catalogue.pricing)
    # ensureMonotonic: le=0.25 counts 60; rank 50 lies in the first bucket: 0.1 * 50 / 60
    assert window.value == pytest.approx(1000 * 0.1 * 50 / 60)
    assert window.warning and "decrease as le grows at 2 of 2 points" in window.warning
    # float noise (relative 1e-12) is not a decrease and is not reported
    noisy = np.array([[60, 60], [60 * (1 - 1e-13), 60], [80, 80], [100, 100], [100, 100]])
    quiet = kpi_window(spec, {"buckets": _histogram(LES, noisy)}, 300, catalogue.pricing)
    assert quiet.warning is None
