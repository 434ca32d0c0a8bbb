"""Unit and property tests of the daily health report (phase 4, ``tars_lib.judge.health``).

Each test builds one day whose score is worked out here by hand (the formulas
are restated below, not imported), then checks the report against it.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tars_lib.core.catalogue import Catalogue, HealthConfig, HealthWeights, load_catalogue
from tars_lib.core.models import (
    AnomalyEvent,
    AnomalyEvents,
    AnomalyParameters,
    DaySummary,
    HealthReport,
    KpiValue,
    SloDay,
    Window,
)
from tars_lib.core.policy import potential_causes
from tars_lib.judge.health import build_health_report, mitigation_plan

from .conftest import DAY, GA, SOURCE, TEST_DATA, event, slo_day

CATALOGUE = load_catalogue()  # module level: hypothesis tests cannot take function fixtures
NOW = GA + 9 * DAY

QUIET: dict[str, float | None] = {
    "availability": 99.95,
    "error_rate": 0.05,
    "p50_latency_ms": 40.0,
    "p95_latency_ms": 150.0,
    "p99_latency_ms": 300.0,
    "requests_per_second": 1000.0,
    "avg_cpu_percent": 40.0,  # 57% of its 70% target
    "peak_cpu_percent": 60.0,  # 67% of 90%
    "avg_memory_percent": 50.0,  # 62.5% of 80%
    "redis_hit_rate": 95.0,
    "redis_memory_mb": 1000.0,
    "db_connections": 30.0,  # 37.5% of 80
    "db_cache_hit_rate": 99.5,
    "daily_cost_usd": 300.0,
}


# --------------------------------------------------------------------------- independent formulas


def slo_score(burn: float) -> float:
    return 100.0 if burn <= 1 else 100.0 * max(0.0, 1 - math.log(burn) / math.log(14.4))


def linear(x: float, full: float, zero: float) -> float:
    """100 at or below ``full``, 0 at or above ``zero``, a straight line between."""
    return 100.0 if x <= full else 0.0 if x >= zero else 100.0 * (zero - x) / (zero - full)


def weighted(scores: dict[str, float], weights: dict[str, float]) -> float:
    rounded = {k: round(v, 1) for k, v in scores.items()}
    return round(sum(weights[k] * rounded[k] for k in scores) / sum(weights.values()), 1)


DEFAULT_WEIGHTS = {
    "slo_compliance": 0.4,
    "anomaly_load": 0.2,
    "drift": 0.2,
    "resource_headroom": 0.2,
}


# --------------------------------------------------------------------------- builders


def make_day(
    *,
    day: int = 1,
    drift: dict[str, float | None] | None = None,
    slos: dict[str, SloDay] | None = None,
    **values: float | None,
) -> DaySummary:
    """Day ``day`` with every KPI at QUIET (overridden by ``values``) and 0% drift."""
    kpis = {**QUIET, **values}
    drifts: dict[str, float | None] = dict.fromkeys(kpis, 0.0)
    drifts.update(drift or {})
    return DaySummary(
        day_number=day,
        ga_timestamp=GA,
        window=Window(start=GA + day * DAY, end=GA + (day + 1) * DAY),
        generated_at=GA + (day + 1) * DAY,
        source=SOURCE,
        kpis={k: KpiValue(value=v, unit=CATALOGUE.kpis[k].unit) for k, v in kpis.items()},
        drift_percent=drifts,
        slos=slos or {},
    )


def events(*items: AnomalyEvent) -> AnomalyEvents:
    return AnomalyEvents(
        generated_at=GA + 8 * DAY,
        window=Window(start=GA, end=GA + 8 * DAY),
        parameters=AnomalyParameters(z_threshold=3.0, ewma_alpha=0.3),
        events=list(items),
    )


def report(
    day: DaySummary, anomalies: AnomalyEvents | None = None, catalogue: Catalogue = CATALOGUE
) -> HealthReport:
    return build_health_report(day, anomalies if anomalies else events(), catalogue, NOW)


def with_health(**kwargs: object) -> Catalogue:
    return CATALOGUE.model_copy(update={"health": HealthConfig(**kwargs)})  # type: ignore[arg-type]


def score_of(name: str, rep: HealthReport) -> float:
    return rep.components[name].score


# --------------------------------------------------------------------------- components


class TestSloCompliance:
    def test_clean_day_is_healthy_with_an_empty_plan(self) -> None:
        rep = report(make_day(slos={"availability": slo_day("availability", 0.0005)}))
        assert {k: c.score for k, c in rep.components.items()} == dict.fromkeys(
            DEFAULT_WEIGHTS, 100.0
        )
        assert {k: c.weight for k, c in rep.components.items()} == DEFAULT_WEIGHTS
        assert rep.health_score == 100.0
        assert rep.status == "healthy"
        assert rep.mitigation_plan == []
        assert rep.day_number == 1 and rep.generated_at == NOW

    def test_burn_rate_scores_on_a_log_scale(self) -> None:
        # 0.35% bad events against a 0.1% budget: burn 3.5x.
        rep = report(make_day(slos={"availability": slo_day("availability", 0.0035)}))
        expected = 100 * (1 - math.log(3.5) / math.log(14.4))
        assert expected == pytest.approx(53.0, abs=0.05)
        assert score_of("slo_compliance", rep) == round(expected, 1)
        detail = rep.components["slo_compliance"].detail
        assert "availability" in detail and "3.50x" in detail and "0.35%" in detail

    def test_worst_slo_decides(self) -> None:
        slos = {
            "availability": slo_day("availability", 0.002),  # 2x
            "p99_latency": slo_day("p99_latency_ms", 0.05, target=99.0),  # 5% of 1%: 5x
            "error_rate": slo_day("error_rate", 0.0),
        }
        rep = report(make_day(slos=slos))
        assert score_of("slo_compliance", rep) == round(min(slo_score(2.0), slo_score(5.0)), 1)
        detail = rep.components["slo_compliance"].detail
        assert "p99_latency_ms" in detail and "5.00x" in detail and "500 ms" in detail

    @pytest.mark.parametrize(
        ("bad", "expected"),
        [(0.0, 100.0), (0.001, 100.0), (0.0144, 0.0), (0.5, 0.0), (0.002, 74.0)],
    )
    def test_band_edges(self, bad: float, expected: float) -> None:
        # 1x (exactly on budget) is not a breach; 14.4x and beyond scores 0;
        # 2x: 100 (1 - ln 2 / ln 14.4) = 73.98.
        rep = report(make_day(slos={"availability": slo_day("availability", bad)}))
        assert score_of("slo_compliance", rep) == expected
        assert round(slo_score(bad / 0.001), 1) == pytest.approx(expected, abs=1e-9)

    def test_missing_bad_fraction_is_skipped_not_zero(self) -> None:
        slos = {
            "availability": slo_day("availability", None),
            "error_rate": slo_day("error_rate", 0.003),  # 3x
        }
        rep = report(make_day(slos=slos))
        assert score_of("slo_compliance", rep) == round(slo_score(3.0), 1)
        assert "skipped (no data): availability" in rep.components["slo_compliance"].detail

        only_missing = report(make_day(slos={"availability": slo_day("availability", None)}))
        component = only_missing.components["slo_compliance"]
        assert component.score == 100.0
        assert "No SLO measured" in component.detail and "availability" in component.detail
        assert only_missing.mitigation_plan == []


class TestAnomalyLoad:
    def test_penalties_by_severity_for_adverse_events_of_the_day(self) -> None:
        counted = [
            event("p99_latency_ms", 1, 3.5, severity="low"),
            event("p95_latency_ms", 1, 4.5, severity="medium"),
            event("error_rate", 1, 7.0, severity="high"),
            event("availability", 1, -10.0, severity="critical"),
            # starts on day 0, runs 2 h into day 1: overlaps
            event("redis_hit_rate", 0, -5.0, severity="medium", start_hour=22, hours=4),
        ]
        ignored = [
            event("p99_latency_ms", 1, -9.0, severity="critical", impact="improvement"),
            event("requests_per_second", 1, 9.0, severity="critical", impact="neutral"),
            event("p99_latency_ms", 2, 9.0, severity="critical"),  # another day
            event("p50_latency_ms", 2, 9.0, severity="critical", start_hour=0),  # at day end
            # ends exactly when day 1 starts: [start, end) does not overlap
            event("error_rate", 0, 9.0, severity="critical", start_hour=22, hours=2),
        ]
        rep = report(make_day(), events(*counted, *ignored))
        penalty = 2 + 5 + 15 + 30 + 5
        assert score_of("anomaly_load", rep) == 100 - penalty
        detail = rep.components["anomaly_load"].detail
        assert f"penalty {penalty}" in detail and "5 adverse anomalies" in detail
        assert detail.index("availability critical (-30)") < detail.index("error_rate high")

    def test_event_spanning_midnight_counts_on_both_days(self) -> None:
        late = events(event("error_rate", 1, 7.0, severity="high", start_hour=23, hours=2))
        for day in (1, 2):
            assert score_of("anomaly_load", report(make_day(day=day), late)) == 85.0
        assert score_of("anomaly_load", report(make_day(day=3), late)) == 100.0

    def test_penalty_floors_at_zero(self) -> None:
        four = [
            event("p99_latency_ms", 1, 9.5, severity="critical", start_hour=h) for h in range(4)
        ]
        rep = report(make_day(), events(*four))
        assert 4 * 30 > 100
        assert score_of("anomaly_load", rep) == 0.0

    def test_no_anomaly_file_is_said_in_the_detail(self) -> None:
        rep = build_health_report(make_day(), None, CATALOGUE, NOW)
        assert score_of("anomaly_load", rep) == 100.0
        assert "not measured" in rep.components["anomaly_load"].detail


class TestDrift:
    def test_worst_adverse_drift_scores_linearly(self) -> None:
        drift: dict[str, float | None] = {
            "p99_latency_ms": 20.0,  # lower is better: 20% adverse -> 50
            "redis_hit_rate": -25.0,  # higher is better: 25% adverse -> 25
            "error_rate": -50.0,  # improvement: never counted
            "requests_per_second": 80.0,  # neutral: never counted
        }
        rep = report(make_day(drift=drift, p99_latency_ms=360.0, redis_hit_rate=71.25))
        assert score_of("drift", rep) == round(100 * (30 - 25) / 20, 1) == 25.0
        detail = rep.components["drift"].detail
        assert "redis_hit_rate" in detail and "-25.0%" in detail
        # the GA value is derived from the day's value and the drift: 71.25 / 0.75
        assert "71.250%" in detail and f"{71.25 / 0.75:.3f}%" in detail

    @pytest.mark.parametrize("adverse", [0.0, 9.0, 10.0, 15.0, 29.9, 30.0, 45.0])
    def test_band_edges(self, adverse: float) -> None:
        rep = report(make_day(drift={"p95_latency_ms": adverse}))
        assert score_of("drift", rep) == round(linear(adverse, 10.0, 30.0), 1)

    def test_missing_drift_is_skipped_and_named(self) -> None:
        rep = report(make_day(drift={"p99_latency_ms": None, "db_connections": 15.0}))
        assert score_of("drift", rep) == 75.0
        detail = rep.components["drift"].detail
        assert "db_connections" in detail and "skipped (no data): p99_latency_ms" in detail


class TestResourceHeadroom:
    def test_tightest_resource_decides_and_missing_is_skipped(self) -> None:
        day = make_day(
            avg_cpu_percent=56.0,  # 0.8 of 70 -> 66.7
            db_connections=72.0,  # 0.9 of 80 -> 33.3
            peak_cpu_percent=60.0,  # 0.667 of 90 -> 100
            avg_memory_percent=None,  # skipped, not 0% used
            db_cache_hit_rate=50.0,  # database but higher-is-better: not a utilisation
        )
        rep = report(day)
        expected = min(linear(u, 0.7, 1.0) for u in (56 / 70, 72 / 80, 60 / 90))
        assert score_of("resource_headroom", rep) == round(expected, 1) == 33.3
        detail = rep.components["resource_headroom"].detail
        assert "db_connections" in detail and "72.0 connections" in detail and "90.0%" in detail
        assert "skipped (no data): avg_memory_percent" in detail

    @pytest.mark.parametrize("u", [0.5, 0.7, 0.85, 0.99, 1.0, 1.3])
    def test_band_edges(self, u: float) -> None:
        rep = report(make_day(avg_memory_percent=80.0 * u))
        assert score_of("resource_headroom", rep) == pytest.approx(
            round(linear(u, 0.7, 1.0), 1), abs=0.05
        )


# --------------------------------------------------------------------------- score and status


class TestScoreAndStatus:
    def test_weighted_mean_of_the_components(self) -> None:
        day = make_day(
            slos={"availability": slo_day("availability", 0.0035)},
            drift={"p99_latency_ms": 20.0},
            avg_cpu_percent=56.0,
        )
        anomalies = events(event("error_rate", 1, 7.0, severity="high"))
        scores = {
            "slo_compliance": slo_score(3.5),
            "anomaly_load": 85.0,
            "drift": 50.0,
            "resource_headroom": linear(0.8, 0.7, 1.0),
        }
        rep = report(day, anomalies)
        assert {k: c.score for k, c in rep.components.items()} == {
            k: round(v, 1) for k, v in scores.items()
        }
        assert rep.health_score == weighted(scores, DEFAULT_WEIGHTS)

        weights = {
            "slo_compliance": 3.0,
            "anomaly_load": 0.0,
            "drift": 1.0,
            "resource_headroom": 1.0,
        }
        custom = with_health(weights=HealthWeights(**weights))
        assert report(day, anomalies, custom).health_score == weighted(scores, weights)

    @pytest.mark.parametrize(
        ("healthy_at", "degraded_at", "status"),
        [
            (90.0, 60.0, "healthy"),  # exactly on healthy_at is healthy
            (90.1, 60.0, "degraded"),
            (95.0, 90.0, "degraded"),  # exactly on degraded_at is degraded
            (95.0, 90.1, "critical"),
        ],
    )
    def test_status_bands(self, healthy_at: float, degraded_at: float, status: str) -> None:
        # drift 20% -> 50; the other three 100: 0.4*100 + 0.2*100 + 0.2*50 + 0.2*100 = 90
        rep = report(
            make_day(drift={"p50_latency_ms": 20.0}),
            catalogue=with_health(healthy_at=healthy_at, degraded_at=degraded_at),
        )
        assert rep.health_score == 90.0
        assert rep.status == status

    @pytest.mark.parametrize(
        ("bad", "score", "status"),
        [
            (0.002, 0.4 * slo_score(2.0) + 60, "degraded"),  # 89.6 would be healthy: breached
            (0.0144, 60.0, "degraded"),  # exactly 14.4x is not above it; 60 is not below 60
            (0.0145, 60.0, "critical"),  # faster than 14.4x is critical whatever the score
        ],
    )
    def test_slo_breaches_override_the_score(self, bad: float, score: float, status: str) -> None:
        rep = report(make_day(slos={"availability": slo_day("availability", bad)}))
        assert rep.health_score == round(score, 1)
        assert rep.status == status

    def test_bundled_day_4(self) -> None:
        path = TEST_DATA / "stability" / "day_04_summary.json"
        day = DaySummary.model_validate_json(Path(path).read_text(encoding="utf-8"))
        anomalies = AnomalyEvents.model_validate_json(
            (TEST_DATA / "anomalies" / "anomaly_events.json").read_text(encoding="utf-8")
        )
        rep = build_health_report(day, anomalies, CATALOGUE, NOW)
        burns = [s.bad_fraction / (1 - s.target_percent / 100) for s in day.slos.values()]  # type: ignore[operator]
        assert score_of("slo_compliance", rep) == round(slo_score(max(burns)), 1)
        start, end = day.window.start, day.window.end
        penalty = sum(
            {"low": 2, "medium": 5, "high": 15, "critical": 30}[e.severity]
            for e in anomalies.events
            if e.impact == "adverse" and e.start < end and e.end > start
        )
        assert score_of("anomaly_load", rep) == max(0, 100 - penalty)
        assert rep.status == "critical"
        assert HealthReport.model_validate_json(rep.model_dump_json()) == rep


# --------------------------------------------------------------------------- mitigation plan


class TestMitigationPlan:
    def test_slo_breach_priorities_and_first_checks(self) -> None:
        slos = {
            "availability": slo_day("availability", 0.0145),  # 14.5x: P0
            "p99_latency": slo_day("p99_latency_ms", 0.03, target=99.0),  # 3x: P1
            "error_rate": slo_day("error_rate", 0.002),  # 2x: P1
        }
        day = make_day(slos=slos, availability=98.55, p99_latency_ms=620.0, error_rate=0.2)
        plan = mitigation_plan(day, None, CATALOGUE)
        assert [(m.priority, m.kpi) for m in plan] == [
            ("P0", "availability"),
            ("P1", "p99_latency_ms"),
            ("P1", "error_rate"),
        ]
        avail, p99, errors = plan
        assert "14.50x" in avail.finding and "98.550% vs 99.9% target" in avail.finding
        assert "deploys" in avail.action and "dependency error" in avail.action
        assert "3.00% of 5-minute windows over 500 ms" in p99.finding
        assert "620.0 ms vs 500 ms target" in p99.finding
        assert "slow queries" in p99.action and "saturation" in p99.action
        assert "2.00x" in errors.finding and "0.200% vs 0.1% target" in errors.finding
        assert "deploys" in errors.action and "dependency error" in errors.action

    @pytest.mark.parametrize(("bad", "priority"), [(0.0144, "P1"), (0.01441, "P0")])
    def test_p0_only_above_fast_burn(self, bad: float, priority: str) -> None:
        day = make_day(slos={"error_rate": slo_day("error_rate", bad)})
        (action,) = mitigation_plan(day, None, CATALOGUE)
        assert action.priority == priority
        assert f"{bad / 0.001:.2f}x" in action.finding

    def test_only_high_and_critical_adverse_anomalies_get_an_item(self) -> None:
        anomalies = events(
            event("p99_latency_ms", 1, 9.6, severity="critical", observed=1450.0, expected=330.0),
            event("redis_hit_rate", 1, -7.2, severity="high", observed=71.5, expected=95.0),
            event("error_rate", 1, 4.5, severity="medium"),
            event("p95_latency_ms", 1, -9.0, severity="critical", impact="improvement"),
        )
        plan = mitigation_plan(make_day(), anomalies, CATALOGUE)
        assert [(m.priority, m.kpi) for m in plan] == [
            ("P1", "p99_latency_ms"),
            ("P1", "redis_hit_rate"),
        ]
        p99, redis = plan
        assert "1,450.0 ms" in p99.finding and "330.0 ms" in p99.finding and "9.6" in p99.finding
        assert potential_causes("latency", "up")[0] in p99.action
        assert "2025-11-19T10:00:00Z" in p99.action  # the event's window, to look at first
        assert "fell to 71.500%" in redis.finding
        assert potential_causes("cache", "down")[0] in redis.action

    def test_drift_items_name_value_ga_value_and_first_cause(self) -> None:
        drift: dict[str, float | None] = {
            "p99_latency_ms": 12.0,  # P2
            "redis_hit_rate": -40.0,  # 40% adverse: P1
            "db_connections": 9.9,  # under 10%: no item
            "error_rate": -60.0,  # improvement: no item
        }
        day = make_day(drift=drift, p99_latency_ms=336.0, redis_hit_rate=57.0)
        plan = mitigation_plan(day, None, CATALOGUE)
        assert [(m.priority, m.kpi) for m in plan] == [
            ("P1", "redis_hit_rate"),
            ("P2", "p99_latency_ms"),
        ]
        redis, p99 = plan
        assert "57.000%" in redis.finding and f"{57.0 / 0.6:.3f}%" in redis.finding
        assert "-40.0%" in redis.finding
        assert redis.action == f"Check first: {potential_causes('cache', 'down')[0]}"
        assert "336.0 ms vs 300.0 ms on GA day (+12.0%)" in p99.finding
        assert "target 500 ms" in p99.finding
        assert p99.action == f"Check first: {potential_causes('latency', 'up')[0]}"

    @pytest.mark.parametrize(("value", "item"), [(59.4, False), (59.5, True), (75.0, True)])
    def test_resource_item_from_85_percent_of_target(self, value: float, item: bool) -> None:
        plan = mitigation_plan(make_day(avg_cpu_percent=value), None, CATALOGUE)
        if not item:
            assert plan == []
            return
        (action,) = plan
        assert action.priority == "P2" and action.kpi == "avg_cpu_percent"
        assert f"{value:.3f}%" in action.finding and f"{value / 70 * 100:.1f}%" in action.finding
        assert "70% target" in action.finding
        assert "CPU" in action.action

    def test_sorted_by_priority_then_severity(self) -> None:
        slos = {
            "availability": slo_day("availability", 0.003),  # 3x: P1, medium
            "error_rate": slo_day("error_rate", 0.007),  # 7x: P1, high
            "p99_latency": slo_day("p99_latency_ms", 0.2, target=99.0),  # 20x: P0
        }
        day = make_day(
            slos=slos,
            drift={"p95_latency_ms": 35.0, "daily_cost_usd": 15.0},  # P1 medium, P2 low
            db_connections=85.0,  # over its target of 80: P2 medium
        )
        anomalies = events(event("error_rate", 1, 9.5, severity="critical"))
        plan = mitigation_plan(day, anomalies, CATALOGUE)
        assert [(m.priority, m.kpi) for m in plan] == [
            ("P0", "p99_latency_ms"),
            ("P1", "error_rate"),  # critical anomaly
            ("P1", "error_rate"),  # high breach (7x)
            ("P1", "availability"),  # medium breach (3x) before a drift of the same rank
            ("P1", "p95_latency_ms"),
            ("P2", "db_connections"),
            ("P2", "daily_cost_usd"),
        ]
        assert "anomaly" in plan[1].finding and "7.00x" in plan[2].finding

    def test_missing_values_never_raise_an_item(self) -> None:
        day = make_day(
            slos={"availability": slo_day("availability", None)},
            drift={"p99_latency_ms": None, "redis_hit_rate": None},
            avg_cpu_percent=None,
            db_connections=None,
            p99_latency_ms=None,
        )
        rep = report(day)
        assert rep.mitigation_plan == []
        assert rep.health_score == 100.0 and rep.status == "healthy"
        assert "avg_cpu_percent" in rep.components["resource_headroom"].detail
        assert "db_connections" in rep.components["resource_headroom"].detail
        assert "redis_hit_rate" in rep.components["drift"].detail


# --------------------------------------------------------------------------- properties

RANK = {"healthy": 0, "degraded": 1, "critical": 2}
fractions = st.floats(min_value=0.0, max_value=0.05)
drifts = st.floats(min_value=-50.0, max_value=80.0)
loads = st.floats(min_value=0.0, max_value=120.0)
grow = st.floats(min_value=0.0, max_value=60.0)
severities = st.sampled_from(["low", "medium", "high", "critical"])
impacts = st.sampled_from(["adverse", "improvement", "neutral"])


@st.composite
def base_days(draw: st.DrawFn) -> dict[str, object]:
    """Arguments of a random day: two SLOs (maybe unmeasured), two drifts, two loads."""
    return {
        "avail_bad": draw(st.none() | fractions),
        "p99_bad": draw(st.none() | fractions),
        "p99_drift": draw(drifts),
        "hit_drift": draw(drifts),
        "cpu": draw(loads),
        "conns": draw(loads),
        "events": draw(st.lists(st.tuples(severities, impacts, st.integers(0, 23)), max_size=4)),
    }


def assess(args: dict[str, object]) -> tuple[float, int]:
    slos: dict[str, SloDay] = {"availability": slo_day("availability", args["avail_bad"])}  # type: ignore[arg-type]
    slos["p99_latency"] = slo_day("p99_latency_ms", args["p99_bad"], target=99.0)  # type: ignore[arg-type]
    day = make_day(
        slos=slos,
        drift={"p99_latency_ms": args["p99_drift"], "redis_hit_rate": args["hit_drift"]},  # type: ignore[dict-item]
        avg_cpu_percent=args["cpu"],  # type: ignore[arg-type]
        db_connections=args["conns"],  # type: ignore[arg-type]
    )
    items = [
        event("error_rate", 1, 5.0, severity=s, impact=i, start_hour=h)
        for s, i, h in args["events"]  # type: ignore[attr-defined]
    ]
    rep = report(day, events(*items))
    return rep.health_score, RANK[rep.status]


def assert_not_better(before: dict[str, object], after: dict[str, object]) -> None:
    score_before, status_before = assess(before)
    score_after, status_after = assess(after)
    assert score_after <= score_before
    assert status_after >= status_before


@given(base=base_days(), more=fractions)
def test_higher_bad_fraction_never_raises_the_score(base: dict[str, object], more: float) -> None:
    for key in ("avail_bad", "p99_bad"):
        worse = {**base, key: min(1.0, (base[key] or 0.0) + more)}  # type: ignore[operator]
        if base[key] is not None:
            assert_not_better(base, worse)


@given(base=base_days(), severity=severities, hour=st.integers(0, 23))
def test_one_more_adverse_anomaly_never_raises_the_score(
    base: dict[str, object], severity: str, hour: int
) -> None:
    worse = {**base, "events": [*base["events"], (severity, "adverse", hour)]}  # type: ignore[misc]
    assert_not_better(base, worse)


@given(base=base_days(), more=grow)
def test_larger_adverse_drift_never_raises_the_score(base: dict[str, object], more: float) -> None:
    # p99 latency: lower is better, so adverse is up; Redis hit rate: adverse is down.
    assert_not_better(base, {**base, "p99_drift": base["p99_drift"] + more})  # type: ignore[operator]
    assert_not_better(base, {**base, "hit_drift": base["hit_drift"] - more})  # type: ignore[operator]


@given(base=base_days(), more=grow)
def test_higher_utilisation_never_raises_the_score(base: dict[str, object], more: float) -> None:
    assert_not_better(base, {**base, "cpu": base["cpu"] + more})  # type: ignore[operator]
    assert_not_better(base, {**base, "conns": base["conns"] + more})  # type: ignore[operator]


def test_event_helper_places_events_in_day_windows() -> None:
    """The builders agree with the model's day windows (a guard for the tests above)."""
    e = event("error_rate", 1, 5.0, start_hour=0, hours=0.5)
    day = make_day()
    assert day.window.start == e.start == GA + DAY
    assert e.end - e.start == timedelta(minutes=30)


# --------------------------------------------------------------------------- coverage


def test_a_day_without_traffic_is_no_data_never_healthy() -> None:
    """Request rate 0: no error and no slow request, which is not health: ``no_data``."""
    day = make_day(
        requests_per_second=0.0,
        availability=None,
        error_rate=None,
        p99_latency_ms=None,
        drift={"requests_per_second": -100.0},
    )
    rep = report(day)
    assert rep.health_score == 100.0  # the score of what was measured: nothing adverse
    assert rep.status == "no_data"
    first = rep.mitigation_plan[0]
    assert first.priority == "P1" and first.kpi == "requests_per_second"
    assert "request rate -100% vs GA day" in first.finding
    assert report(make_day(requests_per_second=None)).status == "no_data"


def test_an_slo_within_budget_on_partial_data_is_unknown_and_not_healthy() -> None:
    partial = SloDay(
        kpi="availability", target_percent=99.9, period_days=30, bad_fraction=0.0003, coverage=0.875
    )
    assert partial.status == "unknown" and not partial.breached
    full = partial.model_copy(update={"coverage": 1.0})
    assert full.status == "met"
    breached = partial.model_copy(update={"bad_fraction": 0.0035})
    assert breached.status == "breached"  # a breach in what was seen is a breach
    day = make_day(slos={"availability": partial})
    day = day.model_copy(
        update={
            "kpis": {
                **day.kpis,
                "availability": KpiValue(value=99.97, unit="%", coverage=0.875),
            }
        }
    )
    rep = report(day)
    assert rep.health_score == 100.0 and rep.status == "degraded"
    assert "unknown (partial data" in rep.components["slo_compliance"].detail
    assert "availability 87.5%" in rep.mitigation_plan[0].finding
    clean = report(make_day(slos={"availability": full}))
    assert clean.status == "healthy" and clean.mitigation_plan == []
