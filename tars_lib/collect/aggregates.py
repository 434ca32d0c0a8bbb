"""From 5-minute component series to a KPI's daily value, series and statistics.

Pure functions. Ratios are ratios of the day's summed counts (not a mean of
5-minute ratios); quantiles come from the day's summed bucket increases with
Prometheus' ``histogram_quantile`` interpolation, so a day's p99 is the p99 of
the day's requests.

An answer the backend should not have given (two series where one was
expected, a histogram without ``+Inf``, values no measurement reaches) costs
only its own KPI: that KPI has no value and ``KpiWindow.warning`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tars_lib.core.catalogue import KpiSpec, Pricing
from tars_lib.core.models import KpiStats
from tars_lib.sources.base import SeriesSet

__all__ = [
    "MAX_SAMPLE",
    "PRECISION_TOLERANCE",
    "KpiWindow",
    "histogram_quantile",
    "kpi_window",
    "series_stats",
]

Array = npt.NDArray[np.float64]

MAX_SAMPLE = 1e100
"""The largest magnitude taken as a measurement; beyond it a sample is a broken exporter.

No gauge or 5-minute increase comes near it, and below it the sums, squares
and ratios the day's statistics take stay finite. A KPI with such a sample
gets no value and a warning rather than a clamped number: a null that says
why is something an SRE can act on, a plausible-looking wrong number is not.
"""


def histogram_quantile(q: float, bounds: Array, cumulative: Array) -> Array:
    """Prometheus' histogram_quantile over cumulative bucket counts, one column per point.

    ``bounds`` are the buckets' upper bounds (any order, repeats allowed; +Inf for
    the top bucket); ``cumulative`` has one row per bound, NaN where that bucket
    has no value at that point. Per point, as ``bucketQuantile`` in Prometheus'
    promql/quantile.go: the buckets present are sorted by bound and those of the
    same bound summed (``le="1"`` and ``le="1.0"`` are one bucket); without a +Inf
    bucket, with fewer than two buckets or no observations the result is NaN;
    counts within 1e-12 of the previous bucket are taken as equal and a count
    below a lower bucket's is raised to it (monotonicity is forced); then linear
    interpolation inside the bucket holding the rank, the lowest bucket starting
    at 0 (or giving its bound when that is <= 0), a rank in the +Inf bucket
    giving the highest finite bound.
    """
    return _quantile(q, bounds, cumulative)[0]


def _coalesce(bounds: Array, counts: Array) -> tuple[Array, Array]:
    """Rows of the same bound summed, sorted by bound; NaN where none of them has a value."""
    merged, inverse = np.unique(bounds, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(merged) == len(bounds):
        return merged, counts[np.argsort(bounds, kind="stable")]
    out = np.zeros((len(merged), counts.shape[1]))
    present = np.zeros(out.shape, dtype=bool)
    np.add.at(out, inverse, np.nan_to_num(counts, nan=0.0))
    np.logical_or.at(present, inverse, np.isfinite(counts))
    out[~present] = np.nan
    return merged, out


def _quantile(q: float, bounds: Array, cumulative: Array) -> tuple[Array, npt.NDArray[np.bool_]]:
    """``histogram_quantile`` and, per point, whether monotonicity had to be forced."""
    bounds = np.asarray(bounds, dtype=np.float64)
    counts = np.asarray(cumulative, dtype=np.float64)
    bounds, counts = _coalesce(bounds, counts)
    points = counts.shape[1]
    out = np.full(points, np.nan)
    forced = np.zeros(points, dtype=bool)
    present = np.isfinite(counts)
    # Buckets absent at a point are left out there, as Prometheus never sees them:
    # one pass per pattern of present buckets (one or two patterns in practice).
    patterns, which = np.unique(present.T, axis=0, return_inverse=True)
    which = which.reshape(-1)
    for i, rows in enumerate(patterns):
        cols = np.nonzero(which == i)[0]
        if rows.sum() < 2 or not (rows[-1] and np.isposinf(bounds[-1])):
            continue  # no +Inf bucket (or nothing but it): NaN, as Prometheus gives
        out[cols], forced[cols] = _complete(q, bounds[rows], counts[np.ix_(rows, cols)])
    return out, forced


PRECISION_TOLERANCE = 1e-12
"""Relative difference between neighbouring buckets taken as float noise (Prometheus' value)."""


def _complete(q: float, bounds: Array, counts: Array) -> tuple[Array, npt.NDArray[np.bool_]]:
    """bucketQuantile for points where every bucket (sorted, distinct, the last +Inf) is present."""
    counts = counts.copy()
    prev = counts[0].copy()
    for i in range(1, len(bounds)):  # correctPrecisionErrors
        curr = counts[i]
        delta = np.abs(curr - prev)
        eps = np.divide(delta, curr, out=np.full_like(delta, np.inf), where=curr != 0)
        noise = (delta != 0) & (eps <= PRECISION_TOLERANCE)
        counts[i] = np.where(noise, prev, curr)
        prev = np.where(noise, prev, curr)
    envelope = np.maximum.accumulate(counts, axis=0)  # ensureMonotonic
    forced = (envelope > counts).any(axis=0)
    counts = envelope
    total = counts[-1]
    rank = q * total
    # the first finite bucket whose count reaches the rank (len-1: the +Inf bucket)
    reached = counts[:-1] >= rank[None, :]
    b = np.where(reached.any(axis=0), reached.argmax(axis=0), len(bounds) - 1)
    out = np.full(total.shape, np.nan)
    has = total > 0
    in_inf = has & (b == len(bounds) - 1)
    out[in_inf] = bounds[-2]
    mid = has & ~in_inf
    bi = b[mid]
    cols = np.nonzero(mid)[0]
    end = bounds[bi]
    start = np.where(bi > 0, bounds[np.maximum(bi - 1, 0)], 0.0)
    count_end = counts[bi, cols]
    count_start = np.where(bi > 0, counts[np.maximum(bi - 1, 0), cols], 0.0)
    width = count_end - count_start
    frac = np.divide(rank[cols] - count_start, width, out=np.ones_like(width), where=width > 0)
    value = start + (end - start) * frac
    out[mid] = np.where((bi == 0) & (bounds[0] <= 0), bounds[0], value)
    return out, forced & has


@dataclass(frozen=True)
class KpiWindow:
    """A KPI over one window: its aggregate and its 5-minute series (in the KPI's unit)."""

    value: float | None
    series: Array
    missing: str | None = None  # why there is no value
    counts: dict[str, float] | None = None  # ratio KPIs: summed numerator and denominator
    warning: str | None = None  # what in the backend's answer was unusable: to tell the user


class _Unusable(Exception):
    """The backend's answer for one component cannot give the KPI a value (the message: why)."""


def _check_magnitude(values: Array, component: str) -> None:
    finite = np.abs(values[np.isfinite(values)])
    if finite.size and float(finite.max()) > MAX_SAMPLE:
        raise _Unusable(
            f"query {component} returned {float(finite.max()):.3g}, beyond the "
            f"{MAX_SAMPLE:g} no measurement reaches"
        )


def _single(series: SeriesSet, component: str) -> Array | None:
    if not series.has_data:
        return None
    if len(series.labels) > 1:
        raise _Unusable(
            f"query {component} returned {len(series.labels)} series where one was expected "
            "(aggregate it with sum() or avg(), or narrow --selector)"
        )
    values = np.asarray(series.values[0], dtype=np.float64)
    _check_magnitude(values, component)
    return values


def _le(labels: Mapping[str, str]) -> float:
    """A bucket's upper bound, NaN when its ``le`` label is absent or not a number."""
    try:
        return float(labels.get("le", "nan"))
    except ValueError:
        return math.nan


def _buckets(series: SeriesSet, component: str) -> tuple[Array, Array, str | None] | None:
    """Bounds and counts sorted by bound, and a note on series skipped for a bad ``le``.

    As Prometheus' histogram_quantile does: a series whose ``le`` is not a number
    is ignored, and without a ``+Inf`` bucket the quantile is NaN (here: no value).
    """
    if not series.has_data:
        return None
    bounds = np.array([_le(labels) for labels in series.labels], dtype=np.float64)
    good = ~np.isnan(bounds)
    note = None
    if not good.all():
        bad = sorted(
            {
                labels.get("le", "(none)")[:40]
                for labels, ok in zip(series.labels, good, strict=True)
                if not ok
            }
        )
        shown = ", ".join(f"le={v!r}" for v in bad[:3]) + (", ..." if len(bad) > 3 else "")
        note = f"ignored {int((~good).sum())} bucket series of query {component} with {shown}"
    if not np.isposinf(bounds[good]).any():
        raise _Unusable(
            f'query {component} returned no le="+Inf" bucket '
            "(Prometheus' histogram_quantile gives NaN without it)" + (f"; {note}" if note else "")
        )
    counts = np.asarray(series.values[good], dtype=np.float64)
    _check_magnitude(counts, component)
    # le="1" and le="1.0" (Prometheus 3 respells le) are one bucket: summed by bound
    merged, summed = _coalesce(bounds[good], counts)
    return merged, summed, note


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def kpi_window(
    spec: KpiSpec, components: Mapping[str, SeriesSet], step: int, pricing: Pricing
) -> KpiWindow:
    """The KPI's value and series over the window its component series cover.

    Never raises for what the backend answered: an unusable answer is a window
    without a value whose ``warning`` says what was wrong with it.
    """
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
            window = _window(spec, components, step, pricing)
    except _Unusable as exc:
        return KpiWindow(None, np.empty(0), str(exc), warning=str(exc))
    if window.value is None:
        return window
    finite = window.series[np.isfinite(window.series)]
    largest = max(abs(window.value), float(np.abs(finite).max(initial=0.0)))
    if not math.isfinite(window.value) or largest > MAX_SAMPLE:
        reason = (
            f"its value ({largest:.3g}) overflowed or is beyond the {MAX_SAMPLE:g} "
            "no measurement reaches"
        )
        return KpiWindow(None, np.empty(0), reason, warning=reason)
    return window


def _window(
    spec: KpiSpec, components: Mapping[str, SeriesSet], step: int, pricing: Pricing
) -> KpiWindow:
    kind = spec.aggregate
    empty = np.empty(0)
    if kind == "quantile":
        got = _buckets(components["buckets"], "buckets")
        if got is None:
            return KpiWindow(None, empty, "no histogram buckets")
        bounds, counts, note = got
        assert spec.quantile is not None
        series, forced = _quantile(spec.quantile, bounds, counts)
        # a bucket absent all window stays absent in the window's sum (not a bucket of 0)
        seen = np.isfinite(counts).any(axis=1)
        sums = np.where(seen, np.nansum(counts, axis=1), np.nan)[:, None]
        day, day_forced = _quantile(spec.quantile, bounds, sums)
        if forced.any() or day_forced.any():
            fixed = (
                f"bucket counts of query buckets decrease as le grows at {int(forced.sum())} "
                f"of {forced.size} points"
                + (" and in the window's sum" if day_forced.any() else "")
                + "; raised to the lower bucket's count, as Prometheus' histogram_quantile "
                "does (buckets relabelled, respelled or scraped apart?)"
            )
            note = f"{note}; {fixed}" if note else fixed
        value = _finite_or_none(float(day[0]) * spec.scale)
        return KpiWindow(value, series * spec.scale, warning=note)
    if kind == "ratio":
        num = _single(components["numerator"], "numerator")
        den = _single(components["denominator"], "denominator")
        if num is None or den is None:
            return KpiWindow(None, empty, "no data for numerator or denominator")
        ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
        series = np.full(len(den), np.nan)
        series[ok] = 100.0 * num[ok] / den[ok]
        total = float(den[ok].sum())
        if total <= 0:
            return KpiWindow(None, series, "no events in the window (denominator 0)")
        part = float(num[ok].sum())
        if part < 0:
            raise _Unusable(f"query numerator sums to {part:g}; a count cannot be negative")
        summed = {"numerator": part, "denominator": total}
        return KpiWindow(100.0 * part / total, series, counts=summed)
    if kind == "cost":
        hourly = _single(components.get("hourly", SeriesSet.empty(np.empty(0, np.int64))), "hourly")
        if hourly is None and "cores" in components:
            cores = _single(components["cores"], "cores")
            memory = _single(components["memory_gib"], "memory_gib")
            if cores is not None and memory is not None:
                hourly = cores * pricing.cpu_core_hour_usd + memory * pricing.memory_gib_hour_usd
        if hourly is None:
            return KpiWindow(None, empty, "no cost data (OpenCost or cores and memory)")
        series = hourly * 24.0
        return KpiWindow(_finite_or_none(float(np.nanmean(series))), series)
    component = "count" if kind == "rate" else "value"
    values = _single(components[component], component)
    if values is None:
        return KpiWindow(None, empty, "query returned no data")
    if kind == "rate":
        values = values / step
    finite = values[np.isfinite(values)]
    if kind == "max":
        return KpiWindow(float(finite.max()), values)
    return KpiWindow(float(finite.mean()), values)


def series_stats(series: Array) -> KpiStats | None:
    """mean, std, p5, p95, min and max of the finite 5-minute values."""
    finite = series[np.isfinite(series)]
    if finite.size == 0:
        return None
    p5, p95 = np.percentile(finite, [5, 95])
    return KpiStats(
        mean=float(finite.mean()),
        std=float(finite.std()),
        p5=float(p5),
        p95=float(p95),
        min=float(finite.min()),
        max=float(finite.max()),
        samples=int(finite.size),
    )
