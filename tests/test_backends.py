"""Collection against real backends filled with the simulated week's samples.

The scenario is exported as OpenMetrics, backfilled into a real Prometheus
(promtool) and imported into a real VictoriaMetrics; the KPIs collected through
the default PromQL must match ground truth computed independently from the same
samples (tests/truth.py): 0.5% relative, 1% for histogram quantiles.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tars_lib.collect.collector import build_day_summary, build_ga_summary
from tars_lib.core.catalogue import Catalogue
from tars_lib.sources.prometheus import PrometheusSource, credentials_from_env
from testsupport.servers import require_binary, victoria_metrics_from_text

from .conftest import run_tars as tars
from .test_collector import assert_matches_truth
from .truth import day_truth

GA = datetime(2025, 11, 18, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _t(day: int) -> int:
    return int((GA + timedelta(days=day)).timestamp())


@pytest.fixture(scope="module")
def victoria_url(
    scenario_openmetrics: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    require_binary("victoria-metrics")
    with victoria_metrics_from_text(scenario_openmetrics, tmp_path_factory.mktemp("vm")) as url:
        yield url


def source(url: str, selector: str | None = None) -> PrometheusSource:
    return PrometheusSource(
        url, credentials=credentials_from_env({}), timeout=30, selector=selector
    )


@pytest.mark.parametrize("backend", ["prometheus_url", "victoria_url"])
def test_ga_day_and_incident_days_match_ground_truth(
    backend: str,
    request: pytest.FixtureRequest,
    catalogue: Catalogue,
    scenario_truth,  # type: ignore[no-untyped-def]
) -> None:
    url = request.getfixturevalue(backend)
    src = source(url)
    ga = build_ga_summary(src, catalogue, GA, NOW)
    assert ga.source.kind == "prometheus" and ga.source.location == url
    assert_matches_truth(
        {k: v.value for k, v in ga.kpis.items()}, day_truth(scenario_truth, _t(0), _t(1))
    )
    assert ga.pre_ga_kpis is not None
    pre_truth = day_truth(scenario_truth, _t(-7), _t(0))
    assert ga.pre_ga_kpis["availability"].value == pytest.approx(
        pre_truth["availability"], rel=0.005
    )
    for day in (2, 4):
        summary = build_day_summary(src, catalogue, ga, day, NOW)
        truth = day_truth(scenario_truth, _t(day), _t(day + 1))
        assert_matches_truth({k: v.value for k, v in summary.kpis.items()}, truth)
        assert summary.slos["p99_latency"].bad_fraction == pytest.approx(
            truth["p99_bad_window_fraction"], abs=1 / 288
        )
    assert summary.rollback_recommended  # day 4: the error burst breaches the SLOs


def test_selector_scopes_every_query(
    prometheus_url: str, catalogue: Catalogue, scenario_truth
) -> None:  # type: ignore[no-untyped-def]
    scoped = build_ga_summary(source(prometheus_url, 'job="api"'), catalogue, GA, NOW)
    truth = day_truth(scenario_truth, _t(0), _t(1))
    assert scoped.kpis["availability"].value == pytest.approx(truth["availability"], rel=1e-6)
    other = build_ga_summary(source(prometheus_url, 'job="billing"'), catalogue, GA, NOW)
    app = {k for k, spec in catalogue.kpis.items() if spec.exporter == "application"}
    assert {k for k, v in other.kpis.items() if v.value is None} == app  # exporters untouched


def test_cli_collects_from_prometheus(prometheus_url: str, tmp_path: Path, scenario_truth) -> None:  # type: ignore[no-untyped-def]
    env = {"TARS_PROMETHEUS_TOKEN": "canary-token-b1c2"}
    ga = tars(
        "ga-kpi",
        "--prometheus-url",
        prometheus_url,
        "--ga-timestamp",
        "2025-11-18T00:00:00Z",
        "--output-dir",
        "ga_kpis",
        "--quiet",
        cwd=tmp_path,
        env=env,
    )
    assert ga.returncode == 0, ga.stderr
    day = tars(
        "stability", "--prometheus-url", prometheus_url, "--day-number", "2", cwd=tmp_path, env=env
    )
    assert day.returncode == 0, day.stderr
    assert "SLO breached: P99 Latency" in day.stdout
    written = (tmp_path / "ga_kpis" / "ga_kpi_summary.json").read_text()
    assert "canary-token-b1c2" not in written + ga.stdout + ga.stderr + day.stdout
    data = json.loads(written)
    truth = day_truth(scenario_truth, _t(0), _t(1))
    assert data["kpis"]["p99_latency_ms"]["value"] == pytest.approx(
        truth["p99_latency_ms"], rel=0.01
    )


def test_judgement_phases_run_against_prometheus(prometheus_url: str, tmp_path: Path) -> None:
    """Phases 1 to 6 against the real backend, each writing a schema-valid artifact."""
    steps = [
        [
            "ga-kpi",
            "--prometheus-url",
            prometheus_url,
            "--ga-timestamp",
            "2025-11-18T00:00:00Z",
            "--quiet",
        ],
        *[
            ["stability", "--prometheus-url", prometheus_url, "--day-number", str(d), "--quiet"]
            for d in range(1, 8)
        ],
        ["anomalies", "--prometheus-url", prometheus_url, "--quiet"],
        [
            "health",
            "--stability-data",
            "stability/day_04_summary.json",
            "--anomaly-data",
            "anomaly_events.json",
        ],
        ["regression"],
        ["retro", "--auto"],
    ]
    for args in steps:
        result = tars(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
    events = json.loads((tmp_path / "anomaly_events.json").read_text())
    assert any(
        e["metric_name"] == "error_rate" and e["impact"] == "adverse" for e in events["events"]
    )
    health = json.loads((tmp_path / "stability" / "day_04_HEALTH.json").read_text())
    assert health["status"] in ("degraded", "critical")
    assert any(a["kpi"] == "error_rate" for a in health["mitigation_plan"])
    regression = json.loads((tmp_path / "regression_summary.json").read_text())
    assert regression["baselines"] == ["ga_day", "pre_ga_week", "slo_target"]
    retro = json.loads((tmp_path / "docs/final/GA_7DAY_RETROSPECTIVE.json").read_text())
    assert any(d["day_occurred"] == 4 for d in retro["degradations"])


def test_token_never_reaches_notebooks_site_or_artifacts(
    prometheus_url: str, tmp_path: Path
) -> None:
    """A canary bearer token set for the run appears in no output of any phase."""
    canary = "canary-9d1e7b2f-secret"
    env = {"TARS_PROMETHEUS_TOKEN": canary}
    outputs = ""
    for args in (["run-day", "0", "--ga-timestamp", "2025-11-18T00:00:00Z"], ["run-day", "7"]):
        result = tars(*args, "--prometheus-url", prometheus_url, "--quiet", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        outputs += result.stdout + result.stderr
    report = tars("report", "--renderer", "fallback", cwd=tmp_path, env=env)
    assert report.returncode == 0, report.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in files) and any(p.suffix == ".html" for p in files)
    for path in files:
        assert canary.encode() not in path.read_bytes(), path
    assert canary not in outputs + report.stdout + report.stderr
