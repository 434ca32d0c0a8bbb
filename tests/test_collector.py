"""Phases 1 and 2 on the simulated week, checked against ground truth from its samples."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tars_lib.collect.collector import (
    build_day_summary,
    build_ga_summary,
    latest_complete_day,
)
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.errors import InputError
from tars_lib.core.models import SourceInfo
from tars_lib.sources.base import Progress, RangeQuery, SeriesSet, SourceWarning
from tars_lib.sources.scenario import ScenarioSource, load_scenario, simulate

from .conftest import SCENARIO
from .truth import day_truth

GA = datetime(2025, 11, 18, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
QUANTILES = {"p50_latency_ms", "p95_latency_ms", "p99_latency_ms"}


def assert_matches_truth(kpis: dict[str, float | None], truth: dict[str, float]) -> None:
    for name, value in kpis.items():
        assert value is not None, name
        rel = 0.01 if name in QUANTILES else 0.005
        assert value == pytest.approx(truth[name], rel=rel), name


@pytest.fixture(scope="module")
def source() -> ScenarioSource:
    return ScenarioSource(SCENARIO)


@pytest.fixture(scope="module")
def ga_summary(source: ScenarioSource, catalogue: Catalogue):  # type: ignore[no-untyped-def]
    return build_ga_summary(source, catalogue, GA, NOW)


def _t(day: int) -> int:
    return int((GA + timedelta(days=day)).timestamp())


def test_ga_day_matches_ground_truth(ga_summary, scenario_truth):  # type: ignore[no-untyped-def]
    truth = day_truth(scenario_truth, _t(0), _t(1))
    assert_matches_truth({k: v.value for k, v in ga_summary.kpis.items()}, truth)
    assert ga_summary.source.kind == "scenario"


def test_pre_ga_week_is_a_second_baseline(ga_summary, scenario_truth):  # type: ignore[no-untyped-def]
    truth = day_truth(scenario_truth, _t(-7), _t(0))
    pre = ga_summary.pre_ga_kpis
    assert pre is not None
    assert pre["availability"].value == pytest.approx(truth["availability"], rel=1e-9)
    assert pre["requests_per_second"].value == pytest.approx(truth["requests_per_second"])
    stats = pre["avg_cpu_percent"].stats
    assert stats is not None and stats.samples == 7 * 288
    assert stats.mean == pytest.approx(truth["avg_cpu_percent"])


def test_stats_describe_the_five_minute_series(ga_summary):  # type: ignore[no-untyped-def]
    stats = ga_summary.kpis["avg_cpu_percent"].stats
    assert stats.samples == 288
    assert stats.min <= stats.p5 <= stats.mean <= stats.p95 <= stats.max
    assert ga_summary.kpis["peak_cpu_percent"].value == pytest.approx(stats.max)


@pytest.mark.parametrize("day", [2, 4, 7])
def test_day_summary_matches_ground_truth(
    source,
    catalogue,
    ga_summary,
    scenario_truth,
    day: int,  # type: ignore[no-untyped-def]
):
    summary = build_day_summary(source, catalogue, ga_summary, day, NOW)
    truth = day_truth(scenario_truth, _t(day), _t(day + 1))
    assert_matches_truth({k: v.value for k, v in summary.kpis.items()}, truth)
    p99 = summary.slos["p99_latency"]
    assert p99.bad_fraction == pytest.approx(truth["p99_bad_window_fraction"], abs=1 / 288)
    assert summary.window.start == GA + timedelta(days=day)
    ga_cpu = ga_summary.kpis["avg_cpu_percent"].value
    assert summary.drift_percent["avg_cpu_percent"] == pytest.approx(
        (truth["avg_cpu_percent"] - ga_cpu) / ga_cpu * 100, rel=0.01
    )


def test_incident_days_are_marked(source, catalogue, ga_summary):  # type: ignore[no-untyped-def]
    day2 = build_day_summary(source, catalogue, ga_summary, 2, NOW)
    assert day2.slos["p99_latency"].breached
    assert not day2.slos["availability"].breached
    assert not day2.rollback_recommended  # burn ~10x, p99 +22%: serious, not a rollback
    day4 = build_day_summary(source, catalogue, ga_summary, 4, NOW)
    assert day4.slos["error_rate"].breached and day4.slos["availability"].breached
    assert day4.rollback_recommended
    assert any("error_rate" in r and "threshold 30%" in r for r in day4.rollback_reasons)
    day5 = build_day_summary(source, catalogue, ga_summary, 5, NOW)
    assert day5.drift_percent["daily_cost_usd"] == pytest.approx(12.0, abs=0.01)


def test_severe_burn_recommends_rollback(catalogue, ga_summary, tmp_path):  # type: ignore[no-untyped-def]
    text = SCENARIO.read_text().replace("set: 0.02", "set: 0.30")
    path = tmp_path / "severe.yaml"
    path.write_text(text)
    summary = build_day_summary(ScenarioSource(path), catalogue, ga_summary, 4, NOW)
    bad = summary.slos["availability"].bad_fraction
    assert bad is not None and bad / 0.001 > 14.4
    assert any("14.4x" in r for r in summary.rollback_reasons)


def test_incomplete_day_is_refused(source, catalogue, ga_summary):  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="day 3 is not complete until 2025-11-22T00:00:00Z"):
        build_day_summary(source, catalogue, ga_summary, 3, GA + timedelta(days=3, hours=5))
    with pytest.raises(InputError, match=r"release week has days 1\.\.7"):
        build_day_summary(source, catalogue, ga_summary, 8, NOW)


def test_day_number_derived_from_ga():
    assert latest_complete_day(GA, GA + timedelta(days=4, hours=1)) == 3
    assert latest_complete_day(GA, GA + timedelta(days=8)) == 7
    with pytest.raises(InputError, match="day 1 is not complete"):
        latest_complete_day(GA, GA + timedelta(days=1, hours=23))
    with pytest.raises(InputError, match="release week ended"):
        latest_complete_day(GA, GA + timedelta(days=9))


def test_selector_scopes_the_scenario(catalogue, ga_summary):  # type: ignore[no-untyped-def]
    other = ScenarioSource(SCENARIO, selector='job="billing"')
    summary = build_day_summary(other, catalogue, ga_summary, 1, NOW)
    app = {k for k, spec in catalogue.kpis.items() if spec.exporter == "application"}
    assert app and app != set(catalogue.kpis)
    # --selector scopes the application's series only: those are missing (never 0),
    # the exporters' KPIs (node, Redis, Postgres) are untouched
    assert {k for k, v in summary.kpis.items() if v.value is None} == app
    assert all(s.bad_fraction is None for k, s in summary.slos.items() if k in app)


class OddBackend:
    """The scenario's answers with some changed as a misbehaving backend would change them."""

    def __init__(self, inner: ScenarioSource, change: dict[str, Callable[[SeriesSet], SeriesSet]]):
        self.inner, self.change = inner, change

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(kind="prometheus", location="http://odd.example:9090")

    def fetch(
        self, queries: Sequence[RangeQuery], progress: Progress | None = None
    ) -> dict[str, SeriesSet]:
        answers = self.inner.fetch(queries, progress)
        return {k: self.change.get(k, lambda s: s)(v) for k, v in answers.items()}


def without_inf(buckets: SeriesSet) -> SeriesSet:
    keep = [i for i, labels in enumerate(buckets.labels) if labels["le"] != "+Inf"]
    return SeriesSet(
        buckets.timestamps, tuple(buckets.labels[i] for i in keep), buckets.values[keep]
    )


def twice(series: SeriesSet) -> SeriesSet:
    return SeriesSet(
        series.timestamps, ({"instance": "a"}, {"instance": "b"}), np.vstack([series.values] * 2)
    )


def huge(series: SeriesSet) -> SeriesSet:
    return SeriesSet(series.timestamps, series.labels, np.full_like(series.values, 1e308))


def test_an_unusable_answer_costs_only_its_kpi(source, catalogue, ga_summary):  # type: ignore[no-untyped-def]
    clean = build_day_summary(source, catalogue, ga_summary, 2, NOW)
    odd = OddBackend(
        source,
        {
            "p99_latency_ms/buckets": without_inf,
            "avg_cpu_percent/value": twice,
            "db_connections/value": huge,
        },
    )
    with pytest.warns(SourceWarning) as said:
        summary = build_day_summary(odd, catalogue, ga_summary, 2, NOW)
    broken = {"p99_latency_ms", "avg_cpu_percent", "db_connections"}
    assert {w.message.kpi for w in said if isinstance(w.message, SourceWarning)} == broken
    for w in said:
        assert "http://odd.example:9090" in str(w.message) and "recorded as missing" in str(
            w.message
        )
    for kpi, value in summary.kpis.items():
        if kpi in broken:
            assert value.value is None and value.series_5m is None, kpi
            assert summary.drift_percent[kpi] is None
        else:
            assert value == clean.kpis[kpi], kpi
    assert summary.slos["p99_latency"].bad_fraction is None  # judged on no data, not on 0
    assert summary.slos["availability"] == clean.slos["availability"]


def test_a_clean_answer_warns_nothing(source, catalogue, ga_summary):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_day_summary(source, catalogue, ga_summary, 3, NOW)


@pytest.mark.parametrize("opencost", [True, False])
def test_scenario_sample_budget_counts_what_simulate_makes(opencost: bool) -> None:
    """The limit that refuses ``replicas: 10000`` counts the samples simulate would make."""
    scenario = load_scenario(SCENARIO).model_copy(
        update={"replicas": 3, "days_before_ga": 0, "days_after_ga": 1, "opencost": opencost}
    )
    raw = simulate(scenario)
    series = sum(len(v) for v in (*raw.counters.values(), *raw.gauges.values()))
    assert scenario.series_per_replica * scenario.replicas == series
    assert scenario.scrapes == len(raw.timestamps)
    assert scenario.samples == series * len(raw.timestamps)
