"""The notebooks' tables are for people: labels and units from the catalogue, no index
column, no NaN, no scientific notation, p-values as "< 0.001", numbers right-aligned,
and every chart with real alt text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import matplotlib
import pytest
from matplotlib.figure import Figure

from tars_lib.core.artifacts import read_artifact
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.models import (
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    HealthReport,
    KpiComparison,
    RegressionSummary,
)
from tars_lib.phases import run_health
from tars_lib.report import notebook as nb

from .conftest import TEST_DATA

matplotlib.use("Agg")
SCIENTIFIC = re.compile(r"\d[eE][-+]\d")


class _Cells(HTMLParser):
    """Header and body cells of an HTML table, with each cell's inline style."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []
        self._cell: str | None = None
        self._style = ""
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell, self._tag = "", tag
            self._style = dict(attrs).get("class") or ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if self._tag == "th" and not self.rows[-1]:
                self.headers.append(self._cell.strip())
            else:
                self.rows[-1].append((self._cell.strip(), self._style))
            self._cell = None


def cells(table: object) -> _Cells:
    parser = _Cells()
    parser.feed(table.to_html())  # type: ignore[attr-defined]
    return parser


def assert_for_people(table: object) -> str:
    html = table.to_html()  # type: ignore[attr-defined]
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", html, flags=re.S))
    assert "NaN" not in text and "nan" not in text.split()
    assert not SCIENTIFIC.search(text), text
    assert "False" not in text.split() and "True" not in text.split()
    assert "row_heading" not in html  # no index column
    return text


@pytest.fixture(scope="module")
def week() -> dict[str, object]:
    return {
        "ga": read_artifact(TEST_DATA / "ga_kpis" / "ga_kpi_summary.json", GaKpiSummary),
        "day2": read_artifact(TEST_DATA / "stability" / "day_02_summary.json", DaySummary),
        "events": read_artifact(TEST_DATA / "anomalies" / "anomaly_events.json", AnomalyEvents),
        "regression": read_artifact(
            TEST_DATA / "regression" / "regression_summary.json", RegressionSummary
        ),
    }


def test_kpi_table_uses_labels_units_and_the_change_from_ga(
    week: dict[str, object], catalogue: Catalogue
) -> None:
    day2, ga = week["day2"], week["ga"]
    assert isinstance(day2, DaySummary) and isinstance(ga, GaKpiSummary)
    table = nb.kpi_table(day2.kpis, catalogue, ga.kpis)
    text = assert_for_people(table)
    parsed = cells(table)
    assert parsed.headers == ["KPI", "Value", "Target", "vs GA day"]
    rows = {r[0][0]: [c for c, _ in r[1:]] for r in parsed.rows if r}
    p99 = catalogue.kpis["p99_latency_ms"]
    value, base = day2.kpis["p99_latency_ms"].value, ga.kpis["p99_latency_ms"].value
    assert value is not None and base is not None
    assert rows[p99.label] == [
        f"{value:,.1f} ms",
        "500 ms",
        f"{(value - base) / abs(base) * 100:+.1f}%",
    ]
    assert "p99_latency_ms" not in text  # display names, not metric names
    # number columns are right-aligned
    assert "text-align: right" in table.to_html()


def test_p_values_read_as_people_write_them() -> None:
    assert nb.p_value(7.8e-133) == "< 0.001"
    assert nb.p_value(0.0009999) == "< 0.001"
    assert nb.p_value(0.001) == "0.001"
    assert nb.p_value(0.04567) == "0.046"
    assert nb.p_value(None) is None


def test_regression_summary_is_one_line_per_kpi(
    week: dict[str, object], catalogue: Catalogue
) -> None:
    regression = week["regression"]
    assert isinstance(regression, RegressionSummary)
    table = nb.regression_summary(regression, catalogue)
    assert_for_people(table)
    parsed = cells(table)
    kpis = {c.kpi for c in regression.comparisons}
    assert len([r for r in parsed.rows if r]) == len(kpis)
    assert parsed.headers[0] == "KPI" and "p" in parsed.headers
    full = nb.regression_table(regression, catalogue)
    assert_for_people(full)
    assert len([r for r in cells(full).rows if r]) == len(regression.comparisons)
    folded = nb.collapsible("All comparisons", full)
    assert folded["text/html"].startswith("<details><summary>All comparisons</summary>")


def test_regression_summary_picks_the_worst_comparison(catalogue: Catalogue) -> None:
    def comp(baseline: str, state: str, change: float, p: float) -> KpiComparison:
        return KpiComparison(
            kpi="p99_latency_ms",
            baseline=baseline,
            baseline_value=400.0,
            observed_value=560.0,
            adverse_change_percent=change,
            p_value=p,
            state=state,  # type: ignore[arg-type]
            severity="high",
        )

    summary = RegressionSummary(
        generated_at="2025-11-26T00:00:00Z",  # type: ignore[arg-type]
        ga_timestamp="2025-11-18T00:00:00Z",  # type: ignore[arg-type]
        baselines=["ga_day", "pre_ga_week", "slo_target"],
        comparisons=[
            comp("slo_target", "ok", 12.0, 0.2),
            comp("ga_day", "regression", 40.0, 1e-50),
            comp("pre_ga_week", "regression", 42.6, 1e-40),
        ],
        regressions=[],
        rollback_recommendation={"verdict": "recommended", "reasons": []},  # type: ignore[arg-type]
    )
    (row,) = [r for r in cells(nb.regression_summary(summary, catalogue)).rows if r]
    values = [c for c, _ in row]
    assert values[0] == "P99 latency"
    assert "+42.6%" in values and "< 0.001" in values
    assert values[-1] == "regression against ga_day, pre_ga_week"


def test_events_and_incidents_tables(week: dict[str, object], catalogue: Catalogue) -> None:
    events = week["events"]
    assert isinstance(events, AnomalyEvents)
    table = nb.events_table(events, catalogue)
    text = assert_for_people(table)
    assert len([r for r in cells(table).rows if r]) == len(events.events)
    first = events.events[0]
    assert f"{first.start:%b %d %H:%M}" in text
    assert_for_people(nb.incidents_table(events))
    assert_for_people(nb.events_table(None, catalogue))


def test_health_tables(catalogue: Catalogue) -> None:
    report, _ = run_health(
        TEST_DATA / "stability" / "day_04_summary.json",
        TEST_DATA / "anomalies" / "anomaly_events.json",
        None,
        catalogue,
        datetime(2025, 11, 26, tzinfo=UTC),
        write=False,
    )
    assert isinstance(report, HealthReport) and report.mitigation_plan
    components = nb.health_components(report)
    assert_for_people(components)
    names = [r[0][0] for r in cells(components).rows if r]
    assert names == [k.replace("_", " ").capitalize() for k in report.components]
    plan = nb.mitigation_table(report, catalogue)
    assert_for_people(plan)
    assert len([r for r in cells(plan).rows if r]) == len(report.mitigation_plan)


def test_figures_carry_their_caption_as_alt_text() -> None:
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    bundle = nb.figure_output(fig, 'P99 latency <by day> & "target"')
    assert bundle["text/html"].startswith(
        '<img alt="P99 latency &lt;by day&gt; &amp; &quot;target&quot;"'
    )
    assert bundle["image/png"] in bundle["text/html"]
    assert bundle["text/plain"] == 'P99 latency <by day> & "target"'
