"""Charts of the release week for the notebooks and the HTML report.

Every chart is a pure function of analyzer results returning a
``matplotlib.figure.Figure`` made directly (not through pyplot), so nothing
global is touched, no GUI backend is needed and figures can be built in worker
threads. The report is printed and forwarded, so every chart must survive
grayscale: series differ by line style, marker or hatch as well as colour.
Missing days are NaN gaps, never zeros: a chart must not invent a value the
monitor did not record.

Each figure carries a stable identifier in ``fig.get_label()`` (for example
``"slo-burn-down:availability"``) so tests and the report can find it; the
lines and bars that carry data have a ``gid`` naming what they show.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from tars_lib.core.formatting import format_value
from tars_lib.core.models import WEEK_DAYS, CostAnalysis, HealthReport
from tars_lib.core.policy import DRIFT_BAND, INVESTIGATE_ABOVE
from tars_lib.core.week import ReleaseWeek
from tars_lib.retro.cost import COST_KPI
from tars_lib.retro.drift import drift_percent
from tars_lib.retro.slo import BurnDown

__all__ = [
    "ADVERSE_SEVERITIES",
    "DRIFT_LINES",
    "anomaly_days",
    "burn_down_chart",
    "burn_down_grid",
    "cost_chart",
    "day_tick_labels",
    "drift_chart",
    "drift_values",
    "health_chart",
    "kpi_trend_chart",
    "save_png",
]

ADVERSE_SEVERITIES = ("high", "critical")
"""Anomaly severities that mark a day on a KPI trend (as they flag a degradation)."""

DRIFT_LINES = (DRIFT_BAND[0], INVESTIGATE_ABOVE, DRIFT_BAND[1])
"""|drift| thresholds drawn on the drift chart: drift, investigate, regression territory."""

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; every
# series also gets its own line style, marker or hatch for grayscale prints.
_BLUE = "#0072B2"
_ORANGE = "#E69F00"
_VERMILION = "#D55E00"
_GREEN = "#009E73"
_PURPLE = "#CC79A7"
_SKY = "#56B4E9"
_GREY = "#555555"
_LIGHT = "#BBBBBB"

_WEEK = list(range(WEEK_DAYS + 1))
_DAYS = np.arange(0, WEEK_DAYS + 1)
_DAY_AXIS = "Release-week day (UTC date; GA day = day 0)"
_DAY_AXIS_NO_DATE = "Release-week day (GA day = day 0)"


# --------------------------------------------------------------------------- shared helpers


def day_tick_labels(days: Sequence[int], ga_timestamp: datetime | None) -> list[str]:
    """``"Day 2\\n11-20"``: the day number and its UTC date, so no one counts from GA."""
    if ga_timestamp is None:
        return [f"Day {d}" for d in days]
    return [f"Day {d}\n{ga_timestamp + timedelta(days=d):%m-%d}" for d in days]


def _day_axis(ax: Axes, days: Sequence[int], ga_timestamp: datetime | None) -> None:
    ax.set_xticks(list(days), day_tick_labels(days, ga_timestamp))
    ax.set_xlim(days[0] - 0.5, days[-1] + 0.5)
    ax.set_xlabel(_DAY_AXIS if ga_timestamp is not None else _DAY_AXIS_NO_DATE)


def _new_figure(width: float, height: float, label: str) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
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


def _draw_burn_down(ax: Axes, burn: BurnDown, ga_timestamp: datetime | None) -> None:
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
    top = max(105.0, float(np.nanmax(consumed, initial=0.0)) * 1.1)
    ax.set_ylim(0.0, top)
    _day_axis(ax, _WEEK, ga_timestamp)
    ax.set_ylabel(f"Error budget consumed (% of {burn.period_days}-day budget)")
    missing = [e.day for e in burn.json.compliance_by_day if e.day > 0 and e.value is None]
    missing_text = f"; no data day {', '.join(map(str, missing))}" if missing else ""
    ax.set_title(
        f"{burn.json.slo_name} (target {burn.json.target:g}%): {burn.status}, "
        f"{burn.json.budget_consumed_percent:g}% of budget used{missing_text}",
        fontsize=10,
    )
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_label(f"slo-burn-down:{burn.key}")


def burn_down_chart(burn: BurnDown, *, ga_timestamp: datetime | None = None) -> Figure:
    """One SLO's cumulative error-budget use against the linear pace and exhaustion.

    Above the pace line the budget runs out before the period ends; the gap to
    the 100% line is what is left. Pass ``ga_timestamp`` for UTC dates on the
    day axis.
    """
    fig = _new_figure(7.0, 4.2, f"slo-burn-down:{burn.key}")
    _draw_burn_down(fig.add_subplot(), burn, ga_timestamp)
    return fig


def burn_down_grid(burns: Sequence[BurnDown], *, ga_timestamp: datetime | None = None) -> Figure:
    """Every SLO's burn-down in one figure, two per row, for the report's SLO section."""
    if not burns:
        fig = _new_figure(7.0, 2.5, "slo-burn-down")
        fig.suptitle("SLO error-budget burn-down")
        return _no_data(fig, "No SLO was measured in this release week.")
    cols = min(2, len(burns))
    rows = math.ceil(len(burns) / cols)
    fig = _new_figure(6.8 * cols, 4.2 * rows, "slo-burn-down")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, burn in zip(axes.flat, burns, strict=False):
        _draw_burn_down(ax, burn, ga_timestamp)
    for ax in list(axes.flat)[len(burns) :]:
        ax.remove()
    fig.suptitle("SLO error-budget burn-down over the release week", fontsize=13)
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


def kpi_trend_chart(week: ReleaseWeek, kpi: str) -> Figure:
    """A KPI's daily value against its GA-day baseline and target, anomalies marked.

    Shows whether a change is a one-day incident (spike back to baseline) or a
    lasting shift, and which days the anomaly detector called adverse.
    """
    spec = week.catalogue.kpis.get(kpi)
    entry = week.ga.kpis.get(kpi)
    unit = spec.unit if spec else (entry.unit if entry else "")
    label = spec.label if spec else kpi
    fig = _new_figure(7.5, 4.2, f"kpi-trend:{kpi}")
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
            label=f"GA-day baseline ({format_value(baseline, unit)})",
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
            markersize=12,
            markerfacecolor=_VERMILION,
            markeredgecolor="black",
            label="Adverse high/critical anomaly",
            gid="anomalies",
        )
        for d in flagged:
            ax.axvspan(d - 0.4, d + 0.4, facecolor="none", edgecolor=_LIGHT, hatch="//", lw=0)
    if unit == "USD":
        ax.yaxis.set_major_formatter(FuncFormatter(_usd))
    _day_axis(ax, _WEEK, week.ga.ga_timestamp)
    ax.set_ylabel(f"{label}{_unit_text(unit)}")
    missing = [d for d in _WEEK if math.isnan(values[d])]
    missing_text = f" (no data: day {', '.join(map(str, missing))})" if missing else ""
    ax.set_title(f"{label} by day over the release week{missing_text}")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
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


def drift_chart(week: ReleaseWeek) -> Figure:
    """Every KPI's drift from the GA day, against the bands the retrospective uses.

    10-30% is an unexpected drift (investigated above 15%), 30% or more is
    regression territory; bars are hatched by band so the grade survives print.
    """
    drifts = drift_values(week)
    fig = _new_figure(8.5, max(3.0, 0.42 * len(drifts) + 1.8), "kpi-drift")
    fig.suptitle("KPI drift: last day with data vs GA day", fontsize=13)
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
    ax.set_yticks(range(len(names)), labels)
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
            fontsize=8,
        )
    styles = {DRIFT_LINES[0]: ":", DRIFT_LINES[1]: "--", DRIFT_LINES[2]: "-"}
    for level, style in styles.items():
        for sign in (-1, 1):
            ax.axvline(
                sign * level, color=_GREY, linestyle=style, linewidth=1, gid=f"band-{level:g}"
            )
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"Drift from GA day (%), final = day {last} unless noted")
    ax.set_ylabel("KPI")
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
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


# --------------------------------------------------------------------------- cost


def cost_chart(week: ReleaseWeek, cost: CostAnalysis) -> Figure:
    """Daily cost (GA day set apart) beside the breakdown of the daily average.

    The left panel shows whether spend moved after launch; the right one which
    part of the bill to look at first.
    """
    fig = _new_figure(10.0, 4.6, "cost")
    left, right = fig.subplots(1, 2, width_ratios=[3, 1])
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
            left.text(d, v, _usd(v), ha="center", va="bottom", fontsize=7)
    left.axhline(
        cost.daily_average_cost,
        color=_VERMILION,
        linestyle="--",
        linewidth=1.5,
        label=f"Daily average days 1..7 (${cost.daily_average_cost:,.2f})",
        gid="average",
    )
    left.set_ylim(0.0, max(top, cost.daily_average_cost, 1.0) * 1.3)
    left.yaxis.set_major_formatter(FuncFormatter(_usd))
    left.set_ylabel("Cost (USD per day)")
    _day_axis(left, [0, *days], ga)
    left.set_title(f"Daily cost: trend {cost.cost_trend}", fontsize=10)
    left.legend(loc="upper center", fontsize=8, ncols=3)
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
                fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
        bottom += value
    right.set_xticks([0], [f"Daily average\n(${cost.daily_average_cost:,.2f})"])
    right.set_xlim(-0.8, 0.8)
    right.set_ylim(0.0, max(bottom, 1.0) * 1.15)
    right.yaxis.set_major_formatter(FuncFormatter(_usd))
    right.set_ylabel("Cost (USD per day)")
    right.set_title("Breakdown of the daily average", fontsize=10)
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7)
    present = sum(not math.isnan(v) for v in daily)
    fig.suptitle(
        f"Cost over the release week: ${cost.seven_day_total_cost:,.2f} over {present} day(s)",
        fontsize=13,
    )
    return fig


# --------------------------------------------------------------------------- health


_STATUS_MARKERS = {
    "healthy": ("o", _GREEN),
    "degraded": ("s", _ORANGE),
    "critical": ("X", _VERMILION),
}


def health_chart(
    reports: Mapping[int, HealthReport],
    healthy_at: float = 80.0,
    degraded_at: float = 60.0,
    *,
    ga_timestamp: datetime | None = None,
) -> Figure:
    """The daily health score against the healthy and degraded bands, status per day.

    The status is the one each report recorded (an SLO breach can make a day
    critical whatever its score), so it is written beside each point.
    """
    fig = _new_figure(9.5, 4.2, "health-score")
    days = list(range(1, WEEK_DAYS + 1))
    if not reports:
        fig.suptitle("Daily health score")
        return _no_data(fig, "No daily health report was found.")
    ax = fig.add_subplot()
    scores = [reports[d].health_score if d in reports else math.nan for d in days]
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
        if d in reports:
            ax.annotate(
                reports[d].status,
                (d, reports[d].health_score),
                textcoords="offset points",
                xytext=(0, 9),
                ha="center",
                fontsize=8,
            )
        else:
            ax.text(d, 2, "no report", rotation=90, ha="center", va="bottom", fontsize=8)
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
    ax.set_title(f"Daily health score{missing_text}")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


# --------------------------------------------------------------------------- output


def save_png(fig: Figure, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` as PNG through the Agg canvas, atomically (no half-written file).

    ``print_figure`` on the Agg canvas renders at ``dpi`` and calls its
    ``print_png``; the figure's own dpi is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas = FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL with mode 0666: the umask decides who may read it, as for the other artifacts
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            canvas.print_figure(handle, dpi=dpi, format="png")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
