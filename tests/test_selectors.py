"""Selectors per metric family: ``--selector`` scopes the application's queries only.

Served by a real Prometheus and a real VictoriaMetrics: the simulated GA day with
each exporter's series under its own job (api, node, redis, postgres), as a
real deployment scrapes them. Values are checked against the same queries run
without a selector and against ground truth from the samples (tests/truth.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tars_lib.cli import build_parser
from tars_lib.cli._common import source_spec
from tars_lib.collect.collector import collect_window, window_queries
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.errors import SettingError
from tars_lib.sources.base import MetricSource, apply_selector
from tars_lib.sources.prometheus import PrometheusSource, credentials_from_env
from tars_lib.sources.scenario import ScenarioSource
from tars_lib.sources.spec import parse_selectors
from testsupport.servers import (
    prometheus_from_openmetrics,
    require_binary,
    victoria_metrics_from_text,
)

from .conftest import SCENARIO
from .test_collector import assert_matches_truth
from .truth import day_truth

GA = datetime(2025, 11, 18, tzinfo=UTC)
DAY = timedelta(days=1)
JOBS = {"node_": "node", "redis_": "redis", "pg_": "postgres"}  # metric prefix -> job


def _job(metric: str) -> str:
    return next((job for prefix, job in JOBS.items() if metric.startswith(prefix)), "api")


@pytest.fixture(scope="module")
def exporters_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GA day's samples with each exporter's series under its own job label."""
    raw = ScenarioSource(SCENARIO).raw
    t = raw.timestamps
    keep = (t >= (GA - timedelta(minutes=10)).timestamp()) & (t <= (GA + DAY).timestamp())
    path = tmp_path_factory.mktemp("exporters") / "exporters.om.txt"
    with path.open("w", encoding="utf-8") as handle:
        for metrics in (raw.counters, raw.gauges):
            for name, series in metrics.items():
                for labels, values in series:
                    text = ",".join(f'{k}="{v}"' for k, v in {**labels, "job": _job(name)}.items())
                    handle.writelines(
                        f"{name}{{{text}}} {v:.17g} {s}\n"
                        for s, v in zip(t[keep].tolist(), values[keep].tolist(), strict=True)
                    )
        handle.write("# EOF\n")
    return path


@pytest.fixture(scope="module")
def prometheus(exporters_text: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_binary("prometheus")
    require_binary("promtool")
    with prometheus_from_openmetrics(exporters_text, tmp_path_factory.mktemp("prom")) as url:
        yield url


@pytest.fixture(scope="module")
def victoria(exporters_text: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_binary("victoria-metrics")
    with victoria_metrics_from_text(exporters_text, tmp_path_factory.mktemp("vm")) as url:
        yield url


def values(source: MetricSource, catalogue: Catalogue) -> dict[str, float | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # blanked KPIs are warned about; not the point here
        windows = collect_window(source, catalogue, GA, GA + DAY)
    return {kpi: w.value for kpi, w in windows.items()}


def families(catalogue: Catalogue) -> tuple[set[str], set[str]]:
    app = {k for k, s in catalogue.kpis.items() if s.exporter == "application"}
    return app, set(catalogue.kpis) - app


@pytest.mark.parametrize("backend", ["prometheus", "victoria"])
def test_selector_scopes_the_application_and_leaves_exporters_alone(
    backend: str,
    request: pytest.FixtureRequest,
    catalogue: Catalogue,
    scenario_truth: Any,
) -> None:
    url = request.getfixturevalue(backend)

    def collect(selector: str | None, cat: Catalogue = catalogue) -> dict[str, float | None]:
        src = PrometheusSource(url, credentials=credentials_from_env({}), selector=selector)
        return values(src, cat)

    app, resources = families(catalogue)
    assert resources == {
        "avg_cpu_percent",
        "peak_cpu_percent",
        "avg_memory_percent",
        "redis_hit_rate",
        "redis_memory_mb",
        "db_connections",
        "db_cache_hit_rate",
        "daily_cost_usd",
    }
    plain = collect(None)
    truth = day_truth(scenario_truth, int(GA.timestamp()), int((GA + DAY).timestamp()))
    assert_matches_truth(plain, truth)  # every KPI, from its own job's series

    # the selector matches the application: every KPI keeps its value
    assert collect('job="api"') == pytest.approx(plain, rel=1e-12)
    # as before (the selector on every family): the exporters' KPIs were blanked
    everywhere = collect('job="api"; node=job="api"; redis=job="api"; postgres=job="api"')
    assert all(everywhere[k] is None for k in resources)
    assert all(everywhere[k] == pytest.approx(plain[k], rel=1e-12) for k in app)
    # a selector that matches no application series: only application KPIs go missing
    other = collect('job="billing"')
    assert all(other[k] is None for k in app)
    assert {k: other[k] for k in resources} == pytest.approx(
        {k: plain[k] for k in resources}, rel=1e-12
    )
    # an exporter's own selector on the command line
    scoped = collect('node=job="elsewhere"')
    assert {k for k, v in scoped.items() if v is None} == {
        "avg_cpu_percent",
        "peak_cpu_percent",
        "avg_memory_percent",
        "daily_cost_usd",
    }

    # the catalogue's selectors per family, then --selector's on top
    selectors = {"application": 'job="api"', "node": 'job="node"', "redis": 'job="redis"'}
    with_catalogue = catalogue.model_copy(update={"selectors": selectors})
    assert collect('job="api"', with_catalogue) == pytest.approx(plain, rel=1e-12)
    wrong = catalogue.model_copy(update={"selectors": {"postgres": 'job="mysql"'}})
    blank = collect(None, wrong)
    assert {k for k, v in blank.items() if v is None} == {"db_connections", "db_cache_hit_rate"}


def test_the_scenario_applies_the_selector_of_each_family(catalogue: Catalogue) -> None:
    plain = values(ScenarioSource(SCENARIO), catalogue)
    other = values(ScenarioSource(SCENARIO, 'job="billing"'), catalogue)
    app, resources = families(catalogue)
    assert all(other[k] is None for k in app)
    assert {k: other[k] for k in resources} == {k: plain[k] for k in resources}
    redis_only = values(ScenarioSource(SCENARIO, 'redis=job="billing"'), catalogue)
    assert {k for k, v in redis_only.items() if v is None} == {"redis_hit_rate", "redis_memory_mb"}


def test_queries_carry_their_family_and_the_catalogues_selector(catalogue: Catalogue) -> None:
    cat = catalogue.model_copy(update={"selectors": {"node": '{job="node"}'}})
    queries = {q.key: q for q in window_queries(cat, GA, GA + DAY)}
    cpu, requests = queries["avg_cpu_percent/value"], queries["requests_per_second/count"]
    assert (cpu.family, requests.family) == ("node", "application")
    assert queries["db_connections/value"].family == "postgres"
    assert queries["redis_memory_mb/value"].family == "redis"
    assert (
        cpu.promql
        == '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle",job="node",$sel}[5m])))'
    )
    assert apply_selector(cpu.promql, None) == (
        '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle",job="node"}[5m])))'
    )
    assert requests.promql == "sum(increase(http_requests_total{$sel}[5m]))"


def test_selector_entries_per_family() -> None:
    assert parse_selectors('job="api"') == {"application": 'job="api"'}
    assert parse_selectors('{job="api"}; node=instance=~"db.*"') == {
        "application": 'job="api"',
        "node": 'instance=~"db.*"',
    }
    # a label called node is a matcher, not a family: its value is quoted
    assert parse_selectors('node="worker-1",job=~"a;b"') == {
        "application": 'node="worker-1",job=~"a;b"'
    }
    assert parse_selectors('job="a"; application=env="prod"') == {
        "application": 'job="a",env="prod"'
    }
    assert parse_selectors(None) == parse_selectors("") == {}
    with pytest.raises(SettingError, match="'nod' is not an exporter"):
        parse_selectors('nod=instance="x"')


def test_the_flag_repeats_for_several_families() -> None:
    args = build_parser().parse_args(
        [
            "stability",
            "--scenario",
            str(SCENARIO),
            "--selector",
            'job="api"',
            "--selector",
            'postgres=cluster="main"',
        ]
    )
    spec = source_spec(args)
    assert parse_selectors(spec.selector) == {
        "application": 'job="api"',
        "postgres": 'cluster="main"',
    }
