"""Phases 1 and 2: the GA-day baseline and the daily stability summaries.

Both collect the catalogue's KPIs over one UTC day from a ``MetricSource``,
every query at a 5-minute step, and turn them into the artifacts' models.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from tars_lib.collect.aggregates import KpiWindow, kpi_window, series_stats
from tars_lib.core.catalogue import Catalogue, KpiSpec
from tars_lib.core.errors import InputError, SettingError, SourceError
from tars_lib.core.formatting import coverage_text
from tars_lib.core.models import (
    WEEK_DAYS,
    DaySummary,
    GaKpiSummary,
    KpiValue,
    SloDay,
    Window,
    format_utc,
    is_partial,
)
from tars_lib.core.policy import CRITICAL_BURN_RATE, MIN_COVERAGE
from tars_lib.sources.base import (
    MetricSource,
    Progress,
    RangeQuery,
    SeriesSet,
    SourceWarning,
    apply_selector,
)

__all__ = [
    "ROLLBACK_DRIFT_PERCENT",
    "STEP_SECONDS",
    "Quality",
    "adverse_percent",
    "build_day_summary",
    "build_ga_summary",
    "collect_window",
    "collect_window_quality",
    "coverage_mask",
    "day_window",
    "expected_points",
    "latest_complete_day",
    "partial_message",
    "request_count",
    "require_coverage",
    "slo_days",
]

STEP_SECONDS = 300
DAY = timedelta(days=1)
ROLLBACK_DRIFT_PERCENT = 30.0


def window_queries(catalogue: Catalogue, start: datetime, end: datetime) -> list[RangeQuery]:
    """Every KPI component (and cost fallback) evaluated at the end of each 5-minute window.

    Each query carries its KPI's exporter as ``family``; the catalogue's selector
    for that exporter goes where the PromQL says ``$sel``, and the placeholder
    stays after it: the source adds its own selector for the family (``--selector``).
    """
    first = start + timedelta(seconds=STEP_SECONDS)
    out = []
    for kpi, spec in catalogue.kpis.items():
        if not spec.queries:
            raise InputError(f"KPI catalogue: kpis.{kpi}.queries: a collected KPI needs queries")
        family = spec.exporter
        selector = catalogue.selectors.get(family)
        for component, promql in {**spec.queries, **spec.fallback}.items():
            query = apply_selector(promql, selector, keep=True)
            out.append(
                RangeQuery(f"{kpi}/{component}", query, first, end, STEP_SECONDS, family=family)
            )
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
    # The day's coverage is said by the day's summary (phase 2); a multi-day window
    # (phase 3) would say the same gap again at another scale.
    return collect_window_quality(source, catalogue, start, end, progress, say_coverage=False)[0]


@dataclass(frozen=True)
class Quality:
    """How much of a KPI's window the backend gave, and what it said about it."""

    coverage: float
    """Share of the window's expected 5-minute points present (see ``coverage_mask``)."""
    missing: int
    expected: int
    backend: tuple[str, ...] = ()
    """The backend's own warnings on the KPI's queries (``SeriesSet.warnings``)."""


def collect_window_quality(
    source: MetricSource,
    catalogue: Catalogue,
    start: datetime,
    end: datetime,
    progress: Progress | None = None,
    *,
    say_coverage: bool = True,
) -> tuple[dict[str, KpiWindow], dict[str, Quality]]:
    """``collect_window`` and each KPI's coverage and backend warnings."""
    fetched = source.fetch(window_queries(catalogue, start, end), progress)
    grid = expected_points(start, end)
    out, quality = {}, {}
    for kpi, spec in catalogue.kpis.items():
        components = {c: fetched[f"{kpi}/{c}"] for c in (*spec.queries, *spec.fallback)}
        window = kpi_window(spec, components, STEP_SECONDS, catalogue.pricing)
        if window.warning:
            _warn(kpi, window, source)
        out[kpi] = window
        present = coverage_mask(spec, components, grid)
        said = (str(w) for s in components.values() for w in getattr(s, "warnings", ()))
        quality[kpi] = Quality(
            coverage=round(float(present.mean()), 6) if grid.size else 0.0,
            missing=int(grid.size - present.sum()),
            expected=int(grid.size),
            backend=tuple(dict.fromkeys(said)),
        )
    if say_coverage:
        _warn_quality(quality, {k for k, w in out.items() if w.value is not None}, source, start)
    return out, quality


def expected_points(start: datetime, end: datetime) -> npt.NDArray[np.int64]:
    """The evaluation times of a window: the end of each 5-minute step, ``start`` excluded."""
    first = int(start.timestamp()) + STEP_SECONDS
    return np.arange(first, int(end.timestamp()) + 1, STEP_SECONDS, dtype=np.int64)


def _present(series: SeriesSet, grid: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Points of ``grid`` where at least one of the answer's series has a finite value.

    A stale marker or a gap is no point in the answer, NaN is not finite: both absent.
    """
    values = np.asarray(series.values, dtype=np.float64)
    if not len(series.labels) or values.size == 0:
        return np.zeros(grid.shape, dtype=bool)
    finite = np.isfinite(values.reshape(len(series.labels), -1)).any(axis=0)
    return np.isin(grid, np.asarray(series.timestamps)[finite])


def coverage_mask(
    spec: KpiSpec, components: Mapping[str, SeriesSet], grid: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Points where every component the KPI's value comes from is present.

    A ratio needs numerator and denominator, a histogram its buckets; a KPI with
    a fallback (cost) is covered by its fallback's components when its own
    queries returned nothing, as its value is.
    """
    used = [components[c] for c in spec.queries]
    if spec.fallback and not all(s.has_data for s in used):
        fallback = [components[c] for c in spec.fallback]
        if all(s.has_data for s in fallback):
            used = fallback
    mask = np.ones(grid.shape, dtype=bool)
    for series in used:
        mask &= _present(series, grid)
    return mask


def _warn_quality(
    quality: Mapping[str, Quality], valued: set[str], source: MetricSource, start: datetime
) -> None:
    """One line for the KPIs with points missing.

    Only KPIs with a value: one without any is reported as missing (``warn_missing``).
    """
    where = source.info.location
    short = {k: q for k, q in quality.items() if q.missing and q.expected and k in valued}
    if short:
        if len(short) <= 3:
            parts = ", ".join(
                f"{k} {q.coverage * 100:.1f}% ({q.missing} of {q.expected} missing)"
                for k, q in short.items()
            )
        else:  # a backend gap hits every KPI: one phrase, not fourteen
            lost = sorted({q.missing for q in short.values()})
            counts = f"{lost[0]}" if len(lost) == 1 else f"{lost[0]}-{lost[-1]}"
            expected = max(q.expected for q in short.values())
            parts = (
                f"{coverage_text({k: q.coverage for k, q in short.items()})}, "
                f"{counts} of {expected} points missing"
            )
        partial = [k for k, q in short.items() if is_partial(q.coverage)]
        tail = (
            f"; partial (below {MIN_COVERAGE * 100:g}%): "
            f"{', '.join(partial) if len(partial) <= 3 else f'{len(partial)} KPIs'}: "
            "SLOs judged on them are unknown"
            if partial
            else ""
        )
        warnings.warn(
            SourceWarning(
                f"{start:%Y-%m-%d}: 5-minute points missing or NaN in the answers from "
                f"{where}: {parts}{tail}"
            ),
            stacklevel=3,
        )
    # The backend's own warnings were said by the source as they arrived (one line
    # each, naming the KPI); here they are only recorded on the KPIs.


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


def _kpi_values(
    catalogue: Catalogue,
    windows: Mapping[str, KpiWindow],
    quality: Mapping[str, Quality] | None = None,
) -> dict[str, KpiValue]:
    out = {}
    for kpi, spec in catalogue.kpis.items():
        window = windows[kpi]
        present = window.value is not None
        q = (quality or {}).get(kpi)
        said = list(q.backend) if q else []  # the aggregates' notes are warnings already
        if q is not None and q.missing:
            low = present and is_partial(q.coverage)
            said.append(
                f"{q.missing} of {q.expected} 5-minute points missing or NaN "
                f"(coverage {q.coverage * 100:.1f}%"
                + (f", below {MIN_COVERAGE * 100:g}%: partial)" if low else ")")
            )
        out[kpi] = KpiValue(
            value=window.value,
            unit=spec.unit,
            stats=series_stats(window.series) if present else None,
            counts=window.counts,
            series_5m=_rounded_series(window.series) if present else None,
            coverage=q.coverage if q else None,
            warnings=said,
        )
    return out


def partial_message(what: str, kpis: Mapping[str, KpiValue]) -> str | None:
    """The KPIs below ``MIN_COVERAGE`` (with a value or not) as one line, None if none."""
    partial = {k: v.coverage for k, v in kpis.items() if is_partial(v.coverage)}
    if not partial:
        return None
    listed = coverage_text(partial, listed=len(partial))  # an error names every KPI
    return (
        f"{what}: partial data: coverage below {MIN_COVERAGE * 100:g}% for {listed} "
        "(share of the expected 5-minute points the backend returned)"
    )


def require_coverage(what: str, kpis: Mapping[str, KpiValue]) -> None:
    """``--strict``: a ``SourceError`` naming the partial KPIs and their coverage."""
    message = partial_message(what, kpis)
    if message is not None:
        raise SourceError(f"{message}; --strict refuses partial data, nothing was written")


def slo_days(
    catalogue: Catalogue,
    windows: Mapping[str, KpiWindow],
    quality: Mapping[str, Quality] | None = None,
) -> dict[str, SloDay]:
    """Each SLO's bad fraction over the window, with the coverage of its KPI.

    Ratio SLOs: the bad-event share, from the KPI's ratio of summed counts
    (100 - availability, or the error rate itself). Latency SLOs: the share of
    5-minute windows (with traffic) whose quantile exceeds the threshold. Below
    ``MIN_COVERAGE`` an SLO within budget is "unknown" (``SloDay.status``).
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
            coverage=q.coverage if (q := (quality or {}).get(slo.kpi)) else None,
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
    windows, quality = collect_window_quality(source, catalogue, start, end, progress)
    pre_ga = None
    try:
        before, before_quality = collect_window_quality(
            source, catalogue, ga - WEEK_DAYS * DAY, ga, progress
        )
    except InputError:
        before = None  # the source does not reach back a week (e.g. the scenario starts later)
    if before is not None and any(w.value is not None for w in before.values()):
        pre_ga = _kpi_values(catalogue, before, before_quality)
    return GaKpiSummary(
        ga_timestamp=ga,
        window=Window(start=start, end=end),
        generated_at=now,
        source=source.info,
        kpis=_kpi_values(catalogue, windows, quality),
        pre_ga_kpis=pre_ga,
        slos=slo_days(catalogue, windows, quality),
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
    windows, quality = collect_window_quality(source, catalogue, start, end, progress)
    kpis = _kpi_values(catalogue, windows, quality)
    drift: dict[str, float | None] = {}
    for kpi, entry in kpis.items():
        ga_entry = ga_summary.kpis.get(kpi)
        if entry.value is None or ga_entry is None or not ga_entry.value:
            drift[kpi] = None
        else:
            drift[kpi] = (entry.value - ga_entry.value) / abs(ga_entry.value) * 100.0
    slos = slo_days(catalogue, windows, quality)
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
