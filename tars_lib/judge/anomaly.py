"""Phase 3: anomaly events and incidents from the stateful EWMA z-score detector.

The detector itself (``judge.detector``: one compiled pass per series, the
baseline held during an event, a slower variance, level shifts accepted after
``level_shift_hours``) turns the KPI matrix into events; this module gives each
event its meaning: impact from the KPI's direction (a latency drop or an
availability rise is an improvement, never an incident), severity from the
peak |z| (at most medium for a move under 20% of the expected value, at least
high when an SLO burned faster than its budget during the event), the change
that explains it if one was recorded, and the incidents the adverse events form.
``detect_days`` splits one detection into each day's evidence (the events that
start on the day) and ``combine_days`` rebuilds the week's view from the days.
``ewma_moments`` is the plain EWMA (pandas' ``ewm``), kept as the reference the
detector's arithmetic is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.changes import TOLERANCE, explaining_change
from tars_lib.core.models import (
    AnomalyEvent,
    AnomalyEvents,
    AnomalyParameters,
    Change,
    DayAnomalies,
    Severity,
    Window,
)
from tars_lib.judge.detector import (
    GRACE_POINTS,
    KIND_LEVEL_SHIFT,
    DetectorConfig,
    RawEvents,
    detect_matrix,
)
from tars_lib.judge.incidents import (
    Budgets,
    bad_fractions,
    budget_burned,
    group_incidents,
    slo_breached,
)

__all__ = [
    "SEVERITY_BANDS",
    "SMALL_CHANGE",
    "SeriesMatrix",
    "combine_days",
    "detect",
    "detect_days",
    "detector_config",
    "ewma_moments",
    "matrix_from_windows",
    "severity_of",
]

Array = npt.NDArray[np.float64]
SEVERITY_BANDS: tuple[tuple[float, Literal["critical", "high", "medium"]], ...] = (
    (9.0, "critical"),
    (6.0, "high"),
    (4.0, "medium"),
)
"""Peak |z| at or above 9 is critical, 6 high, 4 medium; anything over the threshold is low."""


SMALL_CHANGE = 0.2
"""An event moving its KPI less than 20% from the expected value is at most medium."""


def severity_of(
    peak_abs_z: float, relative_change: float = float("inf")
) -> Literal["low", "medium", "high", "critical"]:
    """From the peak |z|, capped at medium for a change under 20% of the expected value.

    The cap keeps a statistically sharp but small move (a flat cost series
    stepping up 12% scores z > 100) from being reported as an incident; SLO
    breaches, not anomalies, judge small moves of availability or error rate.
    """
    for bound, name in SEVERITY_BANDS:
        if peak_abs_z >= bound:
            if name in ("high", "critical") and relative_change < SMALL_CHANGE:
                return "medium"
            return name
    return "low"


def ewma_moments(x: Array, alpha: float, m0: Array, v0: Array) -> tuple[Array, Array]:
    """EWMA mean and EW variance after each point, rows are series, columns time.

    ``m0``/``v0`` are the state before the first column. With m0 = the first
    value and v0 = 0 this is pandas' ``ewm(alpha=alpha, adjust=False)`` mean and
    ``var(bias=True)`` (the tests use pandas as the oracle).
    """
    a = np.array([1.0, alpha - 1.0])
    mean = lfilter([alpha], a, x, axis=1, zi=((1.0 - alpha) * m0)[:, None])[0]
    previous = np.concatenate([m0[:, None], mean[:, :-1]], axis=1)
    d2 = (x - previous) ** 2
    var = lfilter([alpha * (1.0 - alpha)], a, d2, axis=1, zi=((1.0 - alpha) * v0)[:, None])[0]
    return np.asarray(mean), np.asarray(var)


@dataclass(frozen=True)
class SeriesMatrix:
    """Series on one 5-minute grid: ``values[i]`` belongs to ``kpis[i]`` with ``labels[i]``.

    ``timestamps[j]`` is the end of the j-th window; the first ``warmup`` columns
    are the GA day.
    """

    timestamps: npt.NDArray[np.int64]
    kpis: tuple[str, ...]
    labels: tuple[Mapping[str, str], ...]
    values: Array
    warmup: int
    step: int


def _impact(direction: str, kpi_direction: str) -> Literal["adverse", "improvement", "neutral"]:
    if kpi_direction == "neutral":
        return "neutral"
    worse = "up" if kpi_direction == "lower" else "down"
    return "adverse" if direction == worse else "improvement"


def _severity(peak_abs_z: float, change: float, breached: bool) -> Severity:
    """Peak |z| and relative change (``severity_of``), at least high when an SLO breached."""
    severity = severity_of(peak_abs_z, change)
    if breached and severity in ("low", "medium"):
        return "high"
    return severity


def detector_config(parameters: AnomalyParameters, step: int, warmup: int) -> DetectorConfig:
    """The settings (hours, per-day caps) in points of the matrix's grid."""
    return DetectorConfig(
        z_threshold=parameters.z_threshold,
        alpha=parameters.ewma_alpha,
        beta=parameters.variance_alpha,
        shift_points=max(1, round(parameters.level_shift_hours * 3600 / step)),
        day_points=max(1, 86400 // step),
        max_per_day=parameters.max_events_per_day,
        warmup=warmup,
    )


def detect(
    matrix: SeriesMatrix,
    catalogue: Catalogue,
    window: Window,
    parameters: AnomalyParameters,
    generated_at: datetime,
    changes: Sequence[Change] = (),
) -> AnomalyEvents:
    """Every event whose peak falls inside ``window``, ordered by start then KPI, and the
    incidents they form; events a recorded change explains are marked, never incidents."""
    raw, _ = detect_matrix(matrix.values, detector_config(parameters, matrix.step, matrix.warmup))
    lo, hi = int(window.start.timestamp()), int(window.end.timestamp())
    events = [e for e, _ in _events(matrix, raw, catalogue, changes) if lo < e.peak_at <= hi]
    found = [e.event for e in events]
    suppressed: dict[str, int] = {}
    for over in np.flatnonzero(raw.suppressed).tolist():
        name = matrix.kpis[over]
        suppressed[name] = suppressed.get(name, 0) + int(raw.suppressed[over])
    return AnomalyEvents(
        generated_at=generated_at,
        window=window,
        parameters=parameters,
        events=found,
        incidents=group_incidents(found, catalogue, _budgets(matrix, catalogue)),
        suppressed=suppressed,
        changes=[c for c in changes if window.start - TOLERANCE <= c.at < window.end],
    )


@dataclass(frozen=True)
class _Found:
    event: AnomalyEvent
    peak_at: int
    """The peak's window end (epoch seconds): what a window selects events by."""


def _events(
    matrix: SeriesMatrix, raw: RawEvents, catalogue: Catalogue, changes: Sequence[Change]
) -> list[tuple[_Found, bool]]:
    """The raw events with their meaning, ordered by start then KPI; the flag says the
    event may still be open at the end of the data (it could not be told apart)."""
    slos_of: dict[str, list[str]] = {}
    for key, slo in catalogue.slos.items():
        slos_of.setdefault(slo.kpi, []).append(key)
    finite = np.isfinite(matrix.values)
    found: list[tuple[_Found, bool]] = []
    for j in range(len(raw.row)):
        row, first, last, peak = (
            int(raw.row[j]),
            int(raw.first[j]),
            int(raw.last[j]),
            int(raw.peak[j]),
        )
        kpi = matrix.kpis[row]
        spec = catalogue.kpis.get(kpi)
        peak_z = float(raw.peak_z[j])
        observed, wanted = float(matrix.values[row, peak]), float(raw.baseline[j])
        change = abs(observed - wanted) / abs(wanted) if wanted else float("inf")
        direction: Literal["up", "down"] = "up" if peak_z > 0 else "down"
        segment = matrix.values[row, first : last + 1]
        breached = any(
            slo_breached(
                catalogue.slos[key],
                bad_fractions(catalogue.slos[key], spec.direction, segment),
            )
            for key in slos_of.get(kpi, [])
            if spec is not None
        )
        start = datetime.fromtimestamp(int(matrix.timestamps[first]) - matrix.step, UTC)
        end = datetime.fromtimestamp(int(matrix.timestamps[last]), UTC)
        level_shift = int(raw.kind[j]) == KIND_LEVEL_SHIFT
        explained = explaining_change(kpi, start, changes)
        event = AnomalyEvent(
            metric_name=kpi,
            labels=dict(matrix.labels[row]),
            start=start,
            end=end,
            duration_seconds=(end - start).total_seconds(),
            peak_z=round(peak_z, 3),
            observed=float(f"{observed:.6g}"),
            expected=float(f"{wanted:.6g}"),
            direction=direction,
            impact=_impact(direction, spec.direction if spec else "neutral"),
            severity=_severity(abs(peak_z), change, breached),
            kind="level_shift" if level_shift else "spike",
            new_level=float(f"{float(raw.new_level[j]):.6g}") if level_shift else None,
            slo_breached=breached,
            explained_by=explained.description if explained else None,
        )
        # a closed spike has more than GRACE_POINTS values after its last point (the
        # grace it was given, then the one that closed it); fewer: maybe still open
        maybe_open = not level_shift and int(finite[row, last + 1 :].sum()) <= GRACE_POINTS
        found.append((_Found(event, int(matrix.timestamps[peak])), maybe_open))
    found.sort(key=lambda f: (f[0].event.start, f[0].event.metric_name))
    return found


DAY = timedelta(days=1)


def detect_days(
    matrix: SeriesMatrix,
    catalogue: Catalogue,
    ga: datetime,
    days: Iterable[int],
    parameters: AnomalyParameters,
    generated_at: datetime,
    changes: Sequence[Change] = (),
) -> list[DayAnomalies]:
    """Each of ``days``' evidence from one detection over the matrix (GA day onwards).

    A day holds the events that start on it. The detector is causal, so a day's
    events and its count of suppressed events are the same in any detection whose
    data covers the day; an event still running at the end of the data is
    recorded as it stands and the day marked incomplete. The per-day suppressed
    counts come from detections over the data up to each day's end (a few
    milliseconds each), since the kernel only counts them per series.
    """
    config = detector_config(parameters, matrix.step, matrix.warmup)
    raw, _ = detect_matrix(matrix.values, config)
    found = _events(matrix, raw, catalogue, changes)
    through = datetime.fromtimestamp(int(matrix.timestamps[-1]), UTC)
    stamps = matrix.timestamps

    def columns_through(moment: datetime) -> int:
        return int(np.searchsorted(stamps, moment.timestamp(), side="right"))

    counted: dict[int, npt.NDArray[np.int64]] = {}

    def suppressed_through(day: int) -> npt.NDArray[np.int64]:
        """Suppressed events per series that started on days 1..``day``."""
        if day not in counted:
            n = columns_through(ga + (day + 1) * DAY)
            if day < 1 or n <= matrix.warmup:
                counted[day] = np.zeros(len(matrix.kpis), dtype=np.int64)
            elif n >= len(stamps):
                counted[day] = raw.suppressed
            else:
                counted[day] = detect_matrix(matrix.values[:, :n], config)[0].suppressed
        return counted[day]

    slo_kpis = {slo.kpi for slo in catalogue.slos.values()}
    slo_rows = [i for i, k in enumerate(matrix.kpis) if k in slo_kpis and not matrix.labels[i]]
    out: list[DayAnomalies] = []
    for day in sorted(set(days)):
        window = Window(start=ga + day * DAY, end=ga + (day + 1) * DAY)
        mine = [(f.event, o) for f, o in found if window.start <= f.event.start < window.end]
        over = suppressed_through(day) - suppressed_through(day - 1)
        lo, hi = columns_through(window.start), columns_through(window.end)
        out.append(
            DayAnomalies(
                day_number=day,
                generated_at=generated_at,
                window=window,
                detected_through=through,
                parameters=parameters,
                events=[e for e, _ in mine],
                suppressed={matrix.kpis[i]: int(over[i]) for i in np.flatnonzero(over).tolist()},
                complete=not any(o for _, o in mine),
                slo_series={
                    matrix.kpis[i]: [
                        float(v) if np.isfinite(v) else None for v in matrix.values[i, lo:hi]
                    ]
                    for i in slo_rows
                },
                changes=[c for c in changes if window.start - TOLERANCE <= c.at < window.end],
            )
        )
    return out


def combine_days(
    days: Sequence[DayAnomalies], catalogue: Catalogue, generated_at: datetime
) -> AnomalyEvents:
    """The week's view from the days' evidence: their events in time order, the incidents
    regrouped over all of them (so one spanning midnight is one), budgets from the days'
    SLO series. The parameters are the latest day's."""
    if not days:
        raise ValueError("combine_days needs at least one day")
    ordered = sorted(days, key=lambda d: d.day_number)
    events = sorted((e for d in ordered for e in d.events), key=lambda e: (e.start, e.metric_name))
    totals: dict[str, int] = {}
    for d in ordered:
        for kpi, count in d.suppressed.items():
            totals[kpi] = totals.get(kpi, 0) + count
    rank = {k: i for i, k in enumerate(catalogue.kpis)}  # the detector's row order
    suppressed = {k: totals[k] for k in sorted(totals, key=lambda k: rank.get(k, len(rank)))}
    changes: list[Change] = []
    for d in ordered:
        changes += [c for c in d.changes if c not in changes]
    window = Window(start=ordered[0].window.start, end=ordered[-1].window.end)
    return AnomalyEvents(
        generated_at=generated_at,
        window=window,
        parameters=ordered[-1].parameters,
        events=events,
        incidents=group_incidents(events, catalogue, _budgets(_slo_matrix(ordered), catalogue)),
        suppressed=suppressed,
        changes=changes,
    )


def _slo_matrix(days: Sequence[DayAnomalies]) -> SeriesMatrix:
    """The SLO KPIs' series over the days (a day without evidence is a gap)."""
    points = max((len(v) for d in days for v in d.slo_series.values()), default=0) or 288
    step = 86400 // points
    first, last = days[0].day_number, days[-1].day_number
    kpis = tuple(dict.fromkeys(k for d in days for k in d.slo_series))
    values = np.full((len(kpis), points * (last - first + 1)), np.nan)
    for d in days:
        at = (d.day_number - first) * points
        for i, kpi in enumerate(kpis):
            row = d.slo_series.get(kpi, [])
            values[i, at : at + len(row)] = [np.nan if v is None else v for v in row]
    start = int(days[0].window.start.timestamp())
    stamps = np.arange(start + step, start + step * (values.shape[1] + 1), step, dtype=np.int64)
    return SeriesMatrix(stamps, kpis, tuple({} for _ in kpis), values, 0, step)


def _budgets(matrix: SeriesMatrix, catalogue: Catalogue) -> Budgets:
    """Budget burned per SLO over an incident's span, from the SLO KPIs' own rows."""
    rows = {k: i for i, k in enumerate(matrix.kpis) if not matrix.labels[i]}

    def burned(start: datetime, end: datetime, kpis: set[str]) -> dict[str, float]:
        first = int(np.searchsorted(matrix.timestamps, start.timestamp() + matrix.step))
        last = int(np.searchsorted(matrix.timestamps, end.timestamp(), side="right"))
        used: dict[str, float] = {}
        for key, slo in catalogue.slos.items():
            row = rows.get(slo.kpi)
            if row is None:
                continue
            direction = catalogue.kpis[slo.kpi].direction
            bad = bad_fractions(slo, direction, matrix.values[row, first:last])
            # the incident's own KPIs' SLOs, and any SLO it made burn faster than 1x
            if slo.kpi in kpis or slo_breached(slo, bad):
                used[catalogue.slo_name(key)] = round(budget_burned(slo, bad, matrix.step), 2)
        return used

    return burned


def matrix_from_windows(
    kpis: Sequence[str],
    series: Mapping[str, Array],
    timestamps: npt.NDArray[np.int64],
    warmup: int,
    step: int,
) -> SeriesMatrix:
    """Stack KPI series (same grid) into one matrix; KPIs without data are left out."""
    keep = [k for k in kpis if k in series and np.isfinite(series[k]).any()]
    values = np.array([series[k] for k in keep]) if keep else np.empty((0, len(timestamps)))
    return SeriesMatrix(timestamps, tuple(keep), tuple({} for _ in keep), values, warmup, step)
