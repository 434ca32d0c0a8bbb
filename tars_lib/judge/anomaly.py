"""Phase 3: EWMA z-score anomaly detection, vectorized across series.

For each series, with smoothing factor alpha:

    m_t = alpha x_t + (1 - alpha) m_{t-1}                    (EWMA mean)
    v_t = (1 - alpha) (v_{t-1} + alpha (x_t - m_{t-1})^2)    (EW variance)
    z_t = (x_t - m_{t-1}) / max(sqrt(v_{t-1}), floor)        (before x_t updates the state)

Both recursions are first-order linear filters, so ``scipy.signal.lfilter``
runs them along the time axis for every series at once: no Python loop over
points. The state is warmed up on the GA day, and the standard deviation is
floored at 1.5 times the GA day's robust one-step residual spread (and 0.1% of
its level), so a flat or very quiet series does not turn noise into incidents.

Consecutive points beyond the threshold with the same sign are one event. Its
severity comes from the peak |z| (at most medium for a move under 20% of the
expected value); its impact from the KPI's direction, so a
latency drop or an availability rise is an improvement, never an incident.
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
from tars_lib.core.models import AnomalyEvent, AnomalyEvents, AnomalyParameters, Window

__all__ = [
    "BLOCK_ROWS",
    "FLOOR_MULTIPLIER",
    "RELATIVE_FLOOR",
    "SEVERITY_BANDS",
    "SMALL_CHANGE",
    "SeriesMatrix",
    "detect",
    "ewma_moments",
    "find_events",
    "matrix_from_windows",
    "severity_of",
    "zscores",
]

Array = npt.NDArray[np.float64]
SEVERITY_BANDS: tuple[tuple[float, Literal["critical", "high", "medium"]], ...] = (
    (9.0, "critical"),
    (6.0, "high"),
    (4.0, "medium"),
)
"""Peak |z| at or above 9 is critical, 6 high, 4 medium; anything over the threshold is low."""
FLOOR_MULTIPLIER = 1.5
BLOCK_ROWS = 512
"""Series scored at once by ``detect``: bounds its memory on large fleets."""
RELATIVE_FLOOR = 0.001


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


def _fill(x: Array) -> tuple[Array, npt.NDArray[np.bool_]]:
    """Forward-fill NaN gaps (back-fill a leading gap) so the filters keep a state."""
    missing = ~np.isfinite(x)
    if not missing.any():
        return x, missing
    idx = np.where(missing, 0, np.arange(x.shape[1])[None, :])
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = x[np.arange(x.shape[0])[:, None], idx]
    first = np.argmax(~missing, axis=1)
    lead = np.arange(x.shape[1])[None, :] < first[:, None]
    filled = np.where(lead, x[np.arange(x.shape[0]), first][:, None], filled)
    return filled, missing


def zscores(x: Array, alpha: float, warmup: int) -> tuple[Array, Array]:
    """z and the expected value (m_{t-1}) for every point after the first ``warmup`` columns.

    The first ``warmup`` columns (the GA day) only warm the state up and set the floor.
    Same arithmetic as ``ewma_moments``, written to reuse buffers: a few passes over
    the data instead of a dozen temporaries.
    """
    filled, missing = _fill(np.asarray(x, dtype=np.float64))
    m0 = filled[:, 0].copy()
    a = np.array([1.0, alpha - 1.0])
    mean = lfilter([alpha], a, filled, axis=1, zi=((1.0 - alpha) * m0)[:, None])[0]
    expected = np.empty_like(filled)
    expected[:, 0] = m0
    expected[:, 1:] = mean[:, :-1]
    del mean
    z = np.subtract(filled, expected)  # the residual, divided in place below
    var = lfilter([alpha * (1.0 - alpha)], a, np.square(z), axis=1, zi=np.zeros((len(z), 1)))[0]
    sd = np.empty_like(filled)
    sd[:, 0] = 0.0
    np.sqrt(var[:, :-1], out=sd[:, 1:])
    del var
    w = max(2, min(warmup, filled.shape[1]))
    residual = z[:, 1:w]
    mad = np.median(np.abs(residual - np.median(residual, axis=1, keepdims=True)), axis=1)
    level = np.abs(np.mean(filled[:, :w], axis=1))
    floor = np.maximum(FLOOR_MULTIPLIER * 1.4826 * mad, RELATIVE_FLOOR * level)
    np.maximum(sd, np.maximum(floor, 1e-12)[:, None], out=sd)
    np.divide(z, sd, out=z)
    z[missing] = np.nan
    z[:, :warmup] = np.nan
    return z, expected


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


def find_events(z: Array, threshold: float) -> list[tuple[int, int, int]]:
    """Runs of consecutive same-sign points beyond the threshold: (row, first, last) columns."""
    n, t = z.shape
    padded = np.zeros((n, t + 2), dtype=np.int8)  # +1 above, -1 below, 0 otherwise (NaN: 0)
    np.greater(z, threshold, out=padded[:, 1:-1].view(np.bool_))
    padded[:, 1:-1] -= (z < -threshold).view(np.int8)
    flat = padded.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = change[flat[change] != 0]
    # each run ends where the value next changes
    ends = change[np.searchsorted(change, starts, side="right")] - 1
    rows = starts // (t + 2)
    return list(
        zip(
            rows.tolist(),
            (starts % (t + 2) - 1).tolist(),
            (ends % (t + 2) - 1).tolist(),
            strict=True,
        )
    )


def _impact(direction: str, kpi_direction: str) -> Literal["adverse", "improvement", "neutral"]:
    if kpi_direction == "neutral":
        return "neutral"
    worse = "up" if kpi_direction == "lower" else "down"
    return "adverse" if direction == worse else "improvement"


def detect(
    matrix: SeriesMatrix,
    catalogue: Catalogue,
    window: Window,
    z_threshold: float,
    ewma_alpha: float,
    generated_at: datetime,
) -> AnomalyEvents:
    """Every event whose peak falls inside ``window``, ordered by start then KPI.

    Rows are scored in blocks of ``BLOCK_ROWS`` series, so the working arrays of
    the filters stay a few hundred MB whatever the fleet size: 10,000 series over
    30 days at 5 minutes peak near the input's own size (see docs/benchmarks.md).
    """
    lo, hi = int(window.start.timestamp()), int(window.end.timestamp())
    events: list[AnomalyEvent] = []
    for block in range(0, len(matrix.values), BLOCK_ROWS):
        values = matrix.values[block : block + BLOCK_ROWS]
        z, expected = zscores(values, ewma_alpha, matrix.warmup)
        for local, first, last in find_events(z, z_threshold):
            row = block + local
            segment = np.abs(z[local, first : last + 1])
            peak = first + int(np.nanargmax(segment))
            peak_t = int(matrix.timestamps[peak])
            if not lo < peak_t <= hi:
                continue
            kpi = matrix.kpis[row]
            spec = catalogue.kpis.get(kpi)
            peak_z = float(z[local, peak])
            observed, wanted = float(values[local, peak]), float(expected[local, peak])
            change = abs(observed - wanted) / abs(wanted) if wanted else float("inf")
            direction: Literal["up", "down"] = "up" if peak_z > 0 else "down"
            start = int(matrix.timestamps[first]) - matrix.step
            end = int(matrix.timestamps[last])
            events.append(
                AnomalyEvent(
                    metric_name=kpi,
                    labels=dict(matrix.labels[row]),
                    start=datetime.fromtimestamp(start, UTC),
                    end=datetime.fromtimestamp(end, UTC),
                    duration_seconds=float(end - start),
                    peak_z=round(peak_z, 3),
                    observed=float(f"{observed:.6g}"),
                    expected=float(f"{wanted:.6g}"),
                    direction=direction,
                    impact=_impact(direction, spec.direction if spec else "neutral"),
                    severity=severity_of(abs(peak_z), change),
                )
            )
    events.sort(key=lambda e: (e.start, e.metric_name))
    return AnomalyEvents(
        generated_at=generated_at,
        window=window,
        parameters=AnomalyParameters(z_threshold=z_threshold, ewma_alpha=ewma_alpha),
        events=events,
    )


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
