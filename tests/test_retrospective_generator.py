"""Unit tests of the retrospective analyzers, one class per analyzer.

Each test builds a small week whose answer is worked out here independently
(by hand or with numpy), then checks the analyzer's numbers against it.
"""

from __future__ import annotations

import numpy as np
import pytest

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.models import (
    CostBreakdown,
    Regression,
    RegressionSummary,
    RollbackReason,
    RollbackVerdict,
)
from tars_lib.core.policy import breach_severity, potential_causes
from tars_lib.core.week import load_release_week
from tars_lib.core.workspace import RetroInputs
from tars_lib.retro.cost import analyze_cost, cost_trend, half_means
from tars_lib.retro.degradations import analyze_degradations
from tars_lib.retro.drift import analyze_drifts, classify_trend, drift_percent
from tars_lib.retro.markdown import SECTION_HEADINGS, md_escape, render_markdown
from tars_lib.retro.recommendations import MAX_RECOMMENDATIONS
from tars_lib.retro.retrospective import build_retrospective
from tars_lib.retro.slo import analyze_slos, daily_budget_use, days_to_exhaustion, slo_status
from tars_lib.retro.status import overall_status
from tars_lib.retro.successes import ACHIEVEMENT_CAP, analyze_successes

from .conftest import GA, WeekBuilder, event, quiet, slo_day


def regression(
    verdict: str = "not_needed", regressions: list[Regression] | None = None
) -> RegressionSummary:
    reasons = []
    if verdict == "recommended":
        reasons = [
            RollbackReason(
                kpi="p99_latency_ms",
                baselines=["ga_day"],
                observed_value=450.0,
                baseline_value=300.0,
                effect_size=150.0,
                p_value=0.001,
                threshold="adverse change >= 30% and p < 0.05",
                text="p99_latency_ms +50.0% vs ga_day (p=0.001)",
            )
        ]
    return RegressionSummary(
        generated_at=GA,
        ga_timestamp=GA,
        baselines=["ga_day"],
        comparisons=[],
        regressions=regressions or [],
        rollback_recommendation=RollbackVerdict(verdict=verdict, reasons=reasons),  # type: ignore[arg-type]
    )


@pytest.fixture
def test_week(catalogue: Catalogue, test_data_inputs: RetroInputs):  # type: ignore[no-untyped-def]
    return load_release_week(test_data_inputs, catalogue)


class TestSuccessAnalyzer:
    def test_higher_is_better_achievement_is_actual_over_target(self, make_week: WeekBuilder):
        week = make_week(quiet())
        success = {s.metric_name: s for s in analyze_successes(week)}["availability"]
        assert success.achievement_percent == pytest.approx(round(99.95 / 99.9 * 100, 2))
        assert success.target_value == "99.9%"
        assert success.actual_value == "99.950%"
        assert success.category == "availability"

    def test_lower_is_better_uses_worst_day_and_target_over_actual(self, make_week: WeekBuilder):
        p99 = [300.0, 310.0, 450.0, 320.0, 300.0, 305.0, 299.0, 301.0]
        week = make_week(quiet(p99_latency_ms=p99))
        success = {s.metric_name: s for s in analyze_successes(week)}["p99_latency_ms"]
        assert success.actual_value == "450.0 ms"
        assert success.achievement_percent == pytest.approx(round(500 / 450 * 100, 2))

    def test_kpi_over_target_is_not_a_success(self, make_week: WeekBuilder):
        p99 = [300.0, 310.0, 520.0, 320.0, 300.0, 305.0, 299.0, 301.0]
        names = {s.metric_name for s in analyze_successes(make_week(quiet(p99_latency_ms=p99)))}
        assert "p99_latency_ms" not in names

    def test_request_weighted_week_value(self, make_week: WeekBuilder):
        avail = [99.95, 99.99, 99.99, 99.5, 99.99, 99.99, 99.99, 99.99]
        rps = [1000.0, 100.0, 100.0, 5000.0, 100.0, 100.0, 100.0, 100.0]
        week = make_week(quiet(availability=avail, requests_per_second=rps))
        expected = np.average(avail[1:], weights=rps[1:])
        assert expected < 99.9  # the busy bad day dominates; a plain mean would pass
        assert np.mean(avail[1:]) > 99.9
        names = {s.metric_name for s in analyze_successes(week)}
        assert "availability" not in names

    def test_request_weighted_falls_back_to_mean_without_request_rate(self, make_week: WeekBuilder):
        avail = [99.95, 99.99, 99.99, 99.5, 99.99, 99.99, 99.99, 99.99]
        rps: list[float | None] = [1000.0] + [None] * 7
        week = make_week(quiet(availability=avail, requests_per_second=rps))
        success = {s.metric_name: s for s in analyze_successes(week)}["availability"]
        assert success.actual_value == f"{np.mean(avail[1:]):.3f}%"

    def test_zero_errors_caps_achievement(self, make_week: WeekBuilder):
        week = make_week(quiet(error_rate=[0.0] * 8))
        success = {s.metric_name: s for s in analyze_successes(week)}["error_rate"]
        assert success.achievement_percent == ACHIEVEMENT_CAP

    def test_exactly_on_target_is_met(self, make_week: WeekBuilder):
        week = make_week(quiet(avg_cpu_percent=[70.0] * 8))
        success = {s.metric_name: s for s in analyze_successes(week)}["avg_cpu_percent"]
        assert success.achievement_percent == 100.0

    def test_kpis_without_target_or_data_are_never_successes(self, make_week: WeekBuilder):
        week = make_week(quiet(db_connections=[30.0] + [None] * 7))
        names = {s.metric_name for s in analyze_successes(week)}
        assert "requests_per_second" not in names and "daily_cost_usd" not in names
        assert "db_connections" not in names
        assert len(names) == 10  # 11 KPIs with targets, one without data

    def test_bundled_week(self, test_week):  # type: ignore[no-untyped-def]
        names = [s.metric_name for s in analyze_successes(test_week)]
        # availability's SLO was breached on day 4 and p99's on day 2: never "met"
        assert names == [
            "error_rate",
            "p50_latency_ms",
            "p95_latency_ms",
            "avg_cpu_percent",
            "peak_cpu_percent",
            "avg_memory_percent",
            "db_connections",
            "db_cache_hit_rate",
        ]

    def test_a_kpi_whose_slo_breached_is_never_a_success(self, make_week: WeekBuilder) -> None:
        slos = {"availability": [slo_day("availability", 0.0001)] * 8}
        met = analyze_successes(make_week(quiet(), slos=slos))
        assert "availability" in [s.metric_name for s in met]
        slos["availability"][5] = slo_day("availability", 0.002)  # one day at 2x the budget
        breached = analyze_successes(make_week(quiet(), slos=slos))
        assert "availability" not in [s.metric_name for s in breached]
        assert len(breached) == len(met) - 1


class TestDegradationAnalyzer:
    @pytest.mark.parametrize(
        ("bad", "severity"), [(0.0035, "medium"), (0.007, "high"), (0.0144, "critical")]
    )
    def test_slo_breach_severity_from_burn_rate(
        self, make_week: WeekBuilder, bad: float, severity: str
    ):
        slos = {"availability": [slo_day("availability", 0.0001)] * 8}
        slos["availability"][3] = slo_day("availability", bad)
        week = make_week(quiet(), slos=slos)
        [finding] = analyze_degradations(week)
        assert finding.json.day_occurred == 3
        assert finding.severity == severity
        assert breach_severity(bad / 0.001) == severity
        assert f"burn rate {bad / 0.001:.1f}x" in finding.json.description

    def test_consecutive_days_are_one_episode_with_worst_severity(self, make_week: WeekBuilder):
        slos = {"availability": [slo_day("availability", 0.0001)] * 8}
        slos["availability"][2] = slo_day("availability", 0.002)  # 2x: medium
        slos["availability"][3] = slo_day("availability", 0.02)  # 20x: critical
        week = make_week(quiet(), slos=slos)
        [finding] = analyze_degradations(week)
        assert (finding.first_day, finding.last_day, finding.severity) == (2, 3, "critical")
        assert "Days 2-3" in finding.json.description

    def test_separate_days_are_separate_episodes(self, make_week: WeekBuilder):
        events = [event("p95_latency_ms", 2, 6.5), event("p95_latency_ms", 5, 6.5)]
        found = analyze_degradations(make_week(quiet(), events=events))
        assert [(f.kpi, f.first_day) for f in found] == [
            ("p95_latency_ms", 2),
            ("p95_latency_ms", 5),
        ]

    def test_improvements_and_minor_anomalies_are_not_degradations(self, make_week: WeekBuilder):
        events = [
            event("p99_latency_ms", 2, -9.5, severity="critical", impact="improvement"),
            event("p99_latency_ms", 3, 4.5, severity="medium"),
            event("p99_latency_ms", 4, 3.2, severity="low"),
            event("requests_per_second", 5, 8.0, severity="high", impact="neutral"),
        ]
        assert analyze_degradations(make_week(quiet(), events=events)) == []

    def test_resolved_on_first_day_back_within_target(self, make_week: WeekBuilder):
        p99 = [300.0, 300.0, 700.0, 650.0, 480.0, 300.0, 300.0, 300.0]
        events = [event("p99_latency_ms", 2, 9.5, severity="critical")]
        [finding] = analyze_degradations(make_week(quiet(p99_latency_ms=p99), events=events))
        assert finding.json.resolution_status == "resolved"
        # flagged on day 2 only; day 3 is still over target, day 4 is the first back
        assert finding.json.resolution_details.startswith("Recovered on Day 4: 480.0 ms")

    def test_unresolved_when_flagged_on_the_last_day(self, make_week: WeekBuilder):
        events = [event("redis_hit_rate", 7, -7.0, observed=70.0, expected=95.0)]
        [finding] = analyze_degradations(make_week(quiet(), events=events))
        assert finding.json.resolution_status == "unresolved"
        assert "Day 7" in finding.json.resolution_details

    def test_unresolved_when_still_outside_target_on_last_day(self, make_week: WeekBuilder):
        hit = [95.0, 95.0, 95.0, 85.0, 84.0, 83.0, 82.0, 81.5]
        events = [event("redis_hit_rate", 3, -7.0)]
        [finding] = analyze_degradations(make_week(quiet(redis_hit_rate=hit), events=events))
        assert not finding.resolved
        assert finding.json.resolution_details == ("Still outside target on Day 7: 81.500% vs 90%")

    def test_event_across_midnight_flags_both_days_as_one_episode(self, make_week: WeekBuilder):
        events = [event("p95_latency_ms", 3, 6.5, start_hour=22.0, hours=4.0)]
        [finding] = analyze_degradations(make_week(quiet(), events=events))
        assert (finding.first_day, finding.last_day) == (3, 4)

    def test_kpi_without_target_resolves_when_flags_stop(self, make_week: WeekBuilder):
        events = [event("redis_memory_mb", 2, 7.0)]
        [finding] = analyze_degradations(make_week(quiet(), events=events))
        assert finding.resolved
        assert finding.json.resolution_details.startswith("Recovered on Day 3")

    def test_bundled_week(self, test_week):  # type: ignore[no-untyped-def]
        found = [
            (f.kpi, f.first_day, f.severity, f.json.resolution_status)
            for f in analyze_degradations(test_week)
        ]
        assert found == [
            ("p99_latency_ms", 2, "critical", "resolved"),
            ("p95_latency_ms", 2, "high", "resolved"),
            ("error_rate", 4, "high", "resolved"),
            ("redis_hit_rate", 4, "high", "unresolved"),
            ("availability", 4, "medium", "resolved"),
        ]


class TestDriftAnalyzer:
    def test_drift_formula(self):
        assert drift_percent(45.2, 52.3) == pytest.approx((52.3 - 45.2) / 45.2 * 100)
        assert drift_percent(0.0, 5.0) is None

    @pytest.mark.parametrize(
        ("final", "reported"),
        [
            (110.0, True),
            (109.99, False),
            (130.0, False),
            (129.9, True),
            (70.5, True),
            (70.0, False),
        ],
    )
    def test_band_is_10_inclusive_to_30_exclusive(
        self, make_week: WeekBuilder, final: float, reported: bool
    ):
        mem = [100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, final]
        drifts = analyze_drifts(make_week(quiet(redis_memory_mb=mem)))
        assert (len(drifts) == 1) is reported
        if reported:
            assert drifts[0].drift_percent == round(final - 100.0, 1)

    def test_investigation_needed_strictly_above_15(self, make_week: WeekBuilder):
        week = make_week(
            quiet(
                redis_memory_mb=[100.0] * 7 + [115.0],
                avg_memory_percent=[50.0] * 7 + [57.55],
            )
        )
        by_name = {d.metric_name: d for d in analyze_drifts(week)}
        assert by_name["redis_memory_mb"].investigation_needed is False
        assert by_name["avg_memory_percent"].investigation_needed is True  # 15.1%

    def test_regressions_are_left_to_the_regression_analysis(self, make_week: WeekBuilder):
        reg = Regression(
            kpi="redis_memory_mb",
            severity="medium",
            adverse_change_percent=20.0,
            baselines=["ga_day"],
        )
        week = make_week(
            quiet(redis_memory_mb=[100.0] * 7 + [120.0]), regression=regression(regressions=[reg])
        )
        assert analyze_drifts(week) == []

    def test_trend_classification(self):
        assert classify_trend([10, 11, 12, 13]) == "increasing"
        assert classify_trend([10, 9, 9, 8]) == "decreasing"
        # path 2+2+2+3 = 9 > 2 * |net 1|: back and forth
        assert classify_trend([10, 12, 10, 12, 9]) == "volatile"
        assert classify_trend([10, 12, 11]) == "volatile"  # path 3 > 2 * |net 1|
        assert classify_trend([10, 12, 11.5]) == "increasing"  # path 2.5 <= 2 * |net 1.5|
        assert classify_trend([5.0]) == "volatile"

    def test_final_value_is_last_present_day(self, make_week: WeekBuilder):
        mem = [100.0, 100.0, 105.0, 110.0, 112.0, 115.0, 120.0, None]
        [drift] = analyze_drifts(make_week(quiet(redis_memory_mb=mem)))
        assert drift.final_value == 120.0
        assert drift.drift_percent == 20.0

    def test_three_causes_specific_to_family_and_direction(self, make_week: WeekBuilder):
        week = make_week(quiet(avg_cpu_percent=[40.0] * 7 + [48.0]))
        [drift] = analyze_drifts(week)
        assert drift.potential_causes == potential_causes("cpu", "up")
        assert len(drift.potential_causes) == 3
        assert potential_causes("cpu", "up") != potential_causes("cpu", "down")
        assert potential_causes("latency", "up") != potential_causes("cpu", "up")

    def test_largest_drift_first(self, make_week: WeekBuilder):
        week = make_week(
            quiet(
                avg_cpu_percent=[40.0] * 7 + [45.0],
                redis_memory_mb=[100.0] * 7 + [125.0],
                db_connections=[30.0] * 7 + [24.0],
            )
        )
        assert [(d.metric_name, d.drift_percent) for d in analyze_drifts(week)] == [
            ("redis_memory_mb", 25.0),
            ("db_connections", -20.0),
            ("avg_cpu_percent", 12.5),
        ]

    def test_bundled_week(self, test_week):  # type: ignore[no-untyped-def]
        drifts = {d.metric_name: d for d in analyze_drifts(test_week)}
        assert set(drifts) == {"redis_memory_mb", "avg_cpu_percent", "redis_hit_rate"}
        assert drifts["avg_cpu_percent"].drift_percent == round((52.3 - 45.2) / 45.2 * 100, 1)
        assert drifts["redis_hit_rate"].trend == "decreasing"
        assert drifts["redis_hit_rate"].investigation_needed is False


class TestCostAnalyzer:
    def test_totals_and_average(self, make_week: WeekBuilder):
        cost = [300.0, 310.0, 320.0, 330.0, 340.0, 350.0, 360.0, 370.0]
        result = analyze_cost(make_week(quiet(daily_cost_usd=cost)))
        assert result.ga_day_cost == 300.0
        assert result.seven_day_total_cost == pytest.approx(sum(cost[1:]))
        assert result.daily_average_cost == pytest.approx(sum(cost[1:]) / 7)

    @pytest.mark.parametrize(
        ("second_half", "trend"),
        [(110.0, "increasing"), (109.9, "stable"), (90.0, "decreasing"), (90.1, "stable")],
    )
    def test_trend_threshold_is_ten_percent(self, second_half: float, trend: str):
        daily = [100.0, 100.0, 100.0, 500.0, second_half, second_half, second_half]
        assert cost_trend(daily) == trend

    def test_middle_day_of_odd_week_is_left_out(self):
        assert half_means([1.0, 2.0, 3.0, 1000.0, 4.0, 5.0, 6.0]) == (2.0, 5.0)
        assert half_means([7.0]) is None

    def test_breakdown_from_configured_shares(self, make_week: WeekBuilder, catalogue: Catalogue):
        result = analyze_cost(make_week(quiet(daily_cost_usd=[300.0] + [336.0] * 7)))
        shares = catalogue.pricing.cost_shares
        assert result.cost_breakdown.compute == pytest.approx(336.0 * shares.compute)
        assert result.cost_breakdown.other == pytest.approx(336.0 * shares.other)

    def test_breakdown_from_source_when_every_day_has_one(self, make_week: WeekBuilder):
        parts = [
            CostBreakdown(compute=100.0 + d, storage=50.0, network=20.0, other=5.0)
            for d in range(8)
        ]
        result = analyze_cost(make_week(quiet(), breakdowns=parts))
        assert result.cost_breakdown.compute == pytest.approx(
            np.mean([100.0 + d for d in range(1, 8)])
        )
        assert result.cost_breakdown.storage == 50.0

    def test_recommendations_name_their_numbers(self, make_week: WeekBuilder):
        cost = [300.0, 300.0, 300.0, 300.0, 340.0, 360.0, 360.0, 360.0]
        result = analyze_cost(make_week(quiet(daily_cost_usd=cost)))
        assert result.cost_trend == "increasing"
        text = " ".join(result.cost_optimization_recommendations)
        assert "$300.00/day in the first half" in text and "$360.00/day in the second" in text
        assert "+20.0%" in text
        average = sum(cost[1:]) / 7
        assert f"${average:,.2f}" in text

    def test_missing_days_use_days_present(self, make_week: WeekBuilder):
        cost: list[float | None] = [300.0, 310.0, None, 330.0, 340.0, None, 360.0, 370.0]
        result = analyze_cost(make_week(quiet(daily_cost_usd=cost)))
        present = [c for c in cost[1:] if c is not None]
        assert result.seven_day_total_cost == pytest.approx(sum(present))
        assert result.daily_average_cost == pytest.approx(sum(present) / len(present))

    def test_bundled_week(self, test_week):  # type: ignore[no-untyped-def]
        result = analyze_cost(test_week)
        assert (result.seven_day_total_cost, result.daily_average_cost) == (2240.0, 320.0)
        assert result.cost_trend == "stable"


class TestSLOBurnDown:
    def test_daily_budget_use_formula(self):
        # bad 0.05% against a 0.1% budget: burn rate 0.5, over 30 days 1/60 of the budget
        assert daily_budget_use(0.0005, 99.9, 30) == pytest.approx(100 * 0.5 / 30)

    def test_cumulative_compliance_matches_independent_sum(self, make_week: WeekBuilder):
        bad = [0.0002, 0.0004, 0.0, 0.003, 0.0005, 0.0001, 0.0008, 0.0002]
        week = make_week(quiet(), slos={"availability": [slo_day("availability", b) for b in bad]})
        [burn] = analyze_slos(week)
        uses = np.array(bad[1:]) / 0.001 / 30 * 100
        expected = np.concatenate([[0.0], np.cumsum(uses)])
        got = [c.budget_consumed for c in burn.json.compliance_by_day]
        assert got == pytest.approx(expected, abs=1e-3)
        assert burn.json.budget_consumed_percent == pytest.approx(uses.sum(), abs=0.01)
        assert burn.json.compliance_by_day[3].compliant is False  # 0.3% > 0.1%
        assert burn.json.compliance_by_day[3].value == pytest.approx(99.7)
        assert burn.json.compliance_by_day[4].compliant is True
        assert burn.json.days_to_exhaustion == pytest.approx(
            round((100 - uses.sum()) / uses.mean(), 1)
        )

    def test_days_to_exhaustion(self):
        assert days_to_exhaustion(20.0, [2.0, 4.0]) == pytest.approx(80.0 / 3.0)
        assert days_to_exhaustion(0.0, [0.0, 0.0]) is None
        assert days_to_exhaustion(120.0, [20.0]) == 0.0

    @pytest.mark.parametrize(
        ("consumed", "status"),
        [
            (0.0, "Healthy"),
            (70 / 3, "Healthy"),
            (23.4, "Moderate"),
            (140 / 3, "Moderate"),
            (46.7, "At Risk"),
            (99.9, "At Risk"),
            (100.0, "Critical"),
        ],
    )
    def test_status_against_linear_pace(self, consumed: float, status: str):
        assert slo_status(consumed, 30) == status

    def test_missing_day_keeps_the_cumulative_total(self, make_week: WeekBuilder):
        bad: list[float | None] = [0.0, 0.0003, 0.0003, None, 0.0003, 0.0003, 0.0003, 0.0003]
        slos = {"availability": [slo_day("availability", b) for b in bad]}
        week = make_week(quiet(), slos=slos, days=[1, 2, 4, 5, 6, 7])
        [burn] = analyze_slos(week)
        day3 = burn.json.compliance_by_day[3]
        assert (day3.value, day3.compliant) == (None, None)
        assert day3.budget_consumed == burn.json.compliance_by_day[2].budget_consumed
        assert burn.json.budget_consumed_percent == pytest.approx(6 * 0.3 / 30 * 100, abs=0.01)

    def test_exhausted_budget_is_critical(self, make_week: WeekBuilder):
        slos = {
            "p99_latency": [slo_day("p99_latency_ms", 0.0, target=99.0)]
            + [slo_day("p99_latency_ms", 0.05, target=99.0)] * 7
        }
        [burn] = analyze_slos(make_week(quiet(), slos=slos))
        assert burn.json.budget_consumed_percent == pytest.approx(7 * 5 / 30 * 100, abs=0.01)
        assert burn.status == "Critical"
        assert burn.json.days_to_exhaustion == 0.0
        assert (burn.json.slo_name, burn.json.target, burn.json.budget) == (
            "P99 Latency",
            99.0,
            1.0,
        )

    def test_bundled_week(self, test_week):  # type: ignore[no-untyped-def]
        burns = {b.key: b for b in analyze_slos(test_week)}
        p99_bad = np.array([0, 29, 1, 1, 0, 1, 1]) / 288
        assert burns["p99_latency"].json.budget_consumed_percent == pytest.approx(
            (p99_bad / 0.01).sum() / 30 * 100, abs=0.01
        )
        assert {k: b.status for k, b in burns.items()} == {
            "availability": "Healthy",
            "p99_latency": "Moderate",
            "error_rate": "Healthy",
        }


class TestOverallStatus:
    def _status(self, week):  # type: ignore[no-untyped-def]
        return overall_status(
            week, analyze_degradations(week), analyze_drifts(week), analyze_slos(week)
        )[0]

    def test_quiet_week_is_excellent(self, make_week: WeekBuilder):
        slos = {"availability": [slo_day("availability", 0.0003)] * 8}
        assert self._status(make_week(quiet(), slos=slos)) == "EXCELLENT"

    def test_resolved_degradation_is_stable(self, make_week: WeekBuilder):
        events = [event("p95_latency_ms", 2, 6.5)]
        assert self._status(make_week(quiet(), events=events)) == "STABLE"

    def test_unresolved_high_degradation_needs_attention(self, make_week: WeekBuilder):
        events = [event("p95_latency_ms", 7, 6.5)]
        assert self._status(make_week(quiet(), events=events)) == "NEEDS ATTENTION"

    def test_unresolved_critical_or_rollback_is_critical(self, make_week: WeekBuilder):
        events = [event("p95_latency_ms", 7, 9.5, severity="critical")]
        assert self._status(make_week(quiet(), events=events)) == "CRITICAL"
        assert self._status(make_week(quiet(), regression=regression("recommended"))) == (
            "CRITICAL"
        )

    def test_exhausted_budget_is_critical(self, make_week: WeekBuilder):
        slos = {"availability": [slo_day("availability", 0.006)] * 8}
        assert self._status(make_week(quiet(), slos=slos)) == "CRITICAL"


class TestRecommendations:
    def test_bundled_week_priorities_and_counts(self, test_week):  # type: ignore[no-untyped-def]
        retro = build_retrospective(test_week, GA).retrospective
        tags = [r[:4] for r in retro.recommendations_v1_0_2]
        assert tags == ["[P1]"] + ["[P2]"] * 6 + ["[P3]"] * 3
        assert [a.priority for a in retro.action_items] == ["P1"] + ["P2"] * 6
        assert len(retro.process_improvements) == 5

    def test_each_recommendation_names_a_metric_and_a_number(
        self,
        test_week,
        catalogue: Catalogue,  # type: ignore[no-untyped-def]
    ):
        retro = build_retrospective(test_week, GA).retrospective
        for text in retro.recommendations_v1_0_2:
            assert any(name in text for name in catalogue.kpis), text
            assert any(ch.isdigit() for ch in text[4:]), text

    def test_rollback_comes_first_as_p0(self, make_week: WeekBuilder):
        result = build_retrospective(make_week(quiet(), regression=regression("recommended")), GA)
        first = result.retrospective.recommendations_v1_0_2[0]
        assert first.startswith("[P0] Roll back") and "p99_latency_ms +50.0%" in first
        assert result.retrospective.action_items[0].priority == "P0"

    def test_at_most_ten_and_sorted(self, make_week: WeekBuilder):
        events = [
            event(k, d, 6.5)
            for d in (2, 4, 6)
            for k in ("p95_latency_ms", "redis_memory_mb", "db_connections", "p50_latency_ms")
        ]
        retro = build_retrospective(make_week(quiet(), events=events), GA).retrospective
        recs = retro.recommendations_v1_0_2
        assert len(recs) == MAX_RECOMMENDATIONS
        assert recs == sorted(recs, key=lambda r: r[:4])
        assert len(retro.action_items) == 12  # every resolved high degradation is P2

    def test_quiet_week_still_has_three_process_improvements(self, make_week: WeekBuilder):
        retro = build_retrospective(make_week(quiet()), GA).retrospective
        assert len(retro.process_improvements) == 3
        assert retro.degradations == [] and retro.action_items == []
        assert "10 of 11 KPI targets" in retro.process_improvements[1] or (
            "11 of 11 KPI targets" in retro.process_improvements[1]
        )


class TestMarkdown:
    def test_nine_sections_in_order(self, test_week):  # type: ignore[no-untyped-def]
        text = render_markdown(build_retrospective(test_week, GA))
        positions = [text.index(f"\n## {h}\n") for h in SECTION_HEADINGS]
        assert positions == sorted(positions)
        assert "**Overall status: NEEDS ATTENTION**" in text
        assert text.count("- [ ] ") == 7

    def test_escape_neutralises_html_and_tables(self):
        assert md_escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
        assert md_escape("a|b`c`\nd") == "a\\|b\\`c\\` d"
        assert md_escape("p99_latency_ms") == "p99_latency_ms"
        assert md_escape("_x_") == "\\_x\\_"

    def test_label_with_script_is_shown_as_text(self, make_week: WeekBuilder):
        events = [event("p95_latency_ms", 7, 6.5, labels={"pod": "<script>x</script>|y"})]
        text = render_markdown(build_retrospective(make_week(quiet(), events=events), GA))
        assert "<script>" not in text
        assert "pod=&lt;script&gt;x&lt;/script&gt;\\|y" in text


class TestCoverage:
    """Days without traffic or with partial data never show a recovery or a met SLO."""

    def test_no_recovery_on_a_day_without_traffic(self, make_week: WeekBuilder) -> None:
        p99 = [300.0, 300.0, 700.0, None, 300.0, 300.0, 300.0, 300.0]
        rps = [1000.0, 1000.0, 1000.0, 0.0, 1000.0, 1000.0, 1000.0, 1000.0]
        events = [event("p99_latency_ms", 2, 9.5, severity="critical")]
        week = make_week(quiet(p99_latency_ms=p99, requests_per_second=rps), events=events)
        [finding] = analyze_degradations(week)
        assert finding.json.resolution_details.startswith("Recovered on Day 4: 300.0 ms")
        retro = build_retrospective(week, week.end)
        [day3] = retro.retrospective.partial_days
        assert (day3.day, day3.status) == (3, "no_data")
        assert "requests_per_second" in day3.kpis

    def test_unresolved_when_only_days_without_traffic_follow(self, make_week: WeekBuilder) -> None:
        p99 = [300.0, 300.0, 300.0, 300.0, 300.0, 300.0, 700.0, None]
        rps = [1000.0] * 7 + [0.0]
        events = [event("p99_latency_ms", 6, 9.5, severity="critical")]
        week = make_week(quiet(p99_latency_ms=p99, requests_per_second=rps), events=events)
        [finding] = analyze_degradations(week)
        assert finding.json.resolution_status == "unresolved"
        assert finding.json.resolution_details.startswith("Recovery not seen: Day(s) 7")

    def test_partial_day_slo_is_unknown_not_compliant(self, make_week: WeekBuilder) -> None:
        partial = slo_day("availability", 0.0003).model_copy(update={"coverage": 0.875})
        slos = {"availability": [slo_day("availability", 0.0003)] * 4 + [partial] * 4}
        [burn] = analyze_slos(make_week(quiet(), slos=slos))
        compliant = [c.compliant for c in burn.json.compliance_by_day]
        assert compliant == [True, True, True, True, None, None, None, None]
        # the budget still counts what was seen: 0.0003 / 0.001 / 30 days per day
        assert burn.json.budget_consumed_percent == pytest.approx(7 * 100 * 0.3 / 30, abs=0.01)
