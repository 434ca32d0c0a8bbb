"""Coverage as data: gaps, NaN samples and a day without traffic, through a real Prometheus.

The simulated week is exported as OpenMetrics and altered before promtool
backfills it, as a real backend would lose or mangle data:

- ``gap`` week: no sample at all from 09:00 to 12:00 UTC on day 4 (a scrape
  outage over the day-4 error burst), and no traffic on day 3 (every HTTP
  counter flat all day: the request rate drops by 100%);
- ``nan`` week: the 5xx counter reads NaN from 10:00 to 11:00 UTC on day 4.

Expected coverage is computed here from the altered samples with Prometheus 2.x
rules written out by hand (``increase``/``rate`` need two samples in the closed
window ``[t - 5m, t]``; an instant selector a sample in it), never from tars_lib.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt
import pytest

from tars_lib.collect.collector import build_day_summary, build_ga_summary
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.models import DaySummary, SourceInfo
from tars_lib.core.policy import MIN_COVERAGE
from tars_lib.judge.health import build_health_report
from tars_lib.sources.base import Progress, RangeQuery, SeriesSet, SourceWarning
from tars_lib.sources.prometheus import PrometheusSource, credentials_from_env
from tars_lib.sources.scenario import RawSamples, ScenarioSource
from testsupport.servers import prometheus_from_openmetrics, require_binary

from .conftest import SCENARIO
from .conftest import run_tars as tars

GA = datetime(2025, 11, 18, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
STEP = 300
POINTS = 86400 // STEP  # 288 five-minute points a day

GAP_DAY, ZERO_DAY, NAN_DAY = 4, 3, 4
GAP = (9, 12)  # hours UTC on GAP_DAY: no sample of any series
NAN_HOURS = (10, 11)  # hours UTC on NAN_DAY: the 5xx counter reads NaN
HTTP = ("http_requests_total", "http_request_duration_seconds")

# KPIs built only from counters of the HTTP requests (increase over 5 minutes)
REQUEST_KPIS = (
    "availability",
    "error_rate",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "requests_per_second",
)
GAUGE_KPIS = ("avg_memory_percent", "redis_memory_mb", "db_connections", "daily_cost_usd")

Alter = Callable[
    [str, dict[str, str], npt.NDArray[np.int64], npt.NDArray[np.float64]], npt.NDArray[np.float64]
]
DROP = -math.inf
"""What an ``Alter`` puts where a sample was never scraped (NaN is kept: written as NaN)."""


def _t(day: int, hour: float = 0.0) -> int:
    return int((GA + timedelta(days=day, hours=hour)).timestamp())


def _write(raw: RawSamples, handle: TextIO, alter: Alter) -> None:
    """OpenMetrics text (seconds, ``# EOF``) of the altered samples."""
    times = raw.timestamps.astype(np.int64)
    for metrics, kind in ((raw.counters, "counter"), (raw.gauges, "gauge")):
        for name, series in metrics.items():
            if kind == "counter" and name.endswith("_total"):
                handle.write(f"# TYPE {name.removesuffix('_total')} counter\n")
            for labels, values in series:
                out = alter(name, dict(labels), times, np.array(values, dtype=np.float64))
                head = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "} "
                for t, v in zip(times.tolist(), out.tolist(), strict=True):
                    if v == DROP:
                        continue
                    handle.write(f"{head}{'NaN' if math.isnan(v) else f'{v:.17g}'} {t}\n")
    handle.write("# EOF\n")


def gap_and_zero_traffic(
    name: str, labels: dict[str, str], t: npt.NDArray[np.int64], v: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    out = v.copy()
    if name.startswith(HTTP):  # day 3: counters flat all day, later samples shifted down
        start, end = np.searchsorted(t, _t(ZERO_DAY)), np.searchsorted(t, _t(ZERO_DAY + 1))
        served = v[end] - v[start]
        out[start:end] = v[start]
        out[end:] = v[end:] - served
    out[(t >= _t(GAP_DAY, GAP[0])) & (t < _t(GAP_DAY, GAP[1]))] = DROP
    return out


def nan_5xx(
    name: str, labels: dict[str, str], t: npt.NDArray[np.int64], v: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    out = v.copy()
    if name == "http_requests_total" and labels.get("code", "").startswith("5"):
        out[(t >= _t(NAN_DAY, NAN_HOURS[0])) & (t < _t(NAN_DAY, NAN_HOURS[1]))] = math.nan
    return out


def _serve(alter: Alter, tmp: Path) -> Iterator[str]:
    require_binary("prometheus")
    require_binary("promtool")
    path = tmp / "week.om.txt"
    with path.open("w", encoding="utf-8") as handle:
        _write(ScenarioSource(SCENARIO).raw, handle, alter)
    with prometheus_from_openmetrics(path, tmp / "prom") as url:
        yield url


@pytest.fixture(scope="module")
def raw() -> RawSamples:
    return ScenarioSource(SCENARIO).raw


@pytest.fixture(scope="module")
def gap_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(gap_and_zero_traffic, tmp_path_factory.mktemp("gap"))


@pytest.fixture(scope="module")
def nan_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(nan_5xx, tmp_path_factory.mktemp("nan"))


def source(url: str) -> PrometheusSource:
    return PrometheusSource(url, credentials=credentials_from_env({}), timeout=30)


# --------------------------------------------------------------------------- independent truth


def grid(day: int) -> npt.NDArray[np.int64]:
    """The day's evaluation times: every 5 minutes after its start, its end included."""
    return np.arange(_t(day) + STEP, _t(day + 1) + 1, STEP)


def kept_times(
    raw: RawSamples, alter: Alter, name: str, labels: dict[str, str]
) -> dict[int, float]:
    times = raw.timestamps.astype(np.int64)
    for metrics in (raw.counters, raw.gauges):
        for lab, values in metrics.get(name, []):
            if dict(lab) == labels:
                out = alter(name, dict(lab), times, np.array(values, dtype=np.float64))
                return {int(t): float(v) for t, v in zip(times, out, strict=True) if v != DROP}
    raise KeyError(name)


def increase_present(samples: dict[int, float], t: int) -> bool:
    """Prometheus 2.x increase(x[5m]) at t: two samples in [t-5m, t], none of them NaN."""
    window = [v for s, v in samples.items() if t - STEP <= s <= t]
    return len(window) >= 2 and not any(math.isnan(v) for v in window)


def instant_present(samples: dict[int, float], t: int) -> bool:
    """An instant selector at t: a sample in the 5-minute lookback [t-5m, t]."""
    return any(t - STEP <= s <= t for s in samples)


def coverage(day: int, present: Callable[[int], bool]) -> float:
    points = grid(day)
    return sum(present(int(t)) for t in points) / len(points)


# --------------------------------------------------------------------------- the day-4 gap


@pytest.fixture(scope="module")
def gap_day(gap_url: str, catalogue: Catalogue) -> DaySummary:
    ga = build_ga_summary(source(gap_url), catalogue, GA, NOW)  # complete: no warning
    with pytest.warns(SourceWarning, match=r"2025-11-22: 5-minute points missing") as said:
        day = build_day_summary(source(gap_url), catalogue, ga, GAP_DAY, NOW)
    # every KPI lost the same 3 hours: one phrase naming the range and the lowest
    assert "14 KPIs at 87.5-87.8% (lowest: availability), 35-36 of 288 points missing" in str(
        said[0].message
    )
    return day


def test_gap_gives_each_kpi_its_coverage(gap_day: DaySummary, raw: RawSamples) -> None:
    counter = kept_times(
        raw, gap_and_zero_traffic, "http_requests_total", {"job": "api", "code": "200"}
    )
    gauge = kept_times(raw, gap_and_zero_traffic, "pg_stat_activity_count", {"job": "api"})
    by_increase = coverage(GAP_DAY, lambda t: increase_present(counter, t))
    by_instant = coverage(GAP_DAY, lambda t: instant_present(gauge, t))
    assert by_increase == 1 - 36 / POINTS == 0.875  # 09:05 .. 12:00: 36 points without two samples
    assert by_instant == 1 - 35 / POINTS  # 09:05 .. 11:55: no sample in the lookback
    for kpi in (*REQUEST_KPIS, "avg_cpu_percent", "redis_hit_rate", "db_cache_hit_rate"):
        assert gap_day.kpis[kpi].coverage == pytest.approx(by_increase, abs=1e-6), kpi
    for kpi in GAUGE_KPIS:
        assert gap_day.kpis[kpi].coverage == pytest.approx(by_instant, abs=1e-6), kpi
    for kpi, value in gap_day.kpis.items():
        assert value.partial and by_instant < MIN_COVERAGE, kpi
        assert value.stats is not None and value.stats.samples == round(value.coverage * POINTS)
        assert any("of 288 5-minute points missing" in w for w in value.warnings), kpi
    assert gap_day.partial_kpis == {k: v.coverage for k, v in gap_day.kpis.items()}


def test_gap_makes_the_days_slos_unknown_not_met(gap_day: DaySummary, catalogue: Catalogue) -> None:
    assert {k: s.status for k, s in gap_day.slos.items()} == {k: "unknown" for k in catalogue.slos}
    assert all(s.coverage == 0.875 and not s.breached for s in gap_day.slos.values())
    report = build_health_report(gap_day, None, catalogue, NOW)
    assert report.status == "degraded"  # what was not seen is not called healthy
    assert "unknown (partial data" in report.components["slo_compliance"].detail
    assert report.mitigation_plan[0].priority == "P1"
    assert "partial data" in report.mitigation_plan[0].finding


def test_full_day_4_breaches_where_the_gap_hid_it(
    prometheus_url: str, catalogue: Catalogue
) -> None:
    """The gap hid the day-4 error burst: with all the data the same day breaches."""
    ga = build_ga_summary(source(prometheus_url), catalogue, GA, NOW)
    day = build_day_summary(source(prometheus_url), catalogue, ga, GAP_DAY, NOW)
    assert all(v.coverage == 1.0 and not v.partial and v.warnings == [] for v in day.kpis.values())
    assert day.slos["availability"].status == "breached" and day.rollback_recommended


# --------------------------------------------------------------------------- NaN in the 5xx counter


def test_nan_samples_lower_coverage_and_are_flagged(
    nan_url: str, catalogue: Catalogue, raw: RawSamples
) -> None:
    ga = build_ga_summary(source(nan_url), catalogue, GA, NOW)
    with pytest.warns(SourceWarning, match=r"error_rate 95\.5% \(13 of 288 missing\)"):
        day = build_day_summary(source(nan_url), catalogue, ga, NAN_DAY, NOW)
    series = {
        code: kept_times(raw, nan_5xx, "http_requests_total", {"job": "api", "code": code})
        for code in ("200", "404", "500")
    }
    present = [
        int(t) for t in grid(NAN_DAY) if all(increase_present(s, int(t)) for s in series.values())
    ]
    assert len(present) == POINTS - 13  # 10:00 .. 11:00: a NaN sample in the window
    entry = day.kpis["error_rate"]
    assert entry.coverage == pytest.approx(len(present) / POINTS, abs=1e-6)
    assert entry.coverage < 1 and not entry.partial  # above MIN_COVERAGE: flagged, not partial
    assert "13 of 288 5-minute points missing or NaN (coverage 95.5%)" in entry.warnings
    bad = sum(series["500"][t] - series["500"][t - STEP] for t in present)
    total = sum(s[t] - s[t - STEP] for s in series.values() for t in present)
    assert entry.value == pytest.approx(100 * bad / total, rel=1e-9)  # the seen points only
    assert day.kpis["p99_latency_ms"].coverage == 1.0  # the buckets were not touched


# --------------------------------------------------------------------------- CLI: the week


@pytest.fixture(scope="module")
def gap_week(gap_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gap week through the CLI, as a cron job runs it: phases 1 to 4 and 6."""
    ws = tmp_path_factory.mktemp("ws")
    url = ["--prometheus-url", gap_url, "--quiet"]
    steps = [
        ["ga-kpi", *url, "--ga-timestamp", "2025-11-18T00:00:00Z"],
        *[["stability", *url, "--day-number", str(d)] for d in range(1, 8)],
        ["anomalies", *url],
        *[
            [
                "health",
                "--stability-data",
                f"stability/day_0{d}_summary.json",
                "--anomaly-data",
                "anomaly_events.json",
            ]
            for d in range(1, 8)
        ],
        ["retro", "--auto"],
    ]
    for step in steps:
        done = tars(*step, cwd=ws)
        assert done.returncode == 0, (step, done.stderr)
        (ws / f"{step[0]}-{step[-1]}.out").write_text(done.stdout + "\n--\n" + done.stderr)
    return ws


def test_stability_says_partial_and_strict_exits_3(gap_url: str, gap_week: Path) -> None:
    out = (gap_week / "stability-4.out").read_text()
    assert "day 4, SLO unknown (partial data): Availability (87.5% coverage)" in out
    assert "no SLO breached" not in out
    assert "tars: warning: 2025-11-22: 5-minute points missing or NaN" in out
    data = json.loads((gap_week / "stability" / "day_04_summary.json").read_text())
    assert data["kpis"]["error_rate"]["coverage"] == 0.875
    assert data["slos"]["availability"]["coverage"] == 0.875
    target = gap_week / "strict"
    url = ["--prometheus-url", gap_url, "--quiet", "--ga-baseline", "ga_kpis/ga_kpi_summary.json"]
    strict = tars(
        "stability",
        *url,
        "--day-number",
        "4",
        "--strict",
        "--output-dir",
        str(target),
        cwd=gap_week,
    )
    assert strict.returncode == 3, strict.stderr
    assert "day 4: partial data: coverage below 90% for availability 87.5%" in strict.stderr
    assert "avg_memory_percent 87.8%" in strict.stderr and "--strict" in strict.stderr
    assert not target.exists()  # nothing written
    full = tars(
        "stability",
        *url,
        "--day-number",
        "5",
        "--strict",
        "--output-dir",
        str(target),
        cwd=gap_week,
    )
    assert full.returncode == 0, full.stderr


def test_zero_traffic_day_is_no_data_and_never_a_recovery(gap_week: Path, raw: RawSamples) -> None:
    requests = kept_times(
        raw, gap_and_zero_traffic, "http_requests_total", {"job": "api", "code": "200"}
    )
    assert requests[_t(ZERO_DAY + 1)] - requests[_t(ZERO_DAY)] == 0  # the independent zero
    day3 = json.loads((gap_week / "stability" / "day_03_summary.json").read_text())
    assert day3["kpis"]["requests_per_second"]["value"] == 0.0
    assert day3["drift_percent"]["requests_per_second"] == -100.0
    assert (
        "day 3, no data (requests_per_second 0 req/s: no traffic)"
        in (gap_week / "stability-3.out").read_text()
    )
    health = json.loads((gap_week / "stability" / "day_03_HEALTH.json").read_text())
    assert health["status"] == "no_data"
    assert "request rate -100% vs GA day" in health["mitigation_plan"][0]["finding"]
    retro_dir = gap_week / "docs" / "final"
    retro = json.loads((retro_dir / "GA_7DAY_RETROSPECTIVE.json").read_text())
    flagged = {p["day"]: p for p in retro["partial_days"]}
    assert flagged[3]["status"] == "no_data" and "requests_per_second" in flagged[3]["kpis"]
    assert flagged[4]["status"] == "partial" and flagged[4]["coverage"]["error_rate"] == 0.875
    text = (retro_dir / "GA_7DAY_RETROSPECTIVE.md").read_text()
    assert "Recovered on Day 3" not in text and "Recovered on Day 4" not in text
    latency = [d for d in retro["degradations"] if d["description"].startswith("P99 latency")]
    assert [d["resolution_details"].split(":")[0] for d in latency] == ["Recovered on Day 5"]
    compliance = {s["slo_name"]: s["compliance_by_day"] for s in retro["slo_burn_downs"]}
    assert [c["compliant"] for c in compliance["Availability"]][3:5] == [None, None]
    timeline = [e["text"] for e in retro["timeline"] if e["day"] == 3]
    assert timeline and not any("quiet" in t for t in timeline)


# --------------------------------------------------------------------------- backend warnings


class WarningBackend:
    """The scenario's answers, with a Thanos-style warning on the error-rate numerator."""

    TEXT = "partial response: store 10.0.0.7:10901 unavailable"

    def __init__(self) -> None:
        self.inner = ScenarioSource(SCENARIO)

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(kind="prometheus", location="http://thanos.example:10902")

    def fetch(
        self, queries: Sequence[RangeQuery], progress: Progress | None = None
    ) -> dict[str, SeriesSet]:
        answers = self.inner.fetch(queries, progress)
        key = "error_rate/numerator"
        answers[key] = dataclasses.replace(answers[key], warnings=(self.TEXT,))
        return answers


def test_backend_warnings_are_recorded_per_kpi(catalogue: Catalogue) -> None:
    # The source says them as they arrive (tests/test_transport.py); the summary keeps them.
    ga = build_ga_summary(WarningBackend(), catalogue, GA, NOW)
    assert ga.kpis["error_rate"].warnings == [WarningBackend.TEXT]
    assert all(v.warnings == [] for k, v in ga.kpis.items() if k != "error_rate")
    assert all(v.coverage == 1.0 for v in ga.kpis.values())  # warned, yet complete


def test_run_day_says_partial_data_on_the_terminal_even_when_quiet(
    gap_url: str, tmp_path: Path
) -> None:
    """Pages leave notebooks' stderr out; the cron job's mail must still say it."""
    url = ["--prometheus-url", gap_url, "--ga-timestamp", "2025-11-18T00:00:00Z", "--quiet"]
    day0 = tars("run-day", "0", "--workspace", "ws", *url, cwd=tmp_path)
    assert day0.returncode == 0 and day0.stdout + day0.stderr == "", day0.stderr
    day4 = tars("run-day", "4", "--workspace", "ws", *url, cwd=tmp_path)
    assert day4.returncode == 0, day4.stderr
    lines = day4.stderr.splitlines()
    # stability and anomalies both see the gap: said once, as one line
    gap = [line for line in lines if "5-minute points missing" in line]
    assert len(gap) == 1 and gap[0].startswith("tars: warning: 2025-11-22: "), lines
    assert "14 KPIs at 87.5-87.8%" in gap[0] and day4.stdout == ""
