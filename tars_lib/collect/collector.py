"""Phases 1 and 2: the GA-day baseline and the daily stability summaries.

Both collect the catalogue's KPIs over one UTC day from a ``MetricSource``,
every query at a 5-minute step, and turn them into the artifacts' models.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np

from tars_lib.collect.aggregates import KpiWindow, kpi_window, series_stats
from tars_lib.core.catalogue import Catalogue, KpiSpec
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.models import (
    WEEK_DAYS,
    DaySummary,
    GaKpiSummary,
    KpiValue,
    SloDay,
    Window,
    format_utc,
)
from tars_lib.core.policy import CRITICAL_BURN_RATE
from tars_lib.sources.base import MetricSource, Progress, RangeQuery, SourceWarning

__all__ = [
    "ROLLBACK_DRIFT_PERCENT",
    "STEP_SECONDS",
    "adverse_percent",
    "build_day_summary",
    "build_ga_summary",
    "collect_window",
    "day_window",
    "latest_complete_day",
    "request_count",
    "slo_days",
]

STEP_SECONDS = 300
DAY = timedelta(days=1)
ROLLBACK_DRIFT_PERCENT = 30.0


def window_queries(catalogue: Catalogue, start: datetime, end: datetime) -> list[RangeQuery]:
    """Every KPI component (and cost fallback) evaluated at the end of each 5-minute window.

    The PromQL keeps its ``$sel`` placeholder: the source fills in its own selector.
    """
    first = start + timedelta(seconds=STEP_SECONDS)
    out = []
    for kpi, spec in catalogue.kpis.items():
        if not spec.queries:
            raise InputError(f"KPI catalogue: kpis.{kpi}.queries: a collected KPI needs queries")
        for component, promql in {**spec.queries, **spec.fallback}.items():
            out.append(RangeQuery(f"{kpi}/{component}", promql, first, end, STEP_SECONDS))
    return out


def request_count(catalogue: Catalogue, start: datetime, end: datetime) -> int:
    """How many requests collecting a window takes (for the progress bar)."""
    return len(window_queries(catalogue, start, end))


def collect_window(
    source: MetricSource,
    catalogue: Catalogue,
    start: datetime,
    end: datetime,
    progress: Progress | None = None,
) -> dict[str, KpiWindow]:
    """Every KPI over the window; an answer unusable for one KPI costs that KPI only.

    Such a KPI is recorded as missing (null, never 0) and a ``SourceWarning``
    names it and the reason, so the day's other KPIs and SLOs are still judged.
    """
    fetched = source.fetch(window_queries(catalogue, start, end), progress)
    out = {}
    for kpi, spec in catalogue.kpis.items():
        components = {c: fetched[f"{kpi}/{c}"] for c in (*spec.queries, *spec.fallback)}
        window = kpi_window(spec, components, STEP_SECONDS, catalogue.pricing)
        if window.warning:
            _warn(kpi, window, source)
        out[kpi] = window
    return out


def _warn(kpi: str, window: KpiWindow, source: MetricSource) -> None:
    where = source.info.location
    if window.value is None:
        message = (
            f"{kpi}: no value: the answer from {where} is unusable: {window.warning}; "
            "recorded as missing, the other KPIs are unaffected"
        )
    else:
        message = f"{kpi}: {window.warning} in the answer from {where}"
    warnings.warn(SourceWarning(message, kpi if window.value is None else None), stacklevel=3)


def _rounded_series(series: np.ndarray) -> list[float | None]:
    """Six significant digits: plenty for tests on 5-minute values, a third of the bytes."""
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in series.tolist()]


def _kpi_values(catalogue: Catalogue, windows: Mapping[str, KpiWindow]) -> dict[str, KpiValue]:
    out = {}
    for kpi, spec in catalogue.kpis.items():
        window = windows[kpi]
        present = window.value is not None
        out[kpi] = KpiValue(
            value=window.value,
            unit=spec.unit,
            stats=series_stats(window.series) if present else None,
            counts=window.counts,
            series_5m=_rounded_series(window.series) if present else None,
        )
    return out


def slo_days(catalogue: Catalogue, windows: Mapping[str, KpiWindow]) -> dict[str, SloDay]:
    """Each SLO's bad fraction over the window.

    Ratio SLOs: the bad-event share, from the KPI's ratio of summed counts
    (100 - availability, or the error rate itself). Latency SLOs: the share of
    5-minute windows (with traffic) whose quantile exceeds the threshold.
    """
    out = {}
    for key, slo in catalogue.slos.items():
        window = windows.get(slo.kpi)
        spec = catalogue.kpis[slo.kpi]
        bad: float | None = None
        if window is not None and window.value is not None:
            if slo.kind == "latency":
                finite = window.series[np.isfinite(window.series)]
                assert slo.threshold is not None
                bad = float(np.mean(finite > slo.threshold)) if finite.size else None
            elif spec.direction == "higher":
                bad = min(max(1.0 - window.value / 100.0, 0.0), 1.0)
            else:
                bad = min(max(window.value / 100.0, 0.0), 1.0)
        out[key] = SloDay(
            kpi=slo.kpi,
            target_percent=slo.target_percent,
            period_days=slo.period_days,
            bad_fraction=bad,
        )
    return out


def day_window(ga: datetime, day: int) -> tuple[datetime, datetime]:
    start = ga + day * DAY
    return start, start + DAY


def _require_complete(end: datetime, now: datetime, what: str) -> None:
    if end > now:
        raise InputError(
            f"{what} is not complete until {format_utc(end)} (now {format_utc(now)}); "
            "run it after that"
        )


def latest_complete_day(ga: datetime, now: datetime) -> int:
    """The last release-week day whose window has ended, for a run without a day number."""
    day = math.floor((now - ga) / DAY) - 1
    if day < 1:
        raise InputError(
            f"day 1 is not complete until {format_utc(ga + 2 * DAY)}; nothing to monitor yet"
        )
    if day > WEEK_DAYS:
        raise SettingError(
            "day_number",
            "the release week ended on {end}; give {day_number} N (1..7) to re-run a day",
            end=format_utc(ga + (WEEK_DAYS + 1) * DAY),
        )
    return day


def build_ga_summary(
    source: MetricSource,
    catalogue: Catalogue,
    ga: datetime,
    now: datetime,
    progress: Progress | None = None,
) -> GaKpiSummary:
    """Phase 1: the GA day's KPIs and SLOs, and the pre-GA week as a second baseline."""
    start, end = day_window(ga, 0)
    _require_complete(end, now, "the GA day")
    windows = collect_window(source, catalogue, start, end, progress)
    pre_ga = None
    try:
        before = collect_window(source, catalogue, ga - WEEK_DAYS * DAY, ga, progress)
    except InputError:
        before = None  # the source does not reach back a week (e.g. the scenario starts later)
    if before is not None and any(w.value is not None for w in before.values()):
        pre_ga = _kpi_values(catalogue, before)
    return GaKpiSummary(
        ga_timestamp=ga,
        window=Window(start=start, end=end),
        generated_at=now,
        source=source.info,
        kpis=_kpi_values(catalogue, windows),
        pre_ga_kpis=pre_ga,
        slos=slo_days(catalogue, windows),
    )


def adverse_percent(spec: KpiSpec, baseline: float, value: float) -> float | None:
    """Change from baseline in percent, positive when worse (direction-aware)."""
    if baseline == 0 or spec.direction == "neutral":
        return None
    change = (value - baseline) / abs(baseline) * 100.0
    return change if spec.direction == "lower" else -change


def build_day_summary(
    source: MetricSource,
    catalogue: Catalogue,
    ga_summary: GaKpiSummary,
    day: int,
    now: datetime,
    progress: Progress | None = None,
) -> DaySummary:
    """Phase 2: one day's KPIs, drift vs GA, SLO outcomes and the rollback check.

    Rollback is recommended when an SLO was breached that day by a KPI 30% or
    more worse than on GA day, or an SLO burned faster than 14.4x. Requiring the
    breach keeps a tiny error rate moving from 0.03% to 0.04% (+33%) from
    calling for a rollback while the SLO is comfortably met.
    """
    if not 1 <= day <= WEEK_DAYS:
        raise SettingError(
            "day_number", "{day_number} {value}: the release week has days 1..7", day
        )
    ga = ga_summary.ga_timestamp
    start, end = day_window(ga, day)
    _require_complete(end, now, f"day {day}")
    windows = collect_window(source, catalogue, start, end, progress)
    kpis = _kpi_values(catalogue, windows)
    drift: dict[str, float | None] = {}
    for kpi, entry in kpis.items():
        ga_entry = ga_summary.kpis.get(kpi)
        if entry.value is None or ga_entry is None or not ga_entry.value:
            drift[kpi] = None
        else:
            drift[kpi] = (entry.value - ga_entry.value) / abs(ga_entry.value) * 100.0
    slos = slo_days(catalogue, windows)
    reasons = []
    for key, slo in slos.items():
        spec = catalogue.kpis[slo.kpi]
        name = catalogue.slo_name(key)
        value, baseline = kpis[slo.kpi].value, ga_summary.kpis.get(slo.kpi)
        if slo.breached and value is not None and baseline is not None and baseline.value:
            adverse = adverse_percent(spec, baseline.value, value)
            if adverse is not None and adverse >= ROLLBACK_DRIFT_PERCENT:
                reasons.append(
                    f"{name} SLO breached on day {day} with {slo.kpi} {adverse:.1f}% worse "
                    f"than on GA day ({value:.4g} vs {baseline.value:.4g} {spec.unit}; "
                    f"threshold {ROLLBACK_DRIFT_PERCENT:g}%)"
                )
        if slo.burn_rate is not None and slo.burn_rate > CRITICAL_BURN_RATE:
            reasons.append(
                f"{name} SLO burned its error budget at {slo.burn_rate:.1f}x on day {day} "
                f"(threshold {CRITICAL_BURN_RATE:g}x)"
            )
    return DaySummary(
        day_number=day,
        ga_timestamp=ga,
        window=Window(start=start, end=end),
        generated_at=now,
        source=source.info,
        kpis=kpis,
        drift_percent=drift,
        slos=slos,
        rollback_recommended=bool(reasons),
        rollback_reasons=reasons,
    )
