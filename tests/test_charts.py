"""Tests of the charts: the plotted numbers, worked out here independently.

Each test builds a week (or loads the bundled one), computes what a chart must
show by hand or with numpy from the inputs, and reads it back from the figure's
artists (lines and bars are found by their ``gid``), so a chart that looks right
but plots the wrong numbers fails.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.models import CostBreakdown, HealthReport, Incident, IncidentKpi, KpiValue
from tars_lib.core.week import ReleaseWeek, load_release_week
from tars_lib.core.workspace import RetroInputs
from tars_lib.judge.health import build_health_report
from tars_lib.report import charts
from tars_lib.retro.cost import analyze_cost
from tars_lib.retro.drift import analyze_drifts
from tars_lib.retro.slo import analyze_slos

from .conftest import DAY, GA, WeekBuilder, event, slo_day

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BASE: dict[str, float] = {
    "availability": 99.95,
    "error_rate": 0.05,
    "p99_latency_ms": 300.0,
    "requests_per_second": 1000.0,
    "avg_cpu_percent": 40.0,
    "daily_cost_usd": 300.0,
}


def flat(**overrides: list[float | None]) -> dict[str, list[float | None]]:
    """A few KPIs flat for GA day + 7 days, with overrides."""
    series: dict[str, list[float | None]] = {k: [v] * 8 for k, v in BASE.items()}
    series.update(overrides)
    return series


def line(ax: Axes, gid: str) -> Line2D:
    found = [ln for ln in ax.lines if ln.get_gid() == gid]
    assert len(found) == 1, f"expected one line {gid!r}, got {[ln.get_gid() for ln in ax.lines]}"
    return found[0]


def ydata(ax: Axes, gid: str) -> np.ndarray:
    return np.asarray(line(ax, gid).get_ydata(), dtype=float)


def bars(ax: Axes, label: str) -> BarContainer:
    found = [c for c in ax.containers if isinstance(c, BarContainer) and c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in ax.containers]
    return found[0]


def only_axes(fig: Figure) -> Axes:
    assert len(fig.axes) == 1
    return fig.axes[0]


def png_ok(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(pixels[..., :3].std()) > 0.0  # not a blank, single-colour image


@pytest.fixture
def test_week(catalogue: Catalogue, test_data_inputs: RetroInputs) -> ReleaseWeek:
    return load_release_week(test_data_inputs, catalogue)


# --------------------------------------------------------------------------- burn-down


class TestBurnDown:
    # day 3 has no measurement (monitor did not run): a gap, not 0 and not a flat carry
    BAD: tuple[float | None, ...] = (0.0005, 0.0002, 0.0015, None, 0.004, 0.0, 0.001, 0.0008)

    def week(self, make_week: WeekBuilder) -> ReleaseWeek:
        slos = {"availability": [slo_day("availability", b) for b in self.BAD]}
        return make_week(flat(), slos=slos)

    def test_consumed_line_is_cumulative_budget_use_with_nan_gaps(self, make_week: WeekBuilder):
        burn = {b.key: b for b in analyze_slos(self.week(make_week))}["availability"]
        ax = only_axes(charts.burn_down_chart(burn))
        # by hand: burn rate f / (1 - 0.999), day use 100 x rate / 30, summed from day 1
        expected = [0.0]
        total = 0.0
        for bad in self.BAD[1:]:
            if bad is None:
                expected.append(math.nan)
                continue
            total += 100.0 * (bad / 0.001) / 30
            expected.append(total)
        assert expected[2] == pytest.approx(100 * (0.2 + 1.5) / 30)  # 0.2x then 1.5x burn
        got = ydata(ax, "consumed")
        assert list(line(ax, "consumed").get_xdata()) == list(range(8))
        assert math.isnan(got[3])
        assert got[3] != 0.0
        np.testing.assert_allclose(got, expected, atol=1e-3, equal_nan=True)

    def test_pace_and_exhaustion_lines(self, make_week: WeekBuilder):
        burn = analyze_slos(self.week(make_week))[0]
        ax = only_axes(charts.burn_down_chart(burn))
        np.testing.assert_allclose(ydata(ax, "pace"), [100 * d / 30 for d in range(8)])
        assert ydata(ax, "pace")[7] == pytest.approx(23.333, abs=1e-3)  # 7/30 of the budget
        assert set(ydata(ax, "exhausted")) == {100.0}
        styles = {line(ax, g).get_linestyle() for g in ("consumed", "pace", "exhausted")}
        assert len(styles) == 3  # told apart without colour

    def test_labels_title_and_units(self, make_week: WeekBuilder):
        burn = analyze_slos(self.week(make_week))[0]
        fig = charts.burn_down_chart(burn, ga_timestamp=GA)
        ax = only_axes(fig)
        assert fig.get_label() == "slo-burn-down:availability"
        assert "Availability" in ax.get_title()
        assert burn.status in ax.get_title()
        assert "no data day 3" in ax.get_title()
        assert "%" in ax.get_ylabel() and "30-day" in ax.get_ylabel()
        assert "UTC" in ax.get_xlabel()
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks[0] == "Day 0\n11-18" and ticks[2] == "Day 2\n11-20"
        assert ax.get_legend() is not None
        assert fig.canvas.manager is None  # not registered with pyplot

    def test_grid_on_bundled_week_matches_day_summaries(self, test_week: ReleaseWeek):
        burns = analyze_slos(test_week)
        fig = charts.burn_down_grid(burns, ga_timestamp=test_week.ga.ga_timestamp)
        assert fig.get_label() == "slo-burn-down"
        assert fig.get_suptitle()
        assert len(fig.axes) == len(burns) == 3
        for ax, burn in zip(fig.axes, burns, strict=True):
            assert ax.get_label() == f"slo-burn-down:{burn.key}"
            # recompute from the stored bad fractions, not from the analyzer's output
            cumulative = [0.0]
            for day in range(1, 8):
                slo = test_week.days[day].slos[burn.key]
                assert slo.bad_fraction is not None
                use = 100 * slo.bad_fraction / (1 - slo.target_percent / 100) / slo.period_days
                cumulative.append(cumulative[-1] + use)
            np.testing.assert_allclose(ydata(ax, "consumed"), cumulative, atol=1e-3)
            assert ydata(ax, "consumed")[-1] == pytest.approx(
                burn.json.budget_consumed_percent, abs=0.01
            )

    def test_grid_without_slos_says_so(self, tmp_path: Path):
        fig = charts.burn_down_grid([])
        assert fig.get_label() == "slo-burn-down"
        assert any("No SLO" in t.get_text() for t in fig.axes[0].texts)
        charts.save_png(fig, tmp_path / "empty.png")
        png_ok(tmp_path / "empty.png")


# --------------------------------------------------------------------------- KPI trend


class TestKpiTrend:
    P99: tuple[float | None, ...] = (300.0, 310.0, 720.0, 320.0, 450.0, None, 305.0, 301.0)

    def week(self, make_week: WeekBuilder) -> ReleaseWeek:
        events = [
            event("p99_latency_ms", 2, 6.0, severity="critical"),
            # 23:00 on day 4 to 01:00 on day 5: touches both days (day 5 has no value)
            event("p99_latency_ms", 4, 4.0, severity="high", start_hour=23.0),
            event("p99_latency_ms", 6, 3.5, severity="medium"),  # too mild to mark
            event("p99_latency_ms", 3, -5.0, severity="high", impact="improvement"),
            event("error_rate", 1, 5.0, severity="critical"),  # another KPI
        ]
        return make_week(flat(p99_latency_ms=list(self.P99)), events=events)

    def test_daily_values_baseline_and_target(self, make_week: WeekBuilder):
        fig = charts.kpi_trend_chart(self.week(make_week), "p99_latency_ms")
        ax = only_axes(fig)
        expected = [math.nan if v is None else v for v in self.P99]
        np.testing.assert_allclose(ydata(ax, "daily"), expected, equal_nan=True)
        assert list(line(ax, "daily").get_xdata()) == list(range(8))
        assert set(ydata(ax, "ga-baseline")) == {300.0}
        assert line(ax, "ga-baseline").get_linestyle() == "--"
        assert set(ydata(ax, "target")) == {500.0}  # catalogue target for p99
        assert line(ax, "target").get_linestyle() != line(ax, "daily").get_linestyle()

    def test_anomaly_markers_on_adverse_high_and_critical_days(self, make_week: WeekBuilder):
        week = self.week(make_week)
        assert charts.anomaly_days(week, "p99_latency_ms") == [2, 4, 5]
        ax = only_axes(charts.kpi_trend_chart(week, "p99_latency_ms"))
        markers = line(ax, "anomalies")
        assert list(markers.get_xdata()) == [2, 4]  # day 5 has no value to mark
        assert list(markers.get_ydata()) == [720.0, 450.0]
        assert markers.get_linestyle() == "None"

    def test_labels_units_and_dates(self, make_week: WeekBuilder):
        fig = charts.kpi_trend_chart(self.week(make_week), "p99_latency_ms")
        ax = only_axes(fig)
        assert fig.get_label() == "kpi-trend:p99_latency_ms"
        assert ax.get_ylabel() == "P99 latency (ms)"
        assert "P99 latency" in ax.get_title() and "no data: day 5" in ax.get_title()
        assert [t.get_text() for t in ax.get_xticklabels()][2] == "Day 2\n11-20"
        legend = ax.get_legend()
        assert legend is not None
        texts = [t.get_text() for t in legend.get_texts()]
        assert "GA-day baseline (300 ms)" in texts
        assert "Target (at most 500 ms)" in texts

    def test_kpi_without_target_or_anomalies(self, make_week: WeekBuilder):
        week = make_week(flat(requests_per_second=[1000.0, *[1100.0] * 7]))
        ax = only_axes(charts.kpi_trend_chart(week, "requests_per_second"))
        gids = {ln.get_gid() for ln in ax.lines}
        assert gids == {"daily", "ga-baseline"}
        assert "req/s" in ax.get_ylabel()


# --------------------------------------------------------------------------- drift


class TestDrift:
    def test_bar_widths_are_final_vs_ga_percent(self, make_week: WeekBuilder):
        cpu: list[float | None] = [40.0, 42.0, 44.0, 45.0, 46.0, 46.0, 47.0, 46.28]
        # day 7 missing for cost: final is day 6
        cost: list[float | None] = [300.0, 310.0, 320.0, 330.0, 340.0, 350.0, 390.0, None]
        avail: list[float | None] = [None, *[99.95] * 7]  # no GA value: left out
        week = make_week(flat(avg_cpu_percent=cpu, daily_cost_usd=cost, availability=avail))
        fig = charts.drift_chart(week)
        ax = only_axes(fig)
        widths = [p.get_width() for p in ax.containers[0].patches]
        names = [t.get_text() for t in ax.get_yticklabels()]
        got = dict(zip(names, widths, strict=True))
        assert "Availability" not in got
        assert got["Average CPU"] == pytest.approx((46.28 - 40.0) / 40.0 * 100)  # 15.7%
        assert got["Daily cost (day 6)"] == pytest.approx((390.0 - 300.0) / 300.0 * 100)
        assert got["Error rate"] == 0.0
        assert fig.get_label() == "kpi-drift"
        assert "%" in ax.get_xlabel() and "GA" in ax.get_xlabel()

    def test_band_lines_and_legend(self, make_week: WeekBuilder):
        fig = charts.drift_chart(make_week(flat()))
        ax = only_axes(fig)
        positions = sorted(
            float(ln.get_xdata()[0]) for ln in ax.lines if str(ln.get_gid()).startswith("band-")
        )
        assert positions == [-30.0, -15.0, -10.0, 10.0, 15.0, 30.0]
        legend = ax.get_legend() or fig.legends[0]  # below the chart, for the whole figure
        text = " ".join(t.get_text() for t in legend.get_texts())
        assert "±10%" in text and "±15%: investigate" in text and "±30%: regression" in text

    def test_bands_hatched_and_bundled_week_matches_analyzer(self, test_week: ReleaseWeek):
        ax = only_axes(charts.drift_chart(test_week))
        bars_by_name = {
            t.get_text(): p
            for t, p in zip(ax.get_yticklabels(), ax.containers[0].patches, strict=True)
        }
        labels = {k: s.label for k, s in test_week.catalogue.kpis.items()}
        reported = analyze_drifts(test_week)
        assert len(reported) == 3
        for drift in reported:
            bar = bars_by_name[labels[drift.metric_name]]
            assert round(bar.get_width(), 1) == drift.drift_percent
            assert bar.get_hatch() == "//"  # 10-30% band
        assert bars_by_name["Availability"].get_hatch() in (None, "")


# --------------------------------------------------------------------------- cost


class TestCost:
    COST: tuple[float | None, ...] = (280.0, 300.0, 310.0, None, 330.0, 340.0, 350.0, 360.0)

    def test_daily_bars_ga_bar_and_average(self, make_week: WeekBuilder):
        week = make_week(flat(daily_cost_usd=list(self.COST)))
        cost = analyze_cost(week)
        fig = charts.cost_chart(week, cost)
        left, _ = fig.axes
        heights = [p.get_height() for p in bars(left, "Days 1..7").patches]
        expected = [math.nan if v is None else v for v in self.COST[1:]]
        np.testing.assert_allclose(heights, expected, equal_nan=True)
        ga_bar = bars(left, "GA day (day 0)").patches
        assert [p.get_height() for p in ga_bar] == [280.0]
        assert ga_bar[0].get_hatch() and not bars(left, "Days 1..7").patches[0].get_hatch()
        present = [v for v in self.COST[1:] if v is not None]
        assert list(ydata(left, "average")) == pytest.approx(
            [sum(present) / len(present)] * 2, abs=0.005
        )  # the analysis rounds to cents
        assert fig.get_label() == "cost"
        assert sum(present) == 1990.0
        assert "$1,990.00 over 6 day(s)" in fig.get_suptitle()

    def test_breakdown_stacks_to_the_daily_average(self, make_week: WeekBuilder):
        week = make_week(flat(daily_cost_usd=[300.0, *[320.0] * 7]))
        cost = analyze_cost(week)
        _, right = charts.cost_chart(week, cost).axes
        parts = {c.get_label().split(" ")[0]: c.patches[0] for c in right.containers}
        assert list(parts) == ["Compute", "Storage", "Network", "Other"]
        # configured shares 60/20/15/5% of $320
        heights = [p.get_height() for p in parts.values()]
        assert heights == pytest.approx([192.0, 64.0, 48.0, 16.0])
        bottoms = [p.get_y() for p in parts.values()]
        assert bottoms == pytest.approx([0.0, 192.0, 256.0, 304.0])
        assert len({p.get_hatch() for p in parts.values()}) == 4

    def test_source_breakdown_and_dollar_axes(self, make_week: WeekBuilder):
        breakdown = CostBreakdown(compute=100.0, storage=50.0, network=30.0, other=20.0)
        week = make_week(flat(daily_cost_usd=[200.0] * 8), breakdowns=[breakdown] * 8)
        fig = charts.cost_chart(week, analyze_cost(week))
        left, right = fig.axes
        assert [c.patches[0].get_height() for c in right.containers] == [100.0, 50.0, 30.0, 20.0]
        for ax in (left, right):
            assert "USD" in ax.get_ylabel()
            assert ax.yaxis.get_major_formatter()(1234.0, 0) == "$1,234"
        assert left.get_xlabel().startswith("Release-week day")


# --------------------------------------------------------------------------- health


class TestHealth:
    @pytest.fixture
    def reports(self, test_week: ReleaseWeek) -> dict[int, HealthReport]:
        return {
            d: build_health_report(s, test_week.anomalies, test_week.catalogue, GA)
            for d, s in test_week.days.items()
            if d != 5  # day 5's report is missing
        }

    def test_scores_gaps_and_bands(self, reports: dict[int, HealthReport]):
        fig = charts.health_chart(reports, ga_timestamp=GA)
        ax = only_axes(fig)
        expected = [reports[d].health_score if d in reports else math.nan for d in range(1, 8)]
        # independently: the weighted mean of the components as reported
        for d, report in reports.items():
            comps = report.components.values()
            mean = sum(c.weight * c.score for c in comps) / sum(c.weight for c in comps)
            assert expected[d - 1] == pytest.approx(mean, abs=0.05)
        np.testing.assert_allclose(ydata(ax, "score"), expected, equal_nan=True)
        assert math.isnan(ydata(ax, "score")[4])
        assert set(ydata(ax, "healthy-at")) == {80.0}
        assert set(ydata(ax, "degraded-at")) == {60.0}
        assert ax.get_ylim() == (0.0, 105.0)
        assert "0-100" in ax.get_ylabel()
        assert fig.get_label() == "health-score" and "no report: day 5" in ax.get_title()

    def test_status_annotated_and_custom_bands(self, reports: dict[int, HealthReport]):
        ax = only_axes(charts.health_chart(reports, healthy_at=75.0, degraded_at=50.0))
        assert set(ydata(ax, "healthy-at")) == {75.0}
        assert set(ydata(ax, "degraded-at")) == {50.0}
        notes = [t.get_text() for t in ax.texts]
        assert notes.count("critical") == sum(r.status == "critical" for r in reports.values())
        assert notes.count("healthy") == sum(r.status == "healthy" for r in reports.values())
        assert "no report" in notes
        for status in {r.status for r in reports.values()}:
            days = list(line(ax, f"status-{status}").get_xdata())
            assert days == sorted(d for d, r in reports.items() if r.status == status)
        markers = {
            line(ax, f"status-{s}").get_marker() for s in {r.status for r in reports.values()}
        }
        assert len(markers) == len({r.status for r in reports.values()})  # shape, not only colour

    def test_a_day_without_traffic_has_no_score_point(
        self, reports: dict[int, HealthReport]
    ) -> None:
        # day 3 scored 95 on what little was measured, but had no traffic: no_data
        silent = reports[3].model_copy(update={"health_score": 95.0, "status": "no_data"})
        ax = only_axes(charts.health_chart({**reports, 3: silent}, ga_timestamp=GA))
        expected = [math.nan if d in (3, 5) else reports[d].health_score for d in range(1, 8)]
        np.testing.assert_allclose(ydata(ax, "score"), expected, equal_nan=True)
        notes = {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}
        assert notes["no-score:3"] == "no data" and notes["no-score:5"] == "no report"
        texts = [t.get_text() for t in ax.texts]
        assert "no_data" not in texts and 95.0 not in [
            y for ln in ax.lines for y in np.asarray(ln.get_ydata(), dtype=float)
        ]

    def test_health_text_is_words_and_no_score_without_data(
        self, reports: dict[int, HealthReport]
    ) -> None:
        report = reports[1].model_copy(update={"health_score": 92.06, "status": "degraded"})
        assert charts.health_text(report) == "92.1 (degraded)"
        silent = report.model_copy(update={"health_score": 95.0, "status": "no_data"})
        assert charts.health_text(silent) == "– (no data)"
        assert charts.health_status_text("no_data") == "no data"
        assert charts.health_status_text("critical") == "critical"

    def test_no_reports(self):
        fig = charts.health_chart({})
        assert fig.get_label() == "health-score"
        assert any("No daily health report" in t.get_text() for t in fig.axes[0].texts)


# --------------------------------------------------------------------------- incidents


def make_incident(
    ident: str,
    start: datetime,
    end: datetime,
    kpis: list[tuple[str, float, float]],
    *,
    title: str = "Latency spike: P99 latency 900 ms against 300 ms expected",
    burned: dict[str, float] | None = None,
) -> Incident:
    """An incident; ``kpis`` are (kpi, peak, expected)."""
    fields: dict[str, object] = {
        "id": ident,
        "start": start,
        "end": end,
        "title": f"{title}, {start:%H:%M}-{end:%H:%M} UTC",
        "severity": "critical",
        "kpis": [
            IncidentKpi(kpi=k, label=k, unit="ms", peak=p, expected=e, peak_z=9.0)
            for k, p, e in kpis
        ],
        "budget_burned": burned or {},
    }
    if "headline" in Incident.model_fields:  # the one-line title without the time
        fields["headline"] = title
    return Incident.model_validate(fields)


def with_incidents(week: ReleaseWeek, incidents: list[Incident]) -> ReleaseWeek:
    assert week.anomalies is not None
    anomalies = week.anomalies.model_copy(update={"incidents": incidents})
    return dataclasses.replace(week, anomalies=anomalies)


def with_series(week: ReleaseWeek, kpi: str, series: dict[int, list[float | None]]) -> ReleaseWeek:
    """The week with ``kpi``'s 5-minute series set on the given days (0 = GA day)."""
    days = dict(week.days)
    ga = week.ga
    for day, values in series.items():
        summary = ga if day == 0 else days[day]
        entry = summary.kpis[kpi]
        kpis = {**summary.kpis, kpi: KpiValue(value=entry.value, unit=entry.unit, series_5m=values)}
        if day == 0:
            ga = ga.model_copy(update={"kpis": kpis})
        else:
            days[day] = days[day].model_copy(update={"kpis": kpis})
    return dataclasses.replace(week, ga=ga, days=days)


def patch(ax: Axes, gid: str) -> Rectangle:
    found = [p for p in ax.patches if p.get_gid() == gid]
    assert len(found) == 1, [p.get_gid() for p in ax.patches]
    assert isinstance(found[0], Rectangle)
    return found[0]


def x_extent(rect: Rectangle) -> tuple[float, float]:
    return rect.get_x(), rect.get_x() + rect.get_width()


STEP = timedelta(minutes=5)


class TestIncidentChart:
    """The intraday chart: 5-minute points from the day summaries around the incident."""

    START = GA + 2 * DAY + timedelta(hours=10)
    END = START + timedelta(hours=2)

    def week(self, make_week: WeekBuilder) -> ReleaseWeek:
        # day 2 at 300 ms, 900 ms while the incident lasts, one point missing (None)
        day2: list[float | None] = []
        for i in range(288):
            moment = GA + 2 * DAY + STEP * (i + 1)
            day2.append(900.0 + i % 3 if self.START < moment <= self.END else 300.0 + i % 5)
        day2[100] = None
        week = make_week(flat(), events=[event("p99_latency_ms", 2, 9.0)])
        week = with_series(week, "p99_latency_ms", {2: day2})
        incident = make_incident("inc-2", self.START, self.END, [("p99_latency_ms", 902.0, 300.0)])
        return with_incidents(week, [incident])

    def test_series_are_the_day_summary_points_around_the_incident(self, make_week: WeekBuilder):
        week = self.week(make_week)
        fig = charts.incident_chart(week, week.incidents[0], margin_hours=3.0)
        ax = only_axes(fig)
        assert fig.get_label() == "incident:inc-2"
        series = week.days[2].kpis["p99_latency_ms"].series_5m
        assert series is not None
        lo, hi = self.START - timedelta(hours=3), self.END + timedelta(hours=3)
        expected = [
            (GA + 2 * DAY + STEP * (i + 1), math.nan if v is None else v)
            for i, v in enumerate(series)
            if lo <= GA + 2 * DAY + STEP * (i + 1) <= hi
        ]
        assert len(expected) == 8 * 12 + 1  # 8 hours of 5-minute points, both ends included
        shown = line(ax, "series")
        assert list(shown.get_xdata()) == [t for t, _ in expected]
        np.testing.assert_allclose(
            np.asarray(shown.get_ydata(), dtype=float), [v for _, v in expected], equal_nan=True
        )
        first = round((lo - (GA + 2 * DAY)) / STEP) - 1  # point i ends at (i + 1) steps
        assert math.isnan(np.asarray(shown.get_ydata(), dtype=float)[100 - first])

    def test_baseline_span_and_peak(self, make_week: WeekBuilder):
        week = self.week(make_week)
        ax = only_axes(charts.incident_chart(week, week.incidents[0]))
        assert set(ydata(ax, "expected")) == {300.0}
        assert line(ax, "expected").get_linestyle() == "--"
        left, right = x_extent(patch(ax, "incident-span"))
        assert left == pytest.approx(mdates.date2num(self.START))
        assert right == pytest.approx(mdates.date2num(self.END))
        assert patch(ax, "incident-span").get_hatch()  # visible in grey too
        peak = line(ax, "peak")
        assert list(peak.get_ydata()) == [902.0]  # 900 + i % 3, largest deviation
        assert "UTC" in ax.get_xlabel() and "2025-11-20" in ax.get_xlabel()
        assert ax.xaxis.get_major_formatter()(mdates.date2num(self.START)) == "10:00"
        assert "Day 2, 10:00-12:00 UTC: Latency spike" in ax.figure.get_suptitle()

    def test_one_panel_per_kpi_and_a_gap_for_a_missing_day(self, make_week: WeekBuilder):
        start = GA + 4 * DAY + timedelta(hours=23)  # 23:00 on day 4 to 01:00 on day 5
        end = start + timedelta(hours=2)
        week = make_week(flat(), events=[], days=[1, 2, 3, 4, 6, 7])  # day 5 missing
        week = with_series(week, "p99_latency_ms", {4: [300.0] * 288})
        week = with_series(week, "error_rate", {4: [0.05] * 288})
        incident = make_incident(
            "inc-4",
            start,
            end,
            [("p99_latency_ms", 900.0, 300.0), ("error_rate", 2.0, 0.05)],
        )
        fig = charts.incident_chart(with_incidents(week, [incident]), incident)
        top, bottom = fig.axes
        assert top.get_label() == "incident-kpi:p99_latency_ms"
        assert bottom.get_label() == "incident-kpi:error_rate"
        y = np.asarray(line(top, "series").get_ydata(), dtype=float)
        x = list(line(top, "series").get_xdata())
        assert x[0] == start - timedelta(hours=3)
        assert x[-2] == GA + 5 * DAY  # the last point of day 4 ends at midnight
        assert math.isnan(y[-1])  # then a gap: day 5 was never collected
        assert set(ydata(bottom, "expected")) == {0.05}
        # the missing day is marked from its midnight to the end of the window
        left, right = x_extent(patch(top, "no-data-span"))
        second = 1 / 86400  # in Matplotlib's date numbers (days)
        assert left == pytest.approx(mdates.date2num(GA + 5 * DAY), abs=second)
        assert right == pytest.approx(mdates.date2num(end + timedelta(hours=3)), abs=second)

    def test_a_backend_gap_is_left_open_and_marked_no_data(self, make_week: WeekBuilder) -> None:
        # day 4: no value from 09:00 to 12:00 (the points ending 09:05 .. 12:00), an
        # incident 12:00-16:00 right after it; one lone missing point at 17:00
        day4: list[float | None] = []
        for i in range(288):
            moment = GA + 4 * DAY + STEP * (i + 1)
            gap = GA + 4 * DAY + timedelta(hours=9) < moment <= GA + 4 * DAY + timedelta(hours=12)
            day4.append(None if gap else 50.0 + i % 4)
        day4[12 * 17 - 1] = None  # the 5 minutes ending 17:00
        start, end = GA + 4 * DAY + timedelta(hours=12), GA + 4 * DAY + timedelta(hours=16)
        week = with_series(make_week(flat(), events=[]), "avg_cpu_percent", {4: day4})
        incident = make_incident("inc-cpu", start, end, [("avg_cpu_percent", 53.0, 48.0)])
        fig = charts.incident_chart(with_incidents(week, [incident]), incident)
        ax = only_axes(fig)
        x = list(line(ax, "series").get_xdata())
        y = np.asarray(line(ax, "series").get_ydata(), dtype=float)
        shown = dict(zip(x, y, strict=True))
        hour = timedelta(hours=1)
        missing = [t for t in x if start - 3 * hour < t <= start]
        assert len(missing) == 36 and all(math.isnan(shown[t]) for t in missing)
        assert not math.isnan(shown[start - 3 * hour]) and not math.isnan(shown[start + STEP])
        spans = sorted(
            (x_extent(p) for p in ax.patches if p.get_gid() == "no-data-span"),
            key=lambda e: e[0],
        )
        minute = 1 / 24 / 60  # in Matplotlib's date numbers (days)
        assert spans == [
            pytest.approx(
                (mdates.date2num(start - 3 * hour), mdates.date2num(start)), abs=minute / 60
            ),
            pytest.approx(
                (mdates.date2num(start + 5 * hour - STEP), mdates.date2num(start + 5 * hour)),
                abs=minute / 60,
            ),
        ]
        labels = [t for t in ax.texts if t.get_gid() == "no-data-text"]
        assert [t.get_text() for t in labels] == ["no data"]  # the 5 minutes are too narrow
        assert labels[0].get_position()[0] == start - 1.5 * hour  # the middle of the gap
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "No data (the backend gave no value)" in legend
        # a day without gaps has no such span nor legend entry
        full = with_series(make_week(flat(), events=[]), "avg_cpu_percent", {4: [50.0] * 288})
        fig = charts.incident_chart(with_incidents(full, [incident]), incident)
        assert [p for p in only_axes(fig).patches if p.get_gid() == "no-data-span"] == []
        assert not any("No data" in t.get_text() for t in fig.legends[0].get_texts())

    def test_no_data_spans(self) -> None:
        t0 = GA + DAY
        times = [t0 + STEP * (i + 1) for i in range(6)]
        nan = math.nan
        assert charts.no_data_spans(times, [1.0] * 6) == []
        assert charts.no_data_spans(times, [1.0, nan, nan, 1.0, 1.0, nan]) == [
            (t0 + STEP, t0 + 3 * STEP),
            (t0 + 5 * STEP, t0 + 6 * STEP),
        ]
        # a trailing run reaches the window's end; points absent at the start count too
        assert charts.no_data_spans(times[2:], [1.0, 1.0, 1.0, nan], t0, t0 + DAY) == [
            (t0, t0 + 2 * STEP),
            (t0 + 5 * STEP, t0 + DAY),
        ]
        # a single filler NaN for a missing day spans to the next point's start
        jump = [t0 + STEP, t0 + 2 * STEP, t0 + DAY + STEP]
        assert charts.no_data_spans(jump, [1.0, nan, 1.0]) == [(t0 + STEP, t0 + DAY)]


class TestIncidentsMarked:
    def test_burn_down_shades_incidents_that_spent_the_slo(self, make_week: WeekBuilder):
        slos = {
            "availability": [slo_day("availability", 0.0005)] * 8,
            "p99_latency": [slo_day("p99_latency_ms", 0.001, target=99.0)] * 8,
        }
        week = make_week(flat(), slos=slos)
        spike = make_incident(
            "inc-p99",
            GA + 2 * DAY + timedelta(hours=14),
            GA + 2 * DAY + timedelta(hours=16),
            [("p99_latency_ms", 900.0, 300.0)],
            burned={week.catalogue.slo_name("p99_latency"): 34.7},
        )
        burns = {b.key: b for b in analyze_slos(week)}
        fig = charts.burn_down_grid(list(burns.values()), ga_timestamp=GA, incidents=[spike])
        by_key = {ax.get_label(): ax for ax in fig.axes}
        p99 = by_key["slo-burn-down:p99_latency"]
        assert x_extent(patch(p99, "incident:inc-p99")) == pytest.approx((2 - 0.42, 2 + 0.42))
        labels = [t.get_text() for t in p99.texts if t.get_gid() == "incident-label:inc-p99"]
        assert labels == ["Latency spike"]
        assert not [p for p in by_key["slo-burn-down:availability"].patches if p.get_gid()]
        single = only_axes(
            charts.burn_down_chart(burns["p99_latency"], ga_timestamp=GA, incidents=[spike])
        )
        assert patch(single, "incident:inc-p99")
        legend = single.get_legend()
        assert legend is not None and "Incident (day shaded)" in [
            t.get_text() for t in legend.get_texts()
        ]
        with pytest.raises(ValueError, match="ga_timestamp"):
            charts.burn_down_chart(burns["p99_latency"], incidents=[spike])

    def test_trend_marks_the_weeks_incidents_of_its_kpi(self, make_week: WeekBuilder):
        week = make_week(flat(), events=[])
        across = make_incident(  # 22:00 on day 3 to 02:00 on day 4: both days shaded
            "inc-x",
            GA + 3 * DAY + timedelta(hours=22),
            GA + 4 * DAY + timedelta(hours=2),
            [("error_rate", 2.0, 0.05)],
            title="Error burst: Error rate 2% against 0.05% expected",
        )
        week = with_incidents(week, [across])
        ax = only_axes(charts.kpi_trend_chart(week, "error_rate"))
        assert x_extent(patch(ax, "incident:inc-x")) == pytest.approx((3 - 0.42, 4 + 0.42))
        assert [t.get_text() for t in ax.texts] == ["Error burst"]
        other = only_axes(charts.kpi_trend_chart(week, "p99_latency_ms"))
        assert not [p for p in other.patches if str(p.get_gid()).startswith("incident:")]
        none = only_axes(charts.kpi_trend_chart(week, "error_rate", incidents=()))
        assert not [p for p in none.patches if str(p.get_gid()).startswith("incident:")]

    def test_incident_label_is_the_title_up_to_the_colon(self):
        spike = make_incident("inc", GA, GA + timedelta(hours=1), [("p99_latency_ms", 1, 0)])
        assert charts.incident_label(spike) == "Latency spike"


# --------------------------------------------------------------------------- heat map


def _heat_map_type() -> type:
    """The retro module's HeatMap, or a stand-in with the same fields if it is not there."""
    try:
        from tars_lib.retro.timeline import HeatMap

        return HeatMap
    except ImportError:  # pragma: no cover - until tars_lib.retro.timeline lands

        @dataclasses.dataclass(frozen=True)
        class StandIn:
            kpis: list[str]
            labels: list[str]
            days: list[int]
            status: list[list[str]]
            health: dict[int, float]

        return StandIn


class TestHeatMap:
    STATUS: ClassVar[list[list[str]]] = [
        ["ok", "ok", "incident", "ok", "breach", "ok", "ok", "ok"],
        ["no_data", "ok", "ok", "explained", "drift", "drift", "drift", "ok"],
    ]

    def heat(self) -> object:
        return _heat_map_type()(
            kpis=["p99_latency_ms", "daily_cost_usd"],
            labels=["P99 latency", "Daily cost"],
            days=list(range(8)),
            status=self.STATUS,
            health={1: 95.0, 2: 29.9, 4: 49.6, 7: 86.0},
        )

    def test_every_cell_drawn_with_its_status_style(self):
        fig = charts.heat_map_chart(self.heat(), ga_timestamp=GA)  # type: ignore[arg-type]
        ax = only_axes(fig)
        assert fig.get_label() == "heat-map"
        for kpi, row in zip(["p99_latency_ms", "daily_cost_usd"], self.STATUS, strict=True):
            for day, status in enumerate(row):
                cell = patch(ax, f"cell:{kpi}:{day}")
                fill, hatch, _ = charts.HEAT_STATUSES[status]
                assert cell.get_label() == status
                assert cell.get_facecolor() == pytest.approx(to_rgba(fill))
                assert (cell.get_hatch() or "") == hatch
        hatches = {charts.HEAT_STATUSES[s][1] for s in ("incident", "breach", "drift", "explained")}
        assert len(hatches) == 4  # the adverse statuses differ without colour

    def test_health_row_and_labels(self):
        fig = charts.heat_map_chart(self.heat(), ga_timestamp=GA)  # type: ignore[arg-type]
        ax = only_axes(fig)
        texts = {t.get_gid(): t.get_text() for t in ax.texts}
        assert texts["health-text:2"] == "30" and texts["health-text:7"] == "86"
        assert texts["health-text:0"] == "–" and texts["health-text:3"] == "–"
        assert [t.get_text() for t in ax.get_yticklabels()] == [
            "Health score",
            "P99 latency",
            "Daily cost",
        ]
        assert [t.get_text() for t in ax.get_xticklabels()][2] == "Day 2\n11-20"
        legend = fig.legends[0]
        shown = [t.get_text() for t in legend.get_texts()]
        assert shown[0] == "Incident" and "OK" in shown and "No data" in shown
        assert len(shown) == 6

    def test_partial_cells_and_no_data_day(self) -> None:
        from tars_lib.retro.timeline import STATUS_ORDER

        assert tuple(charts.HEAT_STATUSES) == STATUS_ORDER  # legend order is worst first
        fill, hatch, text = charts.HEAT_STATUSES["partial"]
        assert text == "Partial data (coverage < 90%)"
        others = {s: v for s, v in charts.HEAT_STATUSES.items() if s != "partial"}
        assert hatch and hatch not in {h for _, h, _ in others.values()}
        assert fill not in {f for f, _, _ in others.values()}
        heat = _heat_map_type()(
            kpis=["a", "b"],
            labels=["A", "B"],
            days=[0, 1, 2, 3, 4],
            status=[
                ["ok", "ok", "no_data", "partial", "incident"],
                ["ok", "drift", "no_data", "partial", "partial"],
            ],
            health={1: 88.0, 3: 92.1, 4: 40.0},
            no_data=frozenset({2}),
        )
        fig = charts.heat_map_chart(heat)
        ax = only_axes(fig)
        for kpi, day in (("a", 3), ("b", 3), ("b", 4)):
            cell = patch(ax, f"cell:{kpi}:{day}")
            assert cell.get_label() == "partial"
            assert cell.get_facecolor() == pytest.approx(to_rgba(fill))
            assert cell.get_hatch() == hatch
        assert patch(ax, "cell:a:4").get_label() == "incident"
        texts = {t.get_gid(): t.get_text() for t in ax.texts}
        assert texts["health-text:2"] == "no data"  # no traffic: never a score
        assert texts["health-text:3"] == "92"  # partial, but had traffic: its score
        assert texts["health-text:0"] == "–"  # no report
        shown = [t.get_text() for t in fig.legends[0].get_texts()]
        assert shown == [
            "Incident",
            charts.HEAT_STATUSES["drift"][2],
            "Partial data (coverage < 90%)",
            "OK",
            "No data",
        ]
        # a score given for a no-data day is still not drawn
        scored = dataclasses.replace(heat, health={2: 95.0})
        ax = only_axes(charts.heat_map_chart(scored))
        texts = {t.get_gid(): t.get_text() for t in ax.texts}
        assert texts["health-text:2"] == "no data" and "95" not in texts.values()

    def test_legend_lists_only_statuses_used(self):
        heat = _heat_map_type()(
            kpis=["a"], labels=["A"], days=[0, 1], status=[["ok", "drift"]], health={}
        )
        fig = charts.heat_map_chart(heat)  # type: ignore[arg-type]
        assert [t.get_text() for t in fig.legends[0].get_texts()] == [
            charts.HEAT_STATUSES["drift"][2],
            "OK",
        ]


# --------------------------------------------------------------------------- print size


def all_charts(week: ReleaseWeek) -> dict[str, Figure]:
    burns = analyze_slos(week)
    reports = {
        d: build_health_report(s, week.anomalies, week.catalogue, GA) for d, s in week.days.items()
    }
    spike = make_incident(
        "inc-1",
        GA + 2 * DAY + timedelta(hours=14),
        GA + 2 * DAY + timedelta(hours=16, minutes=30),
        [("p99_latency_ms", 950.0, 400.0), ("p95_latency_ms", 490.0, 220.0)],
        burned={burns[0].json.slo_name: 10.0},
    )
    week = with_incidents(week, [spike])
    heat = _heat_map_type()(
        kpis=list(week.catalogue.kpis),
        labels=[s.label for s in week.catalogue.kpis.values()],
        days=list(range(8)),
        status=[["ok", "drift", "incident", "breach", "explained", "no_data", "partial", "ok"]]
        * len(week.catalogue.kpis),
        health={d: r.health_score for d, r in reports.items()},
    )
    return {
        "burn": charts.burn_down_chart(burns[0], ga_timestamp=GA, incidents=[spike]),
        "grid": charts.burn_down_grid(burns, ga_timestamp=GA, incidents=[spike]),
        "trend": charts.kpi_trend_chart(week, "p99_latency_ms"),
        "drift": charts.drift_chart(week),
        "cost": charts.cost_chart(week, analyze_cost(week)),
        "health": charts.health_chart(reports, ga_timestamp=GA),
        "heat": charts.heat_map_chart(heat, ga_timestamp=GA),  # type: ignore[arg-type]
        "incident": charts.incident_chart(week, spike),
    }


def test_every_chart_prints_at_8_pt_or_more(test_week: ReleaseWeek) -> None:
    """At most the PDF's text width wide (placed at scale 1), so point sizes are print
    sizes; and no text runs off the figure."""
    for name, fig in all_charts(test_week).items():
        assert fig.get_size_inches()[0] <= charts.PRINT_WIDTH, name
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # tick labels exist once drawn
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        small = [(t.get_text(), t.get_fontsize()) for t in texts]
        assert [s for s in small if s[1] < charts.MIN_FONT_PT] == [], name
        box = fig.bbox
        renderer = canvas.get_renderer()
        drawn = [ax.get_tightbbox(renderer) for ax in fig.axes]  # ticks, labels, titles, texts
        drawn += [legend.get_window_extent(renderer) for legend in fig.legends]
        drawn += [fig.get_suptitle() and fig._suptitle.get_window_extent(renderer)]  # type: ignore[union-attr]
        outside = [
            e
            for e in drawn
            if e
            and (e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1)
        ]
        assert outside == [], name


# --------------------------------------------------------------------------- save_png


class TestSavePng:
    def test_every_chart_writes_a_real_png(self, test_week: ReleaseWeek, tmp_path: Path) -> None:
        burns = analyze_slos(test_week)
        reports = {
            d: build_health_report(s, test_week.anomalies, test_week.catalogue, GA)
            for d, s in test_week.days.items()
        }
        figures = {
            "burn": charts.burn_down_chart(burns[0]),
            "grid": charts.burn_down_grid(burns),
            "trend": charts.kpi_trend_chart(test_week, "p99_latency_ms"),
            "drift": charts.drift_chart(test_week),
            "cost": charts.cost_chart(test_week, analyze_cost(test_week)),
            "health": charts.health_chart(reports),
        }
        for name, fig in figures.items():
            path = tmp_path / "out" / f"{name}.png"
            charts.save_png(fig, path)
            png_ok(path)
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
            f"{n}.png" for n in figures
        )  # no temporary files left behind

    def test_dpi_sets_pixel_size_and_leaves_figure_alone(
        self, test_week: ReleaseWeek, tmp_path: Path
    ) -> None:
        fig = charts.kpi_trend_chart(test_week, "error_rate")
        before = fig.get_dpi()
        width, height = fig.get_size_inches()
        charts.save_png(fig, tmp_path / "a.png", dpi=50)
        pixels = imread(tmp_path / "a.png")
        assert pixels.shape[:2] == (round(height * 50), round(width * 50))
        assert fig.get_dpi() == before
