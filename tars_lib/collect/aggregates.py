"""From 5-minute component series to a KPI's daily value, series and statistics.

Pure functions. Ratios are ratios of the day's summed counts (not a mean of
5-minute ratios); quantiles come from the day's summed bucket increases with
Prometheus' ``histogram_quantile`` interpolation, so a day's p99 is the p99 of
the day's requests.
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

__all__ = ["KpiWindow", "histogram_quantile", "kpi_window", "series_stats"]

Array = npt.NDArray[np.float64]


def histogram_quantile(q: float, bounds: Array, cumulative: Array) -> Array:
    """Prometheus' histogram_quantile over cumulative bucket counts.

    ``bounds`` are the sorted upper bounds, the last one +Inf; ``cumulative`` has
    one row per bound and one column per point. Linear interpolation inside the
    bucket holding the rank; the lowest bucket starts at 0; a rank in the +Inf
    bucket gives the highest finite bound; no observations give NaN.
    """
    counts = np.maximum.accumulate(np.nan_to_num(cumulative), axis=0)  # ensure monotonic
    total = counts[-1]
    rank = q * total
    finite = counts[:-1]
    # index of the first finite bucket whose count reaches the rank (len-1 if none)
    reached = finite >= rank[None, :]
    b = np.where(reached.any(axis=0), reached.argmax(axis=0), len(bounds) - 1)
    out = np.full(total.shape, np.nan)
    has = total > 0
    in_inf = has & (b == len(bounds) - 1)
    out[in_inf] = bounds[-2] if len(bounds) > 1 else np.nan
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
    return out


@dataclass(frozen=True)
class KpiWindow:
    """A KPI over one window: its aggregate and its 5-minute series (in the KPI's unit)."""

    value: float | None
    series: Array
    missing: str | None = None  # why there is no value
    counts: dict[str, float] | None = None  # ratio KPIs: summed numerator and denominator


def _single(series: SeriesSet, key: str) -> Array | None:
    if not series.has_data:
        return None
    if len(series.labels) > 1:
        raise ValueError(f"{key}: query returned {len(series.labels)} series; wrap it in sum()")
    return np.asarray(series.values[0], dtype=np.float64)


def _buckets(series: SeriesSet) -> tuple[Array, Array] | None:
    if not series.has_data:
        return None
    bounds = np.array([float(labels.get("le", "nan")) for labels in series.labels])
    if np.isnan(bounds).any() or not np.isinf(bounds).any():
        raise ValueError("bucket query must return series with an le label, including +Inf")
    order = np.argsort(bounds)
    return bounds[order], series.values[order]


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def kpi_window(
    spec: KpiSpec, components: Mapping[str, SeriesSet], step: int, pricing: Pricing
) -> KpiWindow:
    """The KPI's value and series over the window its component series cover."""
    kind = spec.aggregate
    empty = np.empty(0)
    if kind == "quantile":
        got = _buckets(components["buckets"])
        if got is None:
            return KpiWindow(None, empty, "no histogram buckets")
        bounds, counts = got
        assert spec.quantile is not None
        series = histogram_quantile(spec.quantile, bounds, counts) * spec.scale
        day = histogram_quantile(spec.quantile, bounds, np.nansum(counts, axis=1)[:, None])
        return KpiWindow(_finite_or_none(float(day[0]) * spec.scale), series)
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
    values = _single(components["count" if kind == "rate" else "value"], kind)
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
