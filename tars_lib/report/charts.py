"""Charts of the release week for the notebooks, the HTML report and the PDF.

Every chart is a pure function of analyzer results returning a
``matplotlib.figure.Figure`` made directly (not through pyplot), so nothing
global is touched, no GUI backend is needed and figures can be built in worker
threads. The report is printed and forwarded, so every chart must survive
grayscale: series differ by line style, marker or hatch as well as colour.
Missing days are NaN gaps, never zeros: a chart must not invent a value the
monitor did not record.

Charts are drawn at print size: no figure is wider than ``PRINT_WIDTH`` (the
PDF's text width), so the PDF places them at scale 1 and every text prints at
its own size, never below ``MIN_FONT_PT``.

Each figure carries a stable identifier in ``fig.get_label()`` (for example
``"slo-burn-down:availability"``) so tests and the report can find it; the
lines and bars that carry data have a ``gid`` naming what they show.
"""

from __future__ import annotations

import functools
import math
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory

from tars_lib.core.formatting import format_value, short_value
from tars_lib.core.models import WEEK_DAYS, CostAnalysis, HealthReport, Incident
from tars_lib.core.policy import DRIFT_BAND, INVESTIGATE_ABOVE, MIN_COVERAGE
from tars_lib.core.week import ReleaseWeek
from tars_lib.retro.cost import COST_KPI
from tars_lib.retro.drift import drift_percent
from tars_lib.retro.slo import BurnDown

if TYPE_CHECKING:
    from tars_lib.retro.timeline import HeatMap

__all__ = [
    "ADVERSE_SEVERITIES",
    "DRIFT_LINES",
    "HEAT_STATUSES",
    "MIN_FONT_PT",
    "PRINT_WIDTH",
    "SERIES_STEP",
    "anomaly_days",
    "burn_down_chart",
    "burn_down_grid",
    "cost_chart",
    "day_tick_labels",
    "drift_chart",
    "drift_values",
    "health_chart",
    "health_status_text",
    "health_text",
    "heat_map_chart",
    "incident_chart",
    "incident_label",
    "incident_series",
    "kpi_trend_chart",
    "literal_text",
    "no_data_spans",
    "save_png",
]

ADVERSE_SEVERITIES = ("high", "critical")
"""Anomaly severities that mark a day on a KPI trend (as they flag a degradation)."""

DRIFT_LINES = (DRIFT_BAND[0], INVESTIGATE_ABOVE, DRIFT_BAND[1])
"""|drift| thresholds drawn on the drift chart: drift, investigate, regression territory."""

PRINT_WIDTH = 6.5
"""Inches: the PDF's text width. No chart is wider, so none is shrunk when printed."""

MIN_FONT_PT = 8.0
"""The smallest text on any chart, in points at print size."""

SERIES_STEP = timedelta(minutes=5)
"""A day summary's ``series_5m[i]`` is the 5 minutes ending at window start + (i + 1) steps."""

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; every
# series also gets its own line style, marker or hatch for grayscale prints.
_BLUE = "#0072B2"
_ORANGE = "#E69F00"
_VERMILION = "#D55E00"
_GREEN = "#009E73"
_PURPLE = "#CC79A7"
_SKY = "#56B4E9"
_YELLOW = "#F5EC9A"
_GREY = "#555555"
_LIGHT = "#BBBBBB"
_INCIDENT_FILL = "#E4E4E4"

_WEEK = list(range(WEEK_DAYS + 1))
_DAYS = np.arange(0, WEEK_DAYS + 1)
_DAY_AXIS = "Release-week day (UTC date; GA day = day 0)"
_DAY_AXIS_NO_DATE = "Release-week day (GA day = day 0)"
_FONT = MIN_FONT_PT
"""Legends, annotations and compact tick labels use the smallest allowed size."""


# --------------------------------------------------------------------------- shared helpers


def day_tick_labels(days: Sequence[int], ga_timestamp: datetime | None) -> list[str]:
    """``"Day 2\\n11-20"``: the day number and its UTC date, so no one counts from GA."""
    if ga_timestamp is None:
        return [f"Day {d}" for d in days]
    return [f"Day {d}\n{ga_timestamp + timedelta(days=d):%m-%d}" for d in days]


def _day_axis(
    ax: Axes, days: Sequence[int], ga_timestamp: datetime | None, *, compact: bool = False
) -> None:
    """Days on the x axis; ``compact`` (narrow panels): the number alone, the date in the label."""
    if compact:
        ax.set_xticks(list(days), [str(d) for d in days], fontsize=_FONT)
        ax.set_xlim(days[0] - 0.5, days[-1] + 0.5)
        start = "" if ga_timestamp is None else f" (0 = GA day, {ga_timestamp:%m-%d} UTC)"
        ax.set_xlabel(f"Release-week day{start}", fontsize=_FONT)
        return
    ax.set_xticks(list(days), day_tick_labels(days, ga_timestamp), fontsize=_FONT + 0.5)
    ax.set_xlim(days[0] - 0.5, days[-1] + 0.5)
    ax.set_xlabel(_DAY_AXIS if ga_timestamp is not None else _DAY_AXIS_NO_DATE)


def literal_text(fig: Figure) -> Figure:
    """Every text of ``fig`` drawn as written, never parsed as mathtext.

    Labels come from the catalogue and the data (``$\\nope$``, ``50$ / 5$``): with
    mathtext on, a pair of ``$`` makes matplotlib parse the text between as TeX
    and raise on what it cannot parse. Set per text, not in ``rcParams``, so no
    global state changes (charts are built in worker threads).
    """
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    return fig


_P = ParamSpec("_P")


def _literal(chart: Callable[_P, Figure]) -> Callable[_P, Figure]:
    """A chart function whose figure's texts are all literal (``literal_text``)."""

    @functools.wraps(chart)
    def draw(*args: _P.args, **kwargs: _P.kwargs) -> Figure:
        return literal_text(chart(*args, **kwargs))

    return draw


def _new_figure(width: float, height: float, label: str) -> Figure:
    fig = Figure(figsize=(min(width, PRINT_WIDTH), height), layout="constrained")
    fig.set_label(label)
    return fig


def _unit_text(unit: str) -> str:
    return f" ({unit})" if unit else ""


def _usd(value: float, _pos: object = None) -> str:
    return f"${value:,.0f}"


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _no_data(fig: Figure, text: str) -> Figure:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=12)
    return fig


# --------------------------------------------------------------------------- incidents


def incident_label(incident: Incident) -> str:
    """The incident's short name for a chart: its title up to the first colon."""
    short = incident.title.split(":", 1)[0].strip()
    return short or incident.id


def _day_number(moment: datetime, ga_timestamp: datetime) -> int:
    return math.floor((moment - ga_timestamp) / timedelta(days=1))


def _incident_days(incident: Incident, ga_timestamp: datetime) -> tuple[int, int] | None:
    """First and last release-week day the incident touches (its end is exclusive)."""
    first = _day_number(incident.start, ga_timestamp)
    last = _day_number(incident.end - timedelta(microseconds=1), ga_timestamp)
    if last < 0 or first > WEEK_DAYS:
        return None
    return max(first, 0), min(max(last, first), WEEK_DAYS)


def _mark_incidents(
    ax: Axes, incidents: Sequence[Incident], ga_timestamp: datetime | None
) -> list[Incident]:
    """Shade each incident's day(s) and name it; returns the incidents drawn."""
    if not incidents:
        return []
    if ga_timestamp is None:
        raise ValueError("marking incidents on a day axis needs ga_timestamp")
    drawn: list[Incident] = []
    text_at = blended_transform_factory(ax.transData, ax.transAxes)
    for incident in incidents:
        days = _incident_days(incident, ga_timestamp)
        if days is None:
            continue
        first, last = days
        ax.axvspan(
            first - 0.42,
            last + 0.42,
            facecolor=_INCIDENT_FILL,
            edgecolor=_GREY,
            hatchcolor=_LIGHT,
            hatch="\\\\",
            linewidth=0.0,
            zorder=0,
            gid=f"incident:{incident.id}",
        )
        ax.text(
            first - 0.36,
            0.97,
            incident_label(incident),
            transform=text_at,
            rotation=90,
            ha="left",
            va="top",
            fontsize=_FONT,
            color="black",
            gid=f"incident-label:{incident.id}",
        )
        drawn.append(incident)
    return drawn


def _incident_handle() -> Patch:
    return Patch(
        facecolor=_INCIDENT_FILL, edgecolor=_LIGHT, hatch="\\\\", label="Incident (day shaded)"
    )


# --------------------------------------------------------------------------- SLO burn-down


def _burn_values(burn: BurnDown) -> np.ndarray:
    """Cumulative budget consumed for days 0..7, NaN on days without a measurement.

    Day 0 is the start of the count (always 0%: the week's consumption sums days
    1..7), so it is kept even when the GA day itself had no measurement.
    """
    values = np.full(WEEK_DAYS + 1, math.nan)
    for entry in burn.json.compliance_by_day:
        if entry.day == 0 or entry.value is not None:
            values[entry.day] = entry.budget_consumed
    return values


def _slo_incidents(burn: BurnDown, incidents: Sequence[Incident]) -> list[Incident]:
    """The incidents that spent this SLO's budget or moved its KPI."""
    return [
        i
        for i in incidents
        if burn.json.slo_name in i.budget_burned or any(k.kpi == burn.kpi for k in i.kpis)
    ]


def _draw_burn_down(
    ax: Axes,
    burn: BurnDown,
    ga_timestamp: datetime | None,
    incidents: Sequence[Incident] = (),
    *,
    compact: bool = False,
) -> list[Incident]:
    consumed = _burn_values(burn)
    pace = 100.0 * _DAYS / burn.period_days
    ax.plot(
        _DAYS,
        consumed,
        color=_VERMILION,
        linestyle="-",
        marker="o",
        linewidth=2,
        label="Budget consumed (cumulative)",
        gid="consumed",
    )
    ax.plot(
        _DAYS,
        pace,
        color=_BLUE,
        linestyle="--",
        label=f"Linear pace (100% over {burn.period_days} days)",
        gid="pace",
    )
    ax.axhline(
        100.0,
        color=_GREY,
        linestyle=":",
        linewidth=1.5,
        label="Budget exhausted (100%)",
        gid="exhausted",
    )
    drawn = _mark_incidents(ax, _slo_incidents(burn, incidents), ga_timestamp)
    top = max(105.0, float(np.nanmax(consumed, initial=0.0)) * 1.1)
    ax.set_ylim(0.0, top)
    _day_axis(ax, _WEEK, ga_timestamp, compact=compact)
    missing = [e.day for e in burn.json.compliance_by_day if e.day > 0 and e.value is None]
    missing_text = f"; no data day {', '.join(map(str, missing))}" if missing else ""
    if compact:
        ax.set_ylabel(f"Budget used (% of {burn.period_days} days)", fontsize=_FONT)
        ax.tick_params(axis="y", labelsize=_FONT)
        ax.set_title(
            f"{burn.json.slo_name} (target {burn.json.target:g}%)\n{burn.status}: "
            f"{burn.json.budget_consumed_percent:g}% used{missing_text}",
            fontsize=9,
        )
    else:
        ax.set_ylabel(f"Error budget consumed (% of {burn.period_days}-day budget)")
        ax.set_title(
            f"{burn.json.slo_name} (target {burn.json.target:g}%): {burn.status}, "
            f"{burn.json.budget_consumed_percent:g}% of budget used{missing_text}",
            fontsize=10,
        )
        handles, _ = ax.get_legend_handles_labels()
        if drawn:
            handles.append(_incident_handle())
        ax.legend(handles=handles, loc="upper left", fontsize=_FONT)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_label(f"slo-burn-down:{burn.key}")
    return drawn


@_literal
def burn_down_chart(
    burn: BurnDown,
    *,
    ga_timestamp: datetime | None = None,
    incidents: Sequence[Incident] = (),
) -> Figure:
    """One SLO's cumulative error-budget use against the linear pace and exhaustion.

    Above the pace line the budget runs out before the period ends; the gap to
    the 100% line is what is left. Pass ``ga_timestamp`` for UTC dates on the
    day axis, and ``incidents`` (with ``ga_timestamp``) to shade the days of the
    incidents that spent this SLO's budget.
    """
    fig = _new_figure(PRINT_WIDTH, 3.6, f"slo-burn-down:{burn.key}")
    _draw_burn_down(fig.add_subplot(), burn, ga_timestamp, incidents)
    return fig


@_literal
def burn_down_grid(
    burns: Sequence[BurnDown],
    *,
    ga_timestamp: datetime | None = None,
    incidents: Sequence[Incident] = (),
) -> Figure:
    """Every SLO's burn-down in one figure, two per row, for the report's SLO section.

    One legend serves all panels (in the free panel when there is one);
    ``incidents`` are shaded on the panels of the SLOs whose budget they spent.
    """
    if not burns:
        fig = _new_figure(PRINT_WIDTH, 2.2, "slo-burn-down")
        fig.suptitle("SLO error-budget burn-down")
        return _no_data(fig, "No SLO was measured in this release week.")
    cols = min(2, len(burns))
    rows = math.ceil(len(burns) / cols)
    fig = _new_figure(PRINT_WIDTH, 2.75 * rows + 0.5, "slo-burn-down")
    axes = fig.subplots(rows, cols, squeeze=False)
    marked = False
    for ax, burn in zip(axes.flat, burns, strict=False):
        marked |= bool(_draw_burn_down(ax, burn, ga_timestamp, incidents, compact=True))
    handles, _ = axes.flat[0].get_legend_handles_labels()
    if marked:
        handles.append(_incident_handle())
    spare = list(axes.flat)[len(burns) :]
    for ax in spare:
        ax.remove()
    if spare:  # the legend goes in the free panel (the last of the bottom row)
        fig.legend(
            handles=handles,
            loc="center",
            bbox_to_anchor=(1.0 - 0.5 / cols, 0.5 / rows),
            fontsize=_FONT,
            frameon=False,
        )
    else:
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=_FONT)
    fig.suptitle("SLO error-budget burn-down over the release week", fontsize=11)
    return fig


# --------------------------------------------------------------------------- KPI trend


def anomaly_days(week: ReleaseWeek, kpi: str) -> list[int]:
    """Days 0..7 touched by an adverse high or critical anomaly event of ``kpi``."""
    if week.anomalies is None:
        return []
    days: set[int] = set()
    for event in week.anomalies.events:
        if (
            event.metric_name != kpi
            or event.impact != "adverse"
            or event.severity not in ADVERSE_SEVERITIES
        ):
            continue
        first = max(week.day_of(event.start), 0)
        last = min(week.day_of(event.end), WEEK_DAYS)
        days.update(range(first, last + 1))
    return sorted(days)


@_literal
def kpi_trend_chart(
    week: ReleaseWeek, kpi: str, *, incidents: Sequence[Incident] | None = None
) -> Figure:
    """A KPI's daily value against its GA-day baseline and target, anomalies and incidents marked.

    Shows whether a change is a one-day incident (spike back to baseline) or a
    lasting shift, and which days the anomaly detector called adverse. The days
    of the incidents that moved the KPI are shaded and named; ``incidents``
    defaults to the week's (pass ``()`` for none).
    """
    spec = week.catalogue.kpis.get(kpi)
    entry = week.ga.kpis.get(kpi)
    unit = spec.unit if spec else (entry.unit if entry else "")
    label = spec.label if spec else kpi
    fig = _new_figure(PRINT_WIDTH, 3.3, f"kpi-trend:{kpi}")
    ax = fig.add_subplot()
    values = np.array([_nan(week.value(kpi, d)) for d in _WEEK])
    ax.plot(
        _DAYS,
        values,
        color=_BLUE,
        linestyle="-",
        marker="o",
        linewidth=2,
        label="Daily value",
        gid="daily",
    )
    baseline = week.value(kpi, 0)
    if baseline is not None:
        ax.axhline(
            baseline,
            color=_GREY,
            linestyle="--",
            linewidth=1.2,
            label=f"GA-day baseline ({short_value(baseline, unit)})",
            gid="ga-baseline",
        )
    if spec is not None and spec.target is not None:
        better = "at least" if spec.direction == "higher" else "at most"
        ax.axhline(
            spec.target,
            color=_GREEN,
            linestyle=":",
            linewidth=1.8,
            label=f"Target ({better} {format_value(spec.target, unit)})",
            gid="target",
        )
    flagged = anomaly_days(week, kpi)
    marked = [d for d in flagged if not math.isnan(values[d])]
    if flagged:
        ax.plot(
            marked,
            [values[d] for d in marked],
            linestyle="none",
            marker="X",
            markersize=11,
            markerfacecolor=_VERMILION,
            markeredgecolor="black",
            label="Adverse high/critical anomaly",
            gid="anomalies",
        )
    chosen = week.incidents if incidents is None else incidents
    drawn = _mark_incidents(
        ax, [i for i in chosen if any(k.kpi == kpi for k in i.kpis)], week.ga.ga_timestamp
    )
    shaded = {
        d
        for i in drawn
        for days in [_incident_days(i, week.ga.ga_timestamp)]
        if days is not None
        for d in range(days[0], days[1] + 1)
    }
    for d in flagged:
        if d not in shaded:  # a flagged day no incident explains (or without a value)
            ax.axvspan(d - 0.4, d + 0.4, facecolor="none", edgecolor=_LIGHT, hatch="//", lw=0)
    if unit == "USD":
        ax.yaxis.set_major_formatter(FuncFormatter(_usd))
    _day_axis(ax, _WEEK, week.ga.ga_timestamp)
    ax.set_ylabel(f"{label}{_unit_text(unit)}")
    missing = [d for d in _WEEK if math.isnan(values[d])]
    missing_text = f" (no data: day {', '.join(map(str, missing))})" if missing else ""
    ax.set_title(f"{label} by day over the release week{missing_text}", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if drawn:
        handles.append(_incident_handle())
    ax.legend(handles=handles, loc="best", fontsize=_FONT)
    return fig


# --------------------------------------------------------------------------- drift


def drift_values(week: ReleaseWeek) -> dict[str, tuple[int, float]]:
    """Per KPI: (final day, drift %) of the last day with data vs the GA day.

    The same arithmetic as ``drift.analyze_drifts`` but for every KPI, not only
    those in the reported band, so the chart shows what stayed put too. KPIs
    without a GA value, week values or with a zero baseline are left out.
    """
    out: dict[str, tuple[int, float]] = {}
    for kpi in week.catalogue.kpis:
        baseline = week.value(kpi, 0)
        values = week.week_values(kpi)
        if baseline is None or not values:
            continue
        final_day = max(values)
        drift = drift_percent(baseline, values[final_day])
        if drift is not None:
            out[kpi] = (final_day, drift)
    return out


def _drift_style(drift: float) -> tuple[str, str]:
    size = abs(drift)
    if size >= DRIFT_BAND[1]:
        return _VERMILION, "xx"
    if size >= DRIFT_BAND[0]:
        return _ORANGE, "//"
    return _LIGHT, ""


@_literal
def drift_chart(week: ReleaseWeek) -> Figure:
    """Every KPI's drift from the GA day, against the bands the retrospective uses.

    10-30% is an unexpected drift (investigated above 15%), 30% or more is
    regression territory; bars are hatched by band so the grade survives print.
    """
    drifts = drift_values(week)
    fig = _new_figure(PRINT_WIDTH, max(2.6, 0.28 * len(drifts) + 2.0), "kpi-drift")
    fig.suptitle("KPI drift: last day with data vs GA day", fontsize=11)
    if not drifts:
        return _no_data(fig, "No KPI has both a GA-day value and a week value.")
    ax = fig.add_subplot()
    names = list(drifts)
    widths = [drifts[k][1] for k in names]
    bars = ax.barh(
        range(len(names)), widths, height=0.6, edgecolor="black", linewidth=0.6, gid="drift"
    )
    bars.set_label("_drift")
    for bar, width in zip(bars.patches, widths, strict=True):
        colour, hatch = _drift_style(width)
        bar.set_facecolor(colour)
        bar.set_hatch(hatch)
    last = week.last_day
    labels = []
    for kpi in names:
        spec = week.catalogue.kpis[kpi]
        day = drifts[kpi][0]
        labels.append(spec.label + ("" if day == last else f" (day {day})"))
    ax.set_yticks(range(len(names)), labels, fontsize=9)
    ax.invert_yaxis()
    limit = max(DRIFT_BAND[1] * 1.25, max(abs(w) for w in widths) * 1.2)
    ax.set_xlim(-limit, limit)
    for i, width in enumerate(widths):
        ax.text(
            width + (0.01 if width >= 0 else -0.01) * limit,
            i,
            f"{width:+.1f}%" if round(width, 1) != 0 else "0.0%",
            va="center",
            ha="left" if width >= 0 else "right",
            fontsize=_FONT,
        )
    styles = {DRIFT_LINES[0]: ":", DRIFT_LINES[1]: "--", DRIFT_LINES[2]: "-"}
    for level, style in styles.items():
        for sign in (-1, 1):
            ax.axvline(
                sign * level, color=_GREY, linestyle=style, linewidth=1, gid=f"band-{level:g}"
            )
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"Drift from GA day (%), final = day {last} unless noted")
    handles = [
        Line2D([], [], color=_GREY, linestyle=":", label=f"±{DRIFT_LINES[0]:g}%: drift threshold"),
        Line2D([], [], color=_GREY, linestyle="--", label=f"±{DRIFT_LINES[1]:g}%: investigate"),
        Line2D(
            [], [], color=_GREY, linestyle="-", label=f"±{DRIFT_LINES[2]:g}%: regression territory"
        ),
        Patch(facecolor=_LIGHT, edgecolor="black", label=f"|drift| < {DRIFT_BAND[0]:g}%"),
        Patch(
            facecolor=_ORANGE,
            edgecolor="black",
            hatch="//",
            label=f"{DRIFT_BAND[0]:g}-{DRIFT_BAND[1]:g}%: unexpected drift",
        ),
        Patch(facecolor=_VERMILION, edgecolor="black", hatch="xx", label=f"≥ {DRIFT_BAND[1]:g}%"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=_FONT)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


# --------------------------------------------------------------------------- cost


@_literal
def cost_chart(week: ReleaseWeek, cost: CostAnalysis) -> Figure:
    """Daily cost (GA day set apart) beside the breakdown of the daily average.

    The left panel shows whether spend moved after launch; the right one which
    part of the bill to look at first.
    """
    fig = _new_figure(PRINT_WIDTH, 4.0, "cost")
    left, right = fig.subplots(1, 2, width_ratios=[3, 1.25])
    ga = week.ga.ga_timestamp
    ga_value = week.value(COST_KPI, 0)
    days = list(range(1, WEEK_DAYS + 1))
    daily = [_nan(week.value(COST_KPI, d)) for d in days]
    left.bar(
        [0],
        [_nan(ga_value)],
        width=0.7,
        color=_LIGHT,
        edgecolor="black",
        hatch="//",
        label="GA day (day 0)",
        gid="ga-cost",
    )
    left.bar(
        days, daily, width=0.7, color=_BLUE, edgecolor="black", label="Days 1..7", gid="daily-cost"
    )
    finite = [v for v in [_nan(ga_value), *daily] if not math.isnan(v)]
    top = max(finite, default=0.0)
    for d, v in zip([0, *days], [_nan(ga_value), *daily], strict=True):
        if math.isnan(v):
            left.text(d, top * 0.02, "no data", rotation=90, ha="center", va="bottom", fontsize=8)
        else:
            left.text(d, v, _usd(v), ha="center", va="bottom", fontsize=_FONT)
    left.axhline(
        cost.daily_average_cost,
        color=_VERMILION,
        linestyle="--",
        linewidth=1.5,
        label=f"Daily average days 1..7 (${cost.daily_average_cost:,.2f})",
        gid="average",
    )
    left.set_ylim(0.0, max(top, cost.daily_average_cost, 1.0) * 1.5)
    left.yaxis.set_major_formatter(FuncFormatter(_usd))
    left.set_ylabel("Cost (USD per day)")
    _day_axis(left, [0, *days], ga, compact=True)
    left.set_title(f"Daily cost: trend {cost.cost_trend}", fontsize=10)
    left.legend(loc="upper left", fontsize=_FONT, ncols=1)
    left.grid(True, axis="y", alpha=0.3)

    parts = cost.cost_breakdown.model_dump()
    styles = {
        "compute": (_BLUE, ""),
        "storage": (_ORANGE, "//"),
        "network": (_GREEN, ".."),
        "other": (_PURPLE, "xx"),
    }
    bottom = 0.0
    total = sum(parts.values())
    for name, (colour, hatch) in styles.items():
        value = float(parts[name])
        bars = right.bar(
            [0],
            [value],
            bottom=bottom,
            width=0.6,
            color=colour,
            edgecolor="black",
            hatch=hatch,
            gid=f"breakdown-{name}",
        )
        bars.set_label(f"{name.capitalize()} (${value:,.2f})")
        if total > 0 and value / total >= 0.06:
            right.text(
                0,
                bottom + value / 2,
                f"${value:,.0f}",
                ha="center",
                va="center",
                fontsize=_FONT,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
        bottom += value
    right.set_xticks([0], [f"Daily average\n(${cost.daily_average_cost:,.2f})"], fontsize=_FONT)
    right.set_xlim(-0.8, 0.8)
    right.set_ylim(0.0, max(bottom, 1.0) * 1.15)
    right.yaxis.set_major_formatter(FuncFormatter(_usd))
    right.tick_params(axis="y", labelsize=_FONT)
    right.set_ylabel("Cost (USD per day)", fontsize=_FONT)
    right.set_title("Breakdown", fontsize=10)
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=_FONT, frameon=False)
    present = sum(not math.isnan(v) for v in daily)
    fig.suptitle(
        f"Cost over the release week: ${cost.seven_day_total_cost:,.2f} over {present} day(s)",
        fontsize=11,
    )
    return fig


# --------------------------------------------------------------------------- health


def health_status_text(status: str) -> str:
    """A health status as people read it: "no data", not ``no_data``."""
    return status.replace("_", " ")


def health_text(report: HealthReport) -> str:
    """The day's score and status for a table: "92.1 (degraded)", "– (no data)".

    A day without traffic has no score worth reading (it is of what little was
    measured), so none is shown.
    """
    if report.status == "no_data":
        return f"– ({health_status_text(report.status)})"
    return f"{report.health_score:.1f} ({health_status_text(report.status)})"


_STATUS_MARKERS = {
    "healthy": ("o", _GREEN),
    "degraded": ("s", _ORANGE),
    "critical": ("X", _VERMILION),
}


@_literal
def health_chart(
    reports: Mapping[int, HealthReport],
    healthy_at: float = 80.0,
    degraded_at: float = 60.0,
    *,
    ga_timestamp: datetime | None = None,
) -> Figure:
    """The daily health score against the healthy and degraded bands, status per day.

    The status is the one each report recorded (an SLO breach can make a day
    critical whatever its score), so it is written beside each point. A day
    without traffic (status ``no_data``) has no point: "no data" is written instead.
    """
    fig = _new_figure(PRINT_WIDTH, 3.6, "health-score")
    days = list(range(1, WEEK_DAYS + 1))
    if not reports:
        fig.suptitle("Daily health score")
        return _no_data(fig, "No daily health report was found.")
    ax = fig.add_subplot()
    scored = {d: r for d, r in reports.items() if r.status != "no_data"}
    scores = [scored[d].health_score if d in scored else math.nan for d in days]
    ax.plot(
        days, scores, color=_BLUE, linestyle="-", linewidth=2, label="Health score", gid="score"
    )
    for status, (marker, colour) in _STATUS_MARKERS.items():
        picked = [d for d in days if d in reports and reports[d].status == status]
        if picked:
            ax.plot(
                picked,
                [reports[d].health_score for d in picked],
                linestyle="none",
                marker=marker,
                markersize=9,
                markerfacecolor=colour,
                markeredgecolor="black",
                label=f"Day status {status}",
                gid=f"status-{status}",
            )
    for d in days:
        if d in scored:
            ax.annotate(
                health_status_text(reports[d].status),
                (d, reports[d].health_score),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=_FONT,
            )
        else:
            ax.text(
                d,
                2,
                "no data" if d in reports else "no report",
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=_FONT,
                gid=f"no-score:{d}",
            )
    ax.axhline(
        healthy_at,
        color=_GREEN,
        linestyle="--",
        linewidth=1.2,
        label=f"Healthy band: {healthy_at:g} and above",
        gid="healthy-at",
    )
    ax.axhline(
        degraded_at,
        color=_VERMILION,
        linestyle=":",
        linewidth=1.5,
        label=f"Degraded band: {degraded_at:g} to {healthy_at:g} (critical below)",
        gid="degraded-at",
    )
    ax.set_ylim(0.0, 105.0)
    ax.set_ylabel("Health score (0-100 points)")
    _day_axis(ax, days, ga_timestamp)
    missing = [d for d in days if d not in reports]
    missing_text = f" (no report: day {', '.join(map(str, missing))})" if missing else ""
    ax.set_title(f"Daily health score{missing_text}", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=_FONT)
    return fig


# --------------------------------------------------------------------------- incident, intraday


def incident_series(
    week: ReleaseWeek, kpi: str, start: datetime, end: datetime
) -> tuple[list[datetime], list[float]]:
    """The KPI's 5-minute points whose 5 minutes end in [start, end], from the day summaries.

    Point ``i`` of a day (the GA summary for day 0) ends at the day's window
    start + 5 min * (i + 1); null values become NaN, and a missing day leaves a
    NaN gap rather than a line drawn across it.
    """
    times: list[datetime] = []
    values: list[float] = []
    first = max(week.day_of(start), 0)
    last = min(week.day_of(end), WEEK_DAYS)
    for day in range(first, last + 1):
        summary = week.ga if day == 0 else week.days.get(day)
        entry = summary.kpis.get(kpi) if summary is not None else None
        if summary is None or entry is None or entry.series_5m is None:
            if times and not math.isnan(values[-1]):
                times.append(times[-1] + SERIES_STEP)
                values.append(math.nan)
            continue
        for i, value in enumerate(entry.series_5m):
            moment = summary.window.start + SERIES_STEP * (i + 1)
            if start <= moment <= end:
                times.append(moment)
                values.append(_nan(value))
    return times, values


def no_data_spans(
    times: Sequence[datetime],
    values: Sequence[float],
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    """The spans of an ``incident_series`` without data, in time order.

    Each run of NaN points spans from the start of its first 5 minutes to the start
    of the next point with a value, so a missing day's single NaN covers the whole
    day; a run at the end of the series reaches ``end``, and points absent before
    the first one (from ``start``) are a span too. No point at all: all of it.
    """
    if not times:
        return [(start, end)] if start is not None and end is not None and end > start else []
    spans: list[tuple[datetime, datetime]] = []
    if start is not None and times[0] - SERIES_STEP > start:
        spans.append((start, times[0] - SERIES_STEP))
    i = 0
    while i < len(values):
        if not math.isnan(values[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(values) and math.isnan(values[j + 1]):
            j += 1
        if j + 1 < len(times):
            stop = times[j + 1] - SERIES_STEP
        else:
            stop = max(end, times[j]) if end is not None else times[j]
        spans.append((times[i] - SERIES_STEP, stop))
        i = j + 1
    return spans


def _utc_hours(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))  # type: ignore[no-untyped-call]


@_literal
def incident_chart(
    week: ReleaseWeek, incident: Incident, *, margin_hours: float = 3.0, max_kpis: int = 4
) -> Figure:
    """An incident up close: each KPI's 5-minute series around it, against its held baseline.

    One panel per KPI of the incident (the first ``max_kpis``), over the incident
    window widened by ``margin_hours`` on both sides; the line is the 5-minute
    series from the day summaries, the dashed line the baseline the detector
    held (``expected``), the shaded span the incident, the marker its peak. Where
    the backend gave no value (a partial day's gap, a missing day) the line stops
    and the span is marked "no data" (``no_data_spans``): nothing is drawn across it.
    """
    kpis = incident.kpis[:max_kpis]
    more = len(incident.kpis) - len(kpis)
    fig = _new_figure(PRINT_WIDTH, 1.45 * max(len(kpis), 1) + 1.2, f"incident:{incident.id}")
    day = week.day_of(incident.start)
    title = (
        f"Day {day}, {incident.start:%H:%M}-{incident.end:%H:%M} UTC: "
        f"{incident_label(incident)} ({incident.severity})"
    )
    if more:
        title += f"; {more} more KPI(s) not shown"
    fig.suptitle(title, fontsize=11)
    if not kpis:
        return _no_data(fig, "The incident names no KPI.")
    margin = timedelta(hours=margin_hours)
    lo, hi = incident.start - margin, incident.end + margin
    axes = fig.subplots(len(kpis), 1, sharex=True, squeeze=False)[:, 0]
    gaps = False
    for ax, item in zip(axes, kpis, strict=True):
        spec = week.catalogue.kpis.get(item.kpi)
        unit = item.unit or (spec.unit if spec else "")
        times, values = incident_series(week, item.kpi, lo, hi)
        ax.axvspan(
            incident.start,
            incident.end,
            facecolor=_INCIDENT_FILL,
            edgecolor=_LIGHT,
            hatchcolor=_LIGHT,
            hatch="\\\\",
            linewidth=0.0,
            zorder=0,
            gid="incident-span",
        )
        ax.axhline(
            item.expected,
            color=_GREY,
            linestyle="--",
            linewidth=1.2,
            gid="expected",
            label="Expected (baseline held by the detector)",
        )
        # before GA day nothing was collected, so nothing there is missing; without any
        # point the panel says so in words instead
        gaps_of = no_data_spans(times, values, max(lo, week.ga.window.start), hi) if times else []
        for gap_start, gap_end in gaps_of:
            gap_start, gap_end = max(gap_start, lo), min(gap_end, hi)
            if gap_end <= gap_start:
                continue
            gaps = True
            ax.axvspan(
                gap_start,
                gap_end,
                facecolor="white",
                edgecolor=_GREY,
                hatchcolor=_LIGHT,
                hatch="-",
                linewidth=0.8,
                linestyle=":",
                zorder=0.5,
                gid="no-data-span",
            )
            if (gap_end - gap_start) * 10 < hi - lo:
                continue  # too narrow to write in: the shading and the legend say it
            ax.text(
                gap_start + (gap_end - gap_start) / 2,
                0.5,
                "no data",
                transform=blended_transform_factory(ax.transData, ax.transAxes),
                ha="center",
                va="center",
                fontsize=_FONT,
                color=_GREY,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
                gid="no-data-text",
            )
        if times:
            ax.plot(
                times,
                values,
                color=_BLUE,
                linestyle="-",
                linewidth=1.4,
                gid="series",
                label="5-minute value",
            )
            inside = [
                (t, v)
                for t, v in zip(times, values, strict=True)
                if incident.start <= t <= incident.end + SERIES_STEP and not math.isnan(v)
            ]
            if inside:
                peak_t, peak_v = max(inside, key=lambda p: abs(p[1] - item.expected))
                ax.plot(
                    [peak_t],
                    [peak_v],
                    linestyle="none",
                    marker="X",
                    markersize=8,
                    markerfacecolor=_VERMILION,
                    markeredgecolor="black",
                    gid="peak",
                    label="Peak",
                )
                ax.annotate(
                    short_value(peak_v, unit),
                    (peak_t, peak_v),
                    textcoords="offset points",
                    xytext=(6, -2),
                    ha="left",
                    va="center",
                    fontsize=_FONT,
                )
        else:
            ax.text(
                0.5,
                0.5,
                "no 5-minute data in the day summaries",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=_FONT,
            )
        ax.set_xlim(lo, hi)
        ax.set_title(
            f"{item.label}: peak {short_value(item.peak, unit)}, "
            f"expected {short_value(item.expected, unit)}",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel(unit or item.label, fontsize=_FONT)
        ax.tick_params(axis="both", labelsize=_FONT)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_label(f"incident-kpi:{item.kpi}")
    _utc_hours(axes[-1])
    dates = sorted({f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}"})
    axes[-1].set_xlabel(f"Time (UTC), {' to '.join(dates)}", fontsize=_FONT)
    handles, _ = axes[0].get_legend_handles_labels()
    handles.append(
        Patch(
            facecolor=_INCIDENT_FILL,
            edgecolor=_LIGHT,
            hatch="\\\\",
            label=f"Incident {incident.start:%H:%M}-{incident.end:%H:%M} UTC",
        )
    )
    if gaps:
        handles.append(
            Patch(
                facecolor="white",
                edgecolor=_GREY,
                hatchcolor=_GREY,
                hatch="-",
                linestyle=":",
                label="No data (the backend gave no value)",
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=_FONT)
    return fig


# --------------------------------------------------------------------------- heat map


HEAT_STATUSES: dict[str, tuple[str, str, str]] = {
    "incident": ("#A50F15", "xx", "Incident"),
    "breach": (_VERMILION, "//", "SLO breached"),
    "explained": (_SKY, "..", "Moved by a recorded change"),
    "drift": (_ORANGE, "\\\\", f"Adverse drift ≥ {DRIFT_BAND[0]:g}% from GA day"),
    "partial": (_YELLOW, "||", f"Partial data (coverage < {MIN_COVERAGE * 100:g}%)"),
    "ok": ("#E9F5EE", "", "OK"),
    "no_data": ("#FFFFFF", "--", "No data"),
}
"""Heat-map status -> (fill, hatch, legend text), worst first; hatches keep them apart in grey."""


@_literal
def heat_map_chart(heat: HeatMap, *, ga_timestamp: datetime | None = None) -> Figure:
    """The week at a glance: each KPI's status on each day, the daily health score on top.

    Cells are filled and hatched by status (``HEAT_STATUSES``); the top row
    gives the day's health score (0-100), "–" where no report was made and
    "no data" on a day without traffic (``heat.no_data``), never a score.
    """
    rows, cols = len(heat.kpis), len(heat.days)
    fig = _new_figure(PRINT_WIDTH, 0.26 * (rows + 1) + 1.75, "heat-map")
    fig.suptitle("Release week at a glance: KPI status by day", fontsize=11)
    if not rows or not cols:
        return _no_data(fig, "No KPI or day to show.")
    ax = fig.add_subplot()
    for j, day in enumerate(heat.days):
        score = None if day in heat.no_data else heat.health.get(day)
        ax.add_patch(
            Rectangle(
                (j, 0), 1, 1, facecolor="#F2F2F2", edgecolor="white", lw=1.5, gid=f"health:{day}"
            )
        )
        ax.text(
            j + 0.5,
            0.5,
            "no data" if day in heat.no_data else "–" if score is None else f"{score:.0f}",
            ha="center",
            va="center",
            fontsize=_FONT + (0 if day in heat.no_data else 1),
            fontweight="normal" if day in heat.no_data else "bold",
            color=_GREY if day in heat.no_data else "black",
            gid=f"health-text:{day}",
        )
    used: list[str] = []
    for i, (kpi, statuses) in enumerate(zip(heat.kpis, heat.status, strict=True)):
        for j, (day, status) in enumerate(zip(heat.days, statuses, strict=True)):
            fill, hatch, _ = HEAT_STATUSES.get(status, HEAT_STATUSES["no_data"])
            cell = Rectangle(
                (j, i + 1),
                1,
                1,
                facecolor=fill,
                edgecolor="white",
                hatch=hatch,
                hatchcolor="#333333" if status != "no_data" else _LIGHT,
                lw=1.5,
                gid=f"cell:{kpi}:{day}",
            )
            cell.set_label(status)
            ax.add_patch(cell)
            if status not in used:
                used.append(status)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows + 1, 0)
    ax.set_xticks(
        [j + 0.5 for j in range(cols)],
        day_tick_labels(heat.days, ga_timestamp),
        fontsize=_FONT,
    )
    ax.xaxis.tick_top()
    ax.set_yticks(
        [0.5, *[i + 1.5 for i in range(rows)]], ["Health score", *heat.labels], fontsize=_FONT + 0.5
    )
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    handles = [
        Patch(facecolor=fill, edgecolor="#333333", hatch=hatch, label=text)
        for status, (fill, hatch, text) in HEAT_STATUSES.items()
        if status in used
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=_FONT)
    return fig


# --------------------------------------------------------------------------- output


def save_png(fig: Figure, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` as PNG through the Agg canvas, atomically (no half-written file);
    a failed write is an ``OSError`` naming ``path``.

    ``print_figure`` on the Agg canvas renders at ``dpi`` and calls its
    ``print_png``; the figure's own dpi is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    literal_text(fig)
    canvas = FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        # O_EXCL with mode 0666: the umask decides who may read it, as for the other artifacts
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            canvas.print_figure(handle, dpi=dpi, format="png")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # name the chart, not its temporary file (gone by now)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    finally:
        tmp.unlink(missing_ok=True)
