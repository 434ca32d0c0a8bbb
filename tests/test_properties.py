"""Property tests of the drift, cost and SLO arithmetic (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tars_lib.retro.cost import cost_trend, half_means
from tars_lib.retro.drift import classify_trend, drift_percent
from tars_lib.retro.slo import daily_budget_use, days_to_exhaustion, slo_status

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
costs = st.lists(st.floats(min_value=1.0, max_value=1e5), min_size=2, max_size=7)
bad_fractions = st.floats(min_value=0.0, max_value=1.0)
targets = st.sampled_from([90.0, 99.0, 99.5, 99.9, 99.95, 99.99])


@given(baseline=positive, percent=st.floats(min_value=-99.0, max_value=500.0))
def test_drift_recovers_the_applied_change(baseline: float, percent: float) -> None:
    final = baseline * (1 + percent / 100)
    assert drift_percent(baseline, final) == pytest.approx(percent, abs=1e-6)


@given(baseline=positive, final=positive, scale=positive)
def test_drift_is_scale_free_and_signed(baseline: float, final: float, scale: float) -> None:
    drift = drift_percent(baseline, final)
    assert drift is not None
    assert math.copysign(1, drift) == math.copysign(1, final - baseline) or drift == 0
    assert drift_percent(baseline * scale, final * scale) == pytest.approx(
        drift, rel=1e-9, abs=1e-9
    )


@given(st.lists(positive, min_size=2, max_size=8))
def test_trend_of_reversed_series_flips(series: list[float]) -> None:
    trend = classify_trend(series)
    flipped = {"increasing": "decreasing", "decreasing": "increasing", "volatile": "volatile"}
    assert classify_trend(series[::-1]) == flipped[trend]


@given(daily=costs, scale=st.floats(min_value=0.01, max_value=100.0))
def test_cost_trend_is_scale_free(daily: list[float], scale: float) -> None:
    assert cost_trend([c * scale for c in daily]) == cost_trend(daily)


@given(daily=costs)
def test_cost_trend_agrees_with_half_means(daily: list[float]) -> None:
    halves = half_means(daily)
    assert halves is not None
    first, second = halves
    trend = cost_trend(daily)
    if second > first * 1.1 + 1e-6:
        assert trend == "increasing"
    elif second < first * 0.9 - 1e-6:
        assert trend == "decreasing"
    elif first * 0.9 + 1e-6 < second < first * 1.1 - 1e-6:
        assert trend == "stable"


@given(bad=bad_fractions, target=targets, period=st.integers(min_value=1, max_value=90))
def test_budget_use_is_linear_and_a_full_burn_spends_the_period(
    bad: float, target: float, period: int
) -> None:
    use = daily_budget_use(bad, target, period)
    assert use == pytest.approx(2 * daily_budget_use(bad / 2, target, period))
    budget_fraction = 1 - target / 100
    # a whole period at burn rate 1 uses exactly 100% of the budget
    assert period * daily_budget_use(budget_fraction, target, period) == pytest.approx(100.0)


@given(uses=st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=7))
def test_days_to_exhaustion_extrapolates_the_mean(uses: list[float]) -> None:
    consumed = sum(uses)
    left = days_to_exhaustion(consumed, uses)
    mean = sum(uses) / len(uses)
    if consumed >= 100:
        assert left == 0.0
    elif mean == 0 or not math.isfinite((100 - consumed) / mean):
        assert left is None
    else:
        assert left is not None
        assert consumed + left * mean == pytest.approx(100.0)


@given(a=st.floats(min_value=0.0, max_value=300.0), b=st.floats(min_value=0.0, max_value=300.0))
def test_status_is_monotone_in_consumption(a: float, b: float) -> None:
    order = ["Healthy", "Moderate", "At Risk", "Critical"]
    low, high = sorted((a, b))
    assert order.index(slo_status(low, 30)) <= order.index(slo_status(high, 30))
