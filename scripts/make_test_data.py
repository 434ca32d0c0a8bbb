"""Regenerate data/test_data: a hand-written release week with a known story.

The story (GA 2025-11-18T00:00:00Z):
  Day 2  latency spike: p99 720 ms (SLO breached, 29 of 288 windows over 500 ms), p95 295 ms
  Day 4  Redis failover flushes the cache: requests time out at the edge (availability
         99.65%, SLO breached), the API's own error rate rises to 0.08% (under its
         0.1% budget, an anomaly), Redis hit rate drops to 85% and never gets back to
         its 90% target
  Days 1-7  CPU creeps up 15.7%, Redis memory grows 22%; cost flat around $320/day

On it the retrospective reports the seed guide's smoke figures: 8 successes,
5 degradations, 3 unexpected drifts, cost trend stable, 10 recommendations,
5 process improvements, 7 action items. Run: python scripts/make_test_data.py
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tars_lib.core.artifacts import write_artifact
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.models import (
    AnomalyEvent,
    AnomalyEvents,
    AnomalyParameters,
    DaySummary,
    GaKpiSummary,
    KpiComparison,
    KpiValue,
    RegressionSummary,
    RollbackVerdict,
    SloDay,
    SourceInfo,
    Window,
)

GA = datetime(2025, 11, 18, tzinfo=UTC)
DAY = timedelta(days=1)
OUT = Path(__file__).resolve().parent.parent / "data" / "test_data"

# KPI -> [GA day, day 1 .. day 7]
SERIES: dict[str, list[float]] = {
    "availability": [99.96, 99.97, 99.95, 99.96, 99.65, 99.94, 99.96, 99.95],
    "error_rate": [0.03, 0.03, 0.04, 0.03, 0.08, 0.05, 0.03, 0.03],
    "p50_latency_ms": [42, 41, 58, 43, 45, 44, 46, 45],
    "p95_latency_ms": [180, 178, 295, 185, 190, 186, 188, 192],
    "p99_latency_ms": [320, 315, 720, 330, 335, 328, 332, 338],
    "requests_per_second": [1200, 1180, 1210, 1195, 1220, 1205, 1230, 1240],
    "avg_cpu_percent": [45.2, 46.0, 47.5, 48.1, 49.0, 50.2, 51.4, 52.3],
    "peak_cpu_percent": [72, 72, 84, 74, 75, 76, 76, 77],
    "avg_memory_percent": [62.0, 62.8, 63.5, 64.1, 64.9, 65.6, 66.3, 67.0],
    "redis_hit_rate": [95.1, 95.3, 94.2, 95.0, 85.0, 84.0, 83.0, 82.0],
    "redis_memory_mb": [1024, 1050, 1080, 1110, 1140, 1170, 1210, 1249],
    "db_connections": [40, 41, 62, 42, 55, 42, 43, 43],
    "db_cache_hit_rate": [99.4, 99.4, 99.2, 99.4, 99.1, 99.3, 99.3, 99.3],
    "daily_cost_usd": [300, 312, 318, 325, 330, 322, 315, 318],
}
# p99 SLO: bad 5-minute windows out of 288 per day
P99_BAD_WINDOWS = [0, 0, 29, 1, 1, 0, 1, 1]


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return GA + day * DAY + timedelta(hours=hour, minutes=minute)


def _kpis(day: int) -> dict[str, KpiValue]:
    catalogue = load_catalogue()
    return {
        name: KpiValue(value=float(values[day]), unit=catalogue.kpis[name].unit)
        for name, values in SERIES.items()
    }


def _slos(day: int) -> dict[str, SloDay]:
    return {
        "availability": SloDay(
            kpi="availability",
            target_percent=99.9,
            period_days=30,
            bad_fraction=round(1 - SERIES["availability"][day] / 100, 6),
        ),
        "p99_latency": SloDay(
            kpi="p99_latency_ms",
            target_percent=99.0,
            period_days=30,
            bad_fraction=round(P99_BAD_WINDOWS[day] / 288, 6),
        ),
        "error_rate": SloDay(
            kpi="error_rate",
            target_percent=99.9,
            period_days=30,
            bad_fraction=round(SERIES["error_rate"][day] / 100, 6),
        ),
    }


def _event(
    metric: str,
    day: int,
    start: tuple[int, int],
    end: tuple[int, int],
    z: float,
    observed: float,
    expected: float,
    impact: str,
    severity: str,
) -> AnomalyEvent:
    s, e = _at(day, *start), _at(day, *end)
    return AnomalyEvent(
        metric_name=metric,
        labels={"job": "api"},
        start=s,
        end=e,
        duration_seconds=(e - s).total_seconds(),
        peak_z=z,
        observed=observed,
        expected=expected,
        direction="up" if z > 0 else "down",
        impact=impact,
        severity=severity,  # type: ignore[arg-type]
    )


def main() -> None:
    source = SourceInfo(kind="test-data", location="scripts/make_test_data.py")
    write_artifact(
        OUT / "ga_kpis" / "ga_kpi_summary.json",
        GaKpiSummary(
            ga_timestamp=GA,
            window=Window(start=GA, end=GA + DAY),
            generated_at=GA + DAY + timedelta(minutes=5),
            source=source,
            kpis=_kpis(0),
            slos=_slos(0),
        ),
    )
    for day in range(1, 8):
        drift = {
            name: round((values[day] - values[0]) / values[0] * 100, 4)
            for name, values in SERIES.items()
        }
        write_artifact(
            OUT / "stability" / f"day_{day:02d}_summary.json",
            DaySummary(
                day_number=day,
                ga_timestamp=GA,
                window=Window(start=GA + day * DAY, end=GA + (day + 1) * DAY),
                generated_at=GA + (day + 1) * DAY + timedelta(minutes=5),
                source=source,
                kpis=_kpis(day),
                drift_percent=drift,
                slos=_slos(day),
            ),
        )
    events = [
        _event("p99_latency_ms", 2, (14, 5), (16, 40), 9.6, 1450.0, 330.0, "adverse", "critical"),
        _event("p95_latency_ms", 2, (14, 10), (16, 30), 6.8, 610.0, 185.0, "adverse", "high"),
        _event(
            "requests_per_second", 3, (18, 0), (18, 25), 4.2, 1610.0, 1195.0, "neutral", "medium"
        ),
        _event("error_rate", 4, (9, 15), (11, 45), 8.1, 2.4, 0.03, "adverse", "high"),
        _event("redis_hit_rate", 4, (9, 20), (13, 0), -7.2, 71.5, 95.0, "adverse", "high"),
        _event("p50_latency_ms", 5, (3, 0), (3, 50), -4.5, 31.0, 44.0, "improvement", "medium"),
        _event("avg_cpu_percent", 6, (20, 0), (20, 15), 3.4, 61.0, 50.5, "adverse", "low"),
    ]
    write_artifact(
        OUT / "anomalies" / "anomaly_events.json",
        AnomalyEvents(
            generated_at=GA + 8 * DAY + timedelta(minutes=10),
            window=Window(start=GA, end=GA + 8 * DAY),
            parameters=AnomalyParameters(z_threshold=3.0, ewma_alpha=0.3),
            events=events,
        ),
    )
    catalogue = load_catalogue()
    comparisons = []
    for name, values in SERIES.items():
        spec = catalogue.kpis[name]
        week = sum(values[1:]) / 7
        change = (week - values[0]) / values[0] * 100
        adverse = -change if spec.direction == "higher" else change
        if spec.direction == "neutral":
            adverse = 0.0
        comparisons.append(
            KpiComparison(
                kpi=name,
                baseline="ga_day",
                baseline_value=values[0],
                observed_value=round(week, 4),
                adverse_change_percent=round(adverse, 2),
                state="ok",
                severity="low" if adverse >= 10 else "none",
            )
        )
    write_artifact(
        OUT / "regression" / "regression_summary.json",
        RegressionSummary(
            generated_at=GA + 8 * DAY + timedelta(minutes=15),
            ga_timestamp=GA,
            baselines=["ga_day"],
            comparisons=comparisons,
            regressions=[],
            rollback_recommendation=RollbackVerdict(verdict="not_needed", reasons=[]),
        ),
    )


if __name__ == "__main__":
    main()
