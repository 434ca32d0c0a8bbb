"""Phase 3: anomaly events and incidents from the stateful EWMA z-score detector.

The detector itself (``judge.detector``: one compiled pass per series, the
baseline held during an event, a slower variance, level shifts accepted after
``level_shift_hours``) turns the KPI matrix into events; this module gives each
event its meaning: impact from the KPI's direction (a latency drop or an
availability rise is an improvement, never an incident), severity from the
peak |z| (at most medium for a move under 20% of the expected value, at least
high when an SLO burned faster than its budget during the event), the change
that explains it if one was recorded, and the incidents the adverse events form.
``ewma_moments`` is the plain EWMA (pandas' ``ewm``), kept as the reference the
detector's arithmetic is tested against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
    Severity,
    Window,
)
from tars_lib.judge.detector import KIND_LEVEL_SHIFT, DetectorConfig, detect_matrix
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
    "detect",
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
    lo, hi = int(window.start.timestamp()), int(window.end.timestamp())
    raw, _ = detect_matrix(matrix.values, detector_config(parameters, matrix.step, matrix.warmup))
    slos_of: dict[str, list[str]] = {}
    for key, slo in catalogue.slos.items():
        slos_of.setdefault(slo.kpi, []).append(key)
    events: list[AnomalyEvent] = []
    for j in range(len(raw.row)):
        row, first, last, peak = (
            int(raw.row[j]),
            int(raw.first[j]),
            int(raw.last[j]),
            int(raw.peak[j]),
        )
        peak_t = int(matrix.timestamps[peak])
        if not lo < peak_t <= hi:
            continue
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
        events.append(
            AnomalyEvent(
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
        )
    events.sort(key=lambda e: (e.start, e.metric_name))
    suppressed: dict[str, int] = {}
    for over in np.flatnonzero(raw.suppressed).tolist():
        name = matrix.kpis[over]
        suppressed[name] = suppressed.get(name, 0) + int(raw.suppressed[over])
    return AnomalyEvents(
        generated_at=generated_at,
        window=window,
        parameters=parameters,
        events=events,
        incidents=group_incidents(events, catalogue, _budgets(matrix, catalogue)),
        suppressed=suppressed,
        changes=[c for c in changes if window.start - TOLERANCE <= c.at < window.end],
    )


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
