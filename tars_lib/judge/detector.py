"""The stateful EWMA z-score detector: one pass per series, compiled, parallel across series.

Per series, with ``alpha`` smoothing the mean and ``beta`` (slower) the variance::

    z_t = (x_t - m) / max(sqrt(v), floor)          m, v: the state before x_t
    every scored point:            v = (1 - beta) (v + beta r^2),  r = x_t - m clipped to +-10 sd
    in band (|z_t| <= threshold):  m += alpha (x_t - m)
    beyond the threshold:          an event opens; m is held (the baseline stays put)

An open event goes on while the series stays on the same side of the held
baseline by at least ``exit_z`` (hysteresis, a few in-band points of grace), so
it lasts until the series is back at its baseline, and that return is never an
event of its own; its peak is the point furthest from the held baseline. After
``shift_points`` points out of band the event ends as a level shift: the
baseline restarts at the new level (an EWMA of the event's points) and the
regression analysis, not the detector, judges the new level.

The first ``warmup`` columns (the GA day) only train the state. A series that
shows no spread there (no data, or a constant such as an error rate of exactly
0) has nothing to be surprised against, so its first ``warmup`` finite points
after the GA day train it instead: their mean squared one-step residual sets the
variance and the floor (1.5 x its root). Events are
capped per series and day (``max_per_day``); the rest are counted, so a
pathological fleet gives a bounded file. ``reference_detect`` is a plain-Python
restatement of the same rules, the tests' oracle for the compiled kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "EXIT_FRACTION",
    "GRACE_POINTS",
    "KIND_LEVEL_SHIFT",
    "KIND_SPIKE",
    "DetectorConfig",
    "RawEvents",
    "detect_matrix",
    "reference_detect",
    "reference_warmup_stats",
    "warmup_stats",
]

Array = npt.NDArray[np.float64]
KIND_SPIKE = 0
KIND_LEVEL_SHIFT = 1
EXIT_FRACTION = 0.5
"""An event stays open while |z| >= half the threshold on its side (hysteresis)."""
GRACE_POINTS = 2
"""In-band points an event may contain before it ends (a dip inside an incident)."""
FLOOR_MULTIPLIER = 1.5
RELATIVE_FLOOR = 0.001
VARIANCE_CLIP = 10.0
"""Each scored point moves the variance by at most this many standard deviations."""
UNLEARNED = 1e-12
"""A floor at or under this means the warm-up showed no spread: learn after it."""


@dataclass(frozen=True)
class DetectorConfig:
    """The detector's knobs in points (the settings are in ``AnomalyParameters``)."""

    z_threshold: float
    alpha: float
    beta: float
    shift_points: int
    day_points: int
    max_per_day: int
    warmup: int


@dataclass(frozen=True)
class RawEvents:
    """Events per series: row, first and last column, peak column, peak z, baseline, kind."""

    row: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]
    peak: npt.NDArray[np.int64]
    peak_z: Array
    baseline: Array
    new_level: Array
    kind: npt.NDArray[np.int64]
    suppressed: npt.NDArray[np.int64]  # per row: events over the per-day cap


def warmup_stats(values: Array, warmup: int, alpha: float) -> tuple[Array, Array]:
    """Per series: the standard-deviation floor and the initial variance, from the warm-up.

    Robust one-step EWMA residual spread (1.4826 x MAD) over the warm-up columns:
    the floor is 1.5 times it (and 0.1% of the level), so a flat series does not
    turn noise into incidents; the variance starts at its square. Compiled and
    parallel across series (``reference_warmup_stats`` is the oracle).
    """
    floor, var0 = _warmup_kernel(np.ascontiguousarray(values, dtype=np.float64), warmup, alpha)
    return np.asarray(floor, dtype=np.float64), np.asarray(var0, dtype=np.float64)


@numba.njit(parallel=True, cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _warmup_kernel(values: Array, warmup: int, alpha: float) -> tuple[Array, Array]:
    n = values.shape[0]
    w = max(2, min(warmup, values.shape[1]))
    floor = np.full(n, 1e-12)
    var0 = np.full(n, 1e-24)
    for i in numba.prange(n):
        resid = np.empty(w)
        count = 0
        kept = 0
        total = 0.0
        m = np.nan
        for t in range(w):
            x = values[i, t]
            if not math.isfinite(x):
                continue
            total += x
            kept += 1
            if math.isnan(m):
                m = x
                continue
            resid[count] = x - m
            count += 1
            m += alpha * (x - m)
        if kept < 2:
            continue
        r = resid[:count]
        centre = np.median(r)
        for k in range(count):
            r[k] = abs(r[k] - centre)
        spread = 1.4826 * np.median(r)
        fl = max(FLOOR_MULTIPLIER * spread, RELATIVE_FLOOR * abs(total / kept), 1e-12)
        floor[i] = fl
        var0[i] = max(spread, fl / FLOOR_MULTIPLIER) ** 2
    return floor, var0


def reference_warmup_stats(values: Array, warmup: int, alpha: float) -> tuple[Array, Array]:
    """``warmup_stats`` in plain Python with numpy's medians: the compiled one's test oracle.

    Per series: the standard-deviation floor and the initial variance, from the warm-up.

    Robust one-step EWMA residual spread (1.4826 x MAD) over the warm-up columns:
    the floor is 1.5 times it (and 0.1% of the level), so a flat series does not
    turn noise into incidents; the variance starts at its square.
    """
    w = max(2, min(warmup, values.shape[1]))
    block = np.array(values[:, :w], dtype=np.float64)
    n = block.shape[0]
    floor = np.full(n, 1e-12)
    var0 = np.full(n, 1e-24)
    for i in range(n):
        x = block[i][np.isfinite(block[i])]
        if x.size < 2:
            continue
        m = x[0]
        resid = np.empty(x.size - 1)
        for t in range(1, x.size):
            resid[t - 1] = x[t] - m
            m += alpha * (x[t] - m)
        spread = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        floor[i] = max(FLOOR_MULTIPLIER * spread, RELATIVE_FLOOR * abs(float(np.mean(x))), 1e-12)
        var0[i] = max(spread, floor[i] / FLOOR_MULTIPLIER) ** 2
    return floor, var0


IntMatrix = npt.NDArray[np.int64]


@numba.njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _close(
    i: int,
    k: int,
    day: int,
    day_count: int,
    where: tuple[int, int, int, int],
    values: tuple[float, float, float],
    limits: tuple[int, int, int, int],
    events: tuple[IntMatrix, IntMatrix, IntMatrix, IntMatrix, Array, Array, Array],
    suppressed: npt.NDArray[np.int64],
) -> tuple[int, int, int]:
    """Record a closed event in slot ``k`` of row ``i``, or count it over its day's cap."""
    first, last, peak, kind = where
    warmup, day_points, max_per_day, capacity = limits
    ev_first, ev_last, ev_peak, ev_kind, ev_peak_z, ev_base, ev_level = events
    event_day = (first - warmup) // day_points
    if event_day != day:
        day, day_count = event_day, 0
    if day_count < max_per_day and k < capacity:
        ev_first[i, k], ev_last[i, k], ev_peak[i, k], ev_kind[i, k] = first, last, peak, kind
        ev_peak_z[i, k], ev_base[i, k], ev_level[i, k] = values
        k += 1
    else:
        suppressed[i] += 1
    return k, day, day_count + 1


@numba.njit(parallel=True, cache=True, nogil=True)  # type: ignore[untyped-decorator]
def _kernel(  # one pass, one place: the state machine reads top down
    values: Array,
    floor: Array,
    var0: Array,
    warmup: int,
    threshold: float,
    alpha: float,
    beta: float,
    shift_points: int,
    day_points: int,
    max_per_day: int,
    capacity: int,
    out_z: Array,
    events: tuple[IntMatrix, IntMatrix, IntMatrix, IntMatrix, Array, Array, Array],
    ev_count: npt.NDArray[np.int64],
    suppressed: npt.NDArray[np.int64],
) -> None:
    n, t_len = values.shape
    keep_z = out_z.shape[0] == n
    exit_z = threshold * EXIT_FRACTION
    for i in numba.prange(n):
        m = np.nan
        v = var0[i]
        open_ = False
        sign = 0.0
        first = 0
        last = 0
        peak = 0
        peak_z = 0.0
        peak_dev = 0.0
        base = 0.0
        level = 0.0
        run = 0
        grace = 0
        day = -1
        day_count = 0
        k = 0
        lo = floor[i]
        learn = warmup if lo <= UNLEARNED else 0  # points still to learn from after warm-up
        sum_r2 = 0.0
        n_r = 0
        for t in range(t_len):
            x = values[i, t]
            if keep_z:
                out_z[i, t] = np.nan
            if not math.isfinite(x):
                continue
            if math.isnan(m):
                m = x
                continue
            if t < warmup:
                d = x - m
                m += alpha * d
                v = (1.0 - beta) * (v + beta * d * d)
                continue
            if learn > 0:  # no spread in the warm-up: this point trains the state instead
                d = x - m
                sum_r2 += d * d
                n_r += 1
                m += alpha * d
                learn -= 1
                if learn == 0:
                    v = sum_r2 / n_r
                    lo = max(FLOOR_MULTIPLIER * math.sqrt(v), UNLEARNED)
                continue
            sd = math.sqrt(v)
            if sd < lo:
                sd = lo
            z = (x - m) / sd
            if keep_z:
                out_z[i, t] = z
            # every scored point teaches the spread, also inside an event (against the
            # held baseline), its residual clipped so one spike cannot inflate it
            r = x - m
            lim = VARIANCE_CLIP * sd
            if r > lim:
                r = lim
            elif r < -lim:
                r = -lim
            v = (1.0 - beta) * (v + beta * r * r)
            if open_:
                if z * sign >= exit_z:
                    run += 1
                    grace = 0
                    last = t
                    level += alpha * (x - level)
                    if abs(x - m) > peak_dev:  # the peak is the furthest from the baseline
                        peak_dev = abs(x - m)
                        peak_z = z
                        peak = t
                    if run < shift_points:
                        continue
                    kind = KIND_LEVEL_SHIFT
                    m = level  # the baseline restarts at the new level
                elif grace < GRACE_POINTS and z * sign > -exit_z:
                    grace += 1
                    continue
                else:
                    kind = KIND_SPIKE
                open_ = False
                k, day, day_count = _close(
                    i, k, day, day_count, (first, last, peak, kind), (peak_z, base, level),
                    (warmup, day_points, max_per_day, capacity), events, suppressed,
                )  # fmt: skip
                if kind == KIND_LEVEL_SHIFT:
                    continue
            if abs(z) > threshold:
                open_ = True
                sign = 1.0 if z > 0 else -1.0
                first = t
                last = t
                peak = t
                peak_z = z
                peak_dev = abs(x - m)
                base = m
                level = x
                run = 1
                grace = 0
                continue
            m += alpha * (x - m)
        if open_:  # still open at the end of the data: recorded as it stands
            k, day, day_count = _close(
                i, k, day, day_count, (first, last, peak, KIND_SPIKE), (peak_z, base, level),
                (warmup, day_points, max_per_day, capacity), events, suppressed,
            )  # fmt: skip
        ev_count[i] = k


def detect_matrix(
    values: Array, config: DetectorConfig, keep_z: bool = False
) -> tuple[RawEvents, Array | None]:
    """Run the kernel over every row; the per-row z matrix only when asked (NAB scoring)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    n, t_len = values.shape
    floor, var0 = warmup_stats(values, config.warmup, config.alpha)
    days = max(1, -(-(t_len - config.warmup) // config.day_points) + 1)
    capacity = config.max_per_day * days
    out_z = np.empty((n, t_len)) if keep_z else np.empty((0, 0))
    shape = (n, capacity)
    first, last, peak, kind = (np.zeros(shape, dtype=np.int64) for _ in range(4))
    peak_z, base, level = (np.zeros(shape) for _ in range(3))
    count = np.zeros(n, dtype=np.int64)
    suppressed = np.zeros(n, dtype=np.int64)
    _kernel(
        values,
        floor,
        var0,
        config.warmup,
        config.z_threshold,
        config.alpha,
        config.beta,
        config.shift_points,
        config.day_points,
        config.max_per_day,
        capacity,
        out_z,
        (first, last, peak, kind, peak_z, base, level),
        count,
        suppressed,
    )
    mask = np.arange(capacity)[None, :] < count[:, None]
    rows = np.broadcast_to(np.arange(n)[:, None], shape)[mask]
    events = RawEvents(
        rows.astype(np.int64),
        first[mask],
        last[mask],
        peak[mask],
        peak_z[mask],
        base[mask],
        level[mask],
        kind[mask],
        suppressed,
    )
    return events, (out_z if keep_z else None)


def reference_detect(
    x: list[float], config: DetectorConfig, floor: float, var0: float
) -> list[tuple[int, int, int, float, float, int]]:
    """The detector's rules for one series in plain Python: the kernel's test oracle.

    Returns (first, last, peak, peak_z, baseline, kind) per recorded event.
    """
    exit_z = config.z_threshold * EXIT_FRACTION
    out: list[tuple[int, int, int, float, float, int]] = []
    per_day: dict[int, int] = {}
    mean: float | None = None
    var = var0
    event: dict[str, float] | None = None
    learning = config.warmup if floor <= UNLEARNED else 0
    residuals: list[float] = []

    def close(kind: int) -> None:
        assert event is not None
        day = (int(event["first"]) - config.warmup) // config.day_points
        per_day[day] = per_day.get(day, 0) + 1
        if per_day[day] <= config.max_per_day:
            out.append(
                (
                    int(event["first"]),
                    int(event["last"]),
                    int(event["peak"]),
                    event["peak_z"],
                    event["base"],
                    kind,
                )
            )

    for t, value in enumerate(x):
        if not math.isfinite(value):
            continue
        if mean is None:
            mean = value
            continue
        if t >= config.warmup and learning:
            residuals.append(value - mean)
            mean += config.alpha * (value - mean)
            learning -= 1
            if not learning:
                var = sum(r * r for r in residuals) / len(residuals)
                floor = max(FLOOR_MULTIPLIER * math.sqrt(var), UNLEARNED)
            continue
        sd = max(math.sqrt(var), floor)
        z = (value - mean) / sd
        if t < config.warmup:
            diff = value - mean
            mean += config.alpha * diff
            var = (1 - config.beta) * (var + config.beta * diff * diff)
            continue
        clipped = min(max(value - mean, -VARIANCE_CLIP * sd), VARIANCE_CLIP * sd)
        var = (1 - config.beta) * (var + config.beta * clipped * clipped)
        if event is None and abs(z) <= config.z_threshold:
            mean += config.alpha * (value - mean)
            continue
        if event is not None:
            side = z * event["sign"]
            if side >= exit_z:
                event.update(run=event["run"] + 1, grace=0, last=t)
                event["level"] += config.alpha * (value - event["level"])
                if abs(value - mean) > event["peak_dev"]:
                    event.update(peak_z=z, peak=t, peak_dev=abs(value - mean))
                if event["run"] >= config.shift_points:
                    close(KIND_LEVEL_SHIFT)
                    mean = event["level"]
                    event = None
                continue
            if event["grace"] < GRACE_POINTS and side > -exit_z:
                event["grace"] += 1
                continue
            close(KIND_SPIKE)
            event = None
            if abs(z) <= config.z_threshold:
                mean += config.alpha * (value - mean)
                continue
        event = {
            "sign": 1.0 if z > 0 else -1.0,
            "first": t,
            "last": t,
            "peak": t,
            "peak_z": z,
            "peak_dev": abs(value - mean),
            "base": mean,
            "level": value,
            "run": 1,
            "grace": 0,
        }
    if event is not None:
        close(KIND_SPIKE)
    return out
