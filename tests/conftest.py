"""Shared fixtures: the bundled test data, and a builder of small synthetic weeks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tars_lib.core.catalogue import Catalogue, load_catalogue
from tars_lib.core.models import (
    AnomalyEvent,
    AnomalyEvents,
    AnomalyParameters,
    CostBreakdown,
    DaySummary,
    GaKpiSummary,
    KpiValue,
    RegressionSummary,
    SloDay,
    SourceInfo,
    Window,
)
from tars_lib.core.week import ReleaseWeek
from tars_lib.core.workspace import RetroInputs

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "data" / "test_data"
GA = datetime(2025, 11, 18, tzinfo=UTC)
DAY = timedelta(days=1)
SOURCE = SourceInfo(kind="test-data", location="tests")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def test_data_inputs() -> RetroInputs:
    return RetroInputs(
        ga_data=TEST_DATA / "ga_kpis",
        seven_day_data=TEST_DATA / "stability",
        regression=TEST_DATA / "regression" / "regression_summary.json",
        anomalies=TEST_DATA / "anomalies" / "anomaly_events.json",
    )


def slo_day(kpi: str, bad: float | None, target: float = 99.9, period: int = 30) -> SloDay:
    return SloDay(kpi=kpi, target_percent=target, period_days=period, bad_fraction=bad)


def event(
    metric: str,
    day: int,
    z: float,
    *,
    severity: str = "high",
    impact: str = "adverse",
    hours: float = 2.0,
    start_hour: float = 10.0,
    observed: float = 1.0,
    expected: float = 0.5,
    labels: dict[str, str] | None = None,
) -> AnomalyEvent:
    start = GA + day * DAY + timedelta(hours=start_hour)
    end = start + timedelta(hours=hours)
    return AnomalyEvent(
        metric_name=metric,
        labels=labels or {},
        start=start,
        end=end,
        duration_seconds=hours * 3600,
        peak_z=z,
        observed=observed,
        expected=expected,
        direction="up" if z > 0 else "down",
        impact=impact,
        severity=severity,  # type: ignore[arg-type]
    )


WeekBuilder = Callable[..., ReleaseWeek]


def build_week(
    catalogue: Catalogue,
    series: dict[str, list[float | None]],
    *,
    slos: dict[str, list[SloDay | None]] | None = None,
    events: list[AnomalyEvent] | None = None,
    regression: RegressionSummary | None = None,
    days: list[int] | None = None,
    breakdowns: list[CostBreakdown | None] | None = None,
) -> ReleaseWeek:
    """A week from per-KPI lists [GA day, day 1, ..., day 7]; None is a missing value."""
    units = {k: s.unit for k, s in catalogue.kpis.items()}

    def kpis(day: int) -> dict[str, KpiValue]:
        return {k: KpiValue(value=v[day], unit=units.get(k, "")) for k, v in series.items()}

    def day_slos(day: int) -> dict[str, SloDay]:
        return {k: v[day] for k, v in (slos or {}).items() if v[day] is not None}  # type: ignore[misc]

    ga = GaKpiSummary(
        ga_timestamp=GA,
        window=Window(start=GA, end=GA + DAY),
        generated_at=GA + DAY,
        source=SOURCE,
        kpis=kpis(0),
        slos=day_slos(0),
    )
    summaries = {}
    for d in days if days is not None else range(1, 8):
        summaries[d] = DaySummary(
            day_number=d,
            ga_timestamp=GA,
            window=Window(start=GA + d * DAY, end=GA + (d + 1) * DAY),
            generated_at=GA + (d + 1) * DAY,
            source=SOURCE,
            kpis=kpis(d),
            drift_percent={},
            slos=day_slos(d),
            cost_breakdown=breakdowns[d] if breakdowns else None,
        )
    anomalies = None
    if events is not None:
        anomalies = AnomalyEvents(
            generated_at=GA + 8 * DAY,
            window=Window(start=GA, end=GA + 8 * DAY),
            parameters=AnomalyParameters(z_threshold=3.0, ewma_alpha=0.3),
            events=events,
        )
    return ReleaseWeek(
        catalogue=catalogue, ga=ga, days=summaries, regression=regression, anomalies=anomalies
    )


@pytest.fixture
def make_week(catalogue: Catalogue) -> WeekBuilder:
    def _make(series: dict[str, list[float | None]], **kwargs: object) -> ReleaseWeek:
        return build_week(catalogue, series, **kwargs)  # type: ignore[arg-type]

    return _make


SCENARIO = ROOT / "data" / "scenarios" / "ga_week.yaml"
TARS = str(Path(sys.executable).with_name("tars"))


def run_tars(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed `tars` command, as a user runs it, with extra environment if given."""
    return subprocess.run(
        [TARS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def scenario_openmetrics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default scenario's samples as OpenMetrics text (what promtool backfills)."""
    from tars_lib.sources.scenario import ScenarioSource, write_exposition

    path = tmp_path_factory.mktemp("scenario") / "ga_week.om.txt"
    with path.open("w", encoding="utf-8") as handle:
        write_exposition(ScenarioSource(SCENARIO).raw, handle)
    return path


@pytest.fixture(scope="session")
def scenario_truth(scenario_openmetrics: Path):  # type: ignore[no-untyped-def]
    """Parsed samples of the scenario, for ground-truth calculations."""
    from .truth import parse

    return parse(scenario_openmetrics)


@pytest.fixture(scope="session")
def prometheus_url(
    scenario_openmetrics: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Prometheus (Debian's package) backfilled with the simulated week, on loopback."""
    from testsupport.servers import prometheus_from_openmetrics, require_binary

    require_binary("prometheus")
    require_binary("promtool")
    with prometheus_from_openmetrics(scenario_openmetrics, tmp_path_factory.mktemp("prom")) as url:
        yield url


# A release week where nothing happens: every default KPI flat at a healthy level.
QUIET: dict[str, float] = {
    "availability": 99.95,
    "error_rate": 0.05,
    "p50_latency_ms": 40.0,
    "p95_latency_ms": 150.0,
    "p99_latency_ms": 300.0,
    "requests_per_second": 1000.0,
    "avg_cpu_percent": 40.0,
    "peak_cpu_percent": 60.0,
    "avg_memory_percent": 50.0,
    "redis_hit_rate": 95.0,
    "redis_memory_mb": 1000.0,
    "db_connections": 30.0,
    "db_cache_hit_rate": 99.5,
    "daily_cost_usd": 300.0,
}


def quiet(**overrides: list[float | None]) -> dict[str, list[float | None]]:
    """Every default KPI flat at a healthy level for GA day + 7 days, with overrides."""
    series: dict[str, list[float | None]] = {k: [v] * 8 for k, v in QUIET.items()}
    series.update(overrides)
    return series
