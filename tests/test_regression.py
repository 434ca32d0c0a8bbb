"""Regression analysis: the statistics, and verdicts on simulated weeks with known shifts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from tars_lib.collect.collector import build_day_summary, build_ga_summary
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.models import RegressionSummary
from tars_lib.judge.regression import analyze_regressions, change_severity, hodges_lehmann
from tars_lib.sources.scenario import ScenarioSource

from .conftest import SCENARIO

GA = datetime(2025, 11, 18, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_hodges_lehmann_is_the_median_pairwise_difference() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(12, 2, 40), rng.normal(10, 2, 30)
    shift, low, high = hodges_lehmann(a, b)
    brute = sorted(x - y for x in a for y in b)
    assert shift == pytest.approx(np.median(brute))
    assert low < shift < high
    # distribution-free CI: order statistics at the U critical value (normal approximation)
    k = int(np.floor(1200 / 2 - 1.959964 * np.sqrt(40 * 30 * 71 / 12)))
    assert (low, high) == (pytest.approx(brute[k]), pytest.approx(brute[1200 - 1 - k]))


@pytest.mark.parametrize(
    ("change", "severity"),
    [(9.9, "none"), (10, "low"), (25, "medium"), (30, "high"), (49, "high"), (50, "critical")],
)
def test_change_severity(change: float, severity: str) -> None:
    assert change_severity(change) == severity


def run_week(
    catalogue: Catalogue,
    tmp_path: Path,
    extra_incidents: str = "",
    replace: tuple[str, str] | None = None,
) -> RegressionSummary:
    text = SCENARIO.read_text()
    if replace:
        text = text.replace(*replace)
    path = tmp_path / "scenario.yaml"
    path.write_text(text + extra_incidents)
    source = ScenarioSource(path)
    ga = build_ga_summary(source, catalogue, GA, NOW)
    days = {d: build_day_summary(source, catalogue, ga, d, NOW) for d in range(1, 8)}
    return analyze_regressions(catalogue, ga, days, NOW)


LATENCY_SHIFT = """
  - name: Slower code path from day 5
    kind: other
    quantity: latency_median_seconds
    start: "2025-11-23T00:00:00Z"
    duration_minutes: 4320
    factor: {factor}
"""


def test_forty_percent_p99_regression_recommends_rollback(catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # median latency x1.62 from day 5: the default buckets measure p99 about 40% higher
    summary = run_week(catalogue, tmp_path, LATENCY_SHIFT.format(factor=1.62))
    p99 = {c.baseline: c for c in summary.comparisons if c.kpi == "p99_latency_ms"}
    ga = p99["ga_day"]
    assert ga.state == "regression" and ga.adverse_change_percent is not None
    assert 35 <= ga.adverse_change_percent <= 45
    assert ga.p_value is not None and ga.p_value < 1e-6
    assert ga.ci_low is not None and ga.ci_low > 0
    # the effect is the median pairwise difference of the 5-minute samples
    assert ga.observed_value is not None and ga.baseline_value is not None
    assert ga.effect_size == pytest.approx(ga.observed_value - ga.baseline_value, rel=0.35)
    assert p99["pre_ga_week"].state == "regression"
    regression = next(r for r in summary.regressions if r.kpi == "p99_latency_ms")
    assert set(regression.baselines) >= {"ga_day", "pre_ga_week"}
    verdict = summary.rollback_recommendation
    assert verdict.verdict == "recommended"
    reason = next(r for r in verdict.reasons if r.kpi == "p99_latency_ms")
    assert "days 5-7" in reason.text and ("p = " in reason.text or "p < 1e-300" in reason.text)
    assert reason.threshold == "adverse change >= 30% with p < 0.01"


def test_five_percent_noisy_shift_is_not_a_regression(catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    summary = run_week(catalogue, tmp_path, LATENCY_SHIFT.format(factor=1.05))
    assert not any(r.kpi.endswith("latency_ms") for r in summary.regressions)
    p99 = next(
        c for c in summary.comparisons if c.kpi == "p99_latency_ms" and c.baseline == "ga_day"
    )
    assert p99.state == "ok" and p99.adverse_change_percent is not None
    assert 0 < p99.adverse_change_percent < 10


def test_quiet_week_has_no_regressions(catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    summary = run_week(catalogue, tmp_path)
    latency_and_errors = {
        "p50_latency_ms",
        "p95_latency_ms",
        "p99_latency_ms",
        "error_rate",
        "availability",
    }
    assert not latency_and_errors & {r.kpi for r in summary.regressions}
    assert summary.rollback_recommendation.verdict in ("not_needed", "consider")
    assert summary.baselines == ["ga_day", "pre_ga_week", "slo_target"]


ERRORS_FROM_ZERO = """
  - name: Errors appear on day 5
    kind: other
    quantity: error_fraction
    start: "2025-11-23T00:00:00Z"
    duration_minutes: 4320
    set: 0.0005
"""


def test_zero_baseline_error_count_that_jumps_is_not_passed(catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    summary = run_week(
        catalogue,
        tmp_path,
        ERRORS_FROM_ZERO,
        replace=("error_fraction: 0.0003", "error_fraction: 0.0"),
    )
    errors = next(
        c for c in summary.comparisons if c.kpi == "error_rate" and c.baseline == "ga_day"
    )
    assert errors.baseline_value == 0.0
    assert errors.adverse_change_percent is None  # no relative change from zero
    assert errors.state == "regression" and errors.p_value is not None and errors.p_value < 1e-9
    assert "error_rate" in {r.kpi for r in summary.regressions}
    assert summary.rollback_recommendation.verdict == "recommended"
    reason = next(r for r in summary.rollback_recommendation.reasons if r.kpi == "error_rate")
    assert "no bad events in the baseline" in reason.text


def test_mann_whitney_p_value_is_scipys(catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = SCENARIO.read_text()
    (tmp_path / "s.yaml").write_text(text + LATENCY_SHIFT.format(factor=1.4))
    source = ScenarioSource(tmp_path / "s.yaml")
    ga = build_ga_summary(source, catalogue, GA, NOW)
    days = {d: build_day_summary(source, catalogue, ga, d, NOW) for d in range(1, 8)}
    summary = analyze_regressions(catalogue, ga, days, NOW)
    now = [
        x
        for d in (5, 6, 7)
        for x in days[d].kpis["p95_latency_ms"].series_5m or []
        if x is not None
    ]
    base = [x for x in ga.kpis["p95_latency_ms"].series_5m or [] if x is not None]
    want = mannwhitneyu(now, base, alternative="two-sided").pvalue
    got = next(
        c for c in summary.comparisons if c.kpi == "p95_latency_ms" and c.baseline == "ga_day"
    ).p_value
    assert got == pytest.approx(want, rel=1e-6, abs=1e-300)
