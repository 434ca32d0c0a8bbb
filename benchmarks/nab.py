"""T.A.R.S.'s anomaly detector on the Numenta Anomaly Benchmark (NAB).

The scorer follows ``SCORING.md`` of the NAB data bundle (``../shared/benchmarks/nab``):
probation, the scaled sigmoid, per-row true/false-positive weights, file scores, one
threshold per profile for the whole corpus (swept over the distinct anomaly scores) and
normalisation against the null and perfect detectors.

Detectors (``score_stream``), each with one setting for the whole corpus and no look-ahead.
The library's detector (``tars_lib.judge.detector.detect_matrix``) runs once over each file
with ``keep_z=True``: warm-up = the file's probation rows, points per day and level-shift
points from the file's step (``anomaly.detector_config``), every other setting from
``AnomalyParameters`` as given (the library defaults unless a grid point says otherwise).

- ``default``: the score is ``|z| / (|z| + 3)`` at an event's first point (its onset) when
  it beats every onset score of the previous ``LOOKBACK`` rows, 0 elsewhere. An event
  already open, or its return to the baseline, is not a new detection.
- ``record``: ``default`` plus a record check. Candidates are the onsets and the first
  point of each run of new records (a value beyond the running max, or min, of every
  earlier value by ``RECORD_MARGIN`` of their range, even inside an open event); a
  record scores ``0.5 + 0.5 s``, an onset that is no record ``0.5 s`` (s = |z| / (|z| + 3)),
  with the same ``LOOKBACK`` rule over all candidates. Records outrank every onset, so
  one threshold can keep records only, or records and the strongest onsets.
- ``plain_ewma``: the detector before the rewrite, as the before figure: plain EWMA mean
  and variance (``anomaly.ewma_moments``, nothing held), the same floor, and
  ``|z| / (|z| + 3)`` at every row.

Every score is in [0, 1] and uses the rows up to its own only (the warm-up statistics use
the probation rows, which are never scored).

Beside them: the ``variance_alpha`` grid (``VARIANCE_ALPHAS`` x ``default`` and ``record``
at each of ``RECORD_MARGINS``) and a split-half check (choose on half of the files, score
on the other half). ``python -m benchmarks.nab`` runs it all and prints the scores beside
NAB's scoreboard.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tars_lib.core.models import AnomalyParameters
from tars_lib.judge.anomaly import detector_config, ewma_moments
from tars_lib.judge.detector import DetectorConfig, detect_matrix, warmup_stats

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DetectFn = Callable[[Array, DetectorConfig, bool], tuple[Any, "Array | None"]]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_NAB_DIR = REPO.parent / "shared" / "benchmarks" / "nab"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "nab_results"
NAB_DIR_ENV = "TARS_NAB_DIR"

Z_SCALE = 3.0
"""``score = |z| / (|z| + Z_SCALE)``: monotone, in [0, 1), and never saturates in float64."""
LOOKBACK = 300
"""An onset (or record) scores only above every candidate score of the previous 300 rows."""
RECORD_MARGIN = 0.0
"""The ``record`` variant's margin, as a fraction of the range of the earlier values
(chosen from ``RECORD_MARGINS`` on the corpus: 0, a strict new max or min, did best)."""
RECORD_MARGINS = (0.0, 0.01, 0.05)
VARIANCE_ALPHAS = (0.3, 0.1, 0.03, 0.01, 0.003, 0.0015, 0.001, 0.0003, 0.0001)
"""The ``variance_alpha`` grid (per point; NAB's files are mostly 5-minute, like the tool)."""
VARIANTS = ("default", "record", "plain_ewma")
PROFILE_NAMES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")

SCOREBOARD: dict[str, dict[str, float]] = {
    "perfect": {"standard": 100.0, "reward_low_FP_rate": 100.0, "reward_low_FN_rate": 100.0},
    "ARTime": {"standard": 74.9, "reward_low_FP_rate": 65.2, "reward_low_FN_rate": 80.4},
    "numenta (HTM)": {"standard": 70.1, "reward_low_FP_rate": 63.1, "reward_low_FN_rate": 74.3},
    "contextOSE": {"standard": 69.9, "reward_low_FP_rate": 67.0, "reward_low_FN_rate": 73.2},
    "earthgeckoSkyline": {"standard": 58.2, "reward_low_FP_rate": 46.2, "reward_low_FN_rate": 63.8},
    "knncad": {"standard": 58.0, "reward_low_FP_rate": 43.4, "reward_low_FN_rate": 64.8},
    "relativeEntropy": {"standard": 54.6, "reward_low_FP_rate": 47.6, "reward_low_FN_rate": 58.8},
    "randomCutForest": {"standard": 51.7, "reward_low_FP_rate": 38.4, "reward_low_FN_rate": 59.7},
    "twitterADVec": {"standard": 47.1, "reward_low_FP_rate": 33.6, "reward_low_FN_rate": 53.5},
    "windowedGaussian": {"standard": 39.6, "reward_low_FP_rate": 20.9, "reward_low_FN_rate": 47.4},
    "skyline (Etsy)": {"standard": 35.7, "reward_low_FP_rate": 27.1, "reward_low_FN_rate": 44.5},
    "bayesChangePt": {"standard": 17.7, "reward_low_FP_rate": 3.2, "reward_low_FN_rate": 32.2},
    "random": {"standard": 16.8, "reward_low_FP_rate": 5.8, "reward_low_FN_rate": 25.9},
    "expose": {"standard": 16.4, "reward_low_FP_rate": 3.2, "reward_low_FN_rate": 26.9},
    "null": {"standard": 0.0, "reward_low_FP_rate": 0.0, "reward_low_FN_rate": 0.0},
}
"""NAB's published normalised scores.

All but ``bayesChangePt`` are copied from the table in ``../shared/benchmarks/nab/README.md``;
``bayesChangePt`` is not in that table and comes from the upstream NAB README's scoreboard.
"""
SCOREBOARD_SOURCE = (
    "../shared/benchmarks/nab/README.md (bayesChangePt: upstream numenta/NAB README scoreboard)"
)


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Profile:
    """Weights of one scoring profile: true positive, false positive, false negative."""

    a_tp: float
    a_fp: float
    a_fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile(1.0, 0.11, 2.0),
}
"""The weights SCORING.md gives (and ``config/profiles.json`` holds)."""


def load_profiles(path: Path) -> dict[str, Profile]:
    """Profiles from NAB's ``config/profiles.json`` (``CostMatrix`` tp/fp/fn weights)."""
    raw = json.loads(path.read_text())
    return {
        name: Profile(
            float(spec["CostMatrix"]["tpWeight"]),
            float(spec["CostMatrix"]["fpWeight"]),
            float(spec["CostMatrix"]["fnWeight"]),
        )
        for name, spec in raw.items()
    }


def probation_length(n: int) -> int:
    """Rows at the start of an n-row file that are not scored: min(floor(0.15 n), 0.15 * 5000)."""
    return math.ceil(min(math.floor(0.15 * n), 0.15 * 5000))


def scaled_sigmoid(y: npt.ArrayLike) -> Array:
    """``2 / (1 + exp(5 y)) - 1`` for ``y <= 3``, ``-1`` beyond (and for +inf)."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.asarray(np.where(y > 3.0, -1.0, value), dtype=np.float64)


SIGMA_LEFT = float(scaled_sigmoid(-1.0))
"""sigma(-1): a detection at a window's left edge earns exactly ``A_TP``."""


@dataclass(frozen=True)
class FileLayout:
    """Where one file's windows fall and the unweighted score of a detection at each row.

    ``window_of[i]`` is the index of the window holding row i (-1 outside every window);
    ``tp_unit[i] = sigma(y) / sigma(-1)`` inside a window, ``fp_unit[i]`` the sigmoid
    (or -1) outside; the other entry is NaN.
    """

    n: int
    probation: int
    windows: tuple[tuple[int, int], ...]
    window_of: IntArray
    tp_unit: Array
    fp_unit: Array


def file_layout(n: int, windows: Sequence[tuple[int, int]]) -> FileLayout:
    """Row scores for an n-row file whose windows are inclusive ``(left, right)`` rows.

    Inside a window of width ``w`` ending at row ``r``: ``y = -(r - i + 1) / w``. Outside:
    ``y = |r_prev - i| / (w_prev - 1)`` after the last window that ended, ``-1`` before any.
    A one-row window has ``w_prev - 1 = 0``; the rows after it then take ``y = +inf``
    (sigma = -1, the full false-positive weight).
    """
    rows = np.arange(n)
    window_of = np.full(n, -1, dtype=np.int64)
    tp_unit = np.full(n, np.nan)
    ordered = tuple(sorted((int(a), int(b)) for a, b in windows))
    for k, (left, right) in enumerate(ordered):
        width = right - left + 1
        inside = slice(left, right + 1)
        window_of[inside] = k
        tp_unit[inside] = scaled_sigmoid(-(right - rows[inside] + 1) / width) / SIGMA_LEFT
    fp_unit = np.full(n, -1.0)
    if ordered:
        rights = np.array([b for _, b in ordered])
        widths = np.array([b - a + 1 for a, b in ordered], dtype=np.float64)
        prev = np.searchsorted(rights, rows, side="left") - 1  # last window with right < i
        after = prev >= 0
        denominator = widths[prev[after]] - 1.0
        distance = np.abs(rights[prev[after]] - rows[after]).astype(np.float64)
        with np.errstate(divide="ignore"):
            y = np.where(denominator > 0, distance / np.maximum(denominator, 1.0), np.inf)
        fp_unit[after] = scaled_sigmoid(y)
    fp_unit[window_of >= 0] = np.nan
    return FileLayout(n, probation_length(n), ordered, window_of, tp_unit, fp_unit)


def file_score(
    scores: npt.ArrayLike, layout: FileLayout, profile: Profile, threshold: float
) -> float:
    """One file's score at a threshold (detections are scored rows with score >= threshold).

    Each window adds its best true-positive score, or ``-A_FN`` without a detection; each
    detection outside every window adds its false-positive score.
    """
    s = np.asarray(scores, dtype=np.float64)
    detected = s >= threshold
    detected[: layout.probation] = False
    total = 0.0
    for k in range(len(layout.windows)):
        hits = detected & (layout.window_of == k)
        total += profile.a_tp * float(np.max(layout.tp_unit[hits])) if hits.any() else -profile.a_fn
    outside = detected & (layout.window_of < 0)
    return total + profile.a_fp * float(np.sum(layout.fp_unit[outside]))


def null_total(layouts: Sequence[FileLayout], profile: Profile) -> float:
    """Corpus total of a detector that never fires: ``-A_FN`` per window."""
    return -profile.a_fn * sum(len(layout.windows) for layout in layouts)


def perfect_total(layouts: Sequence[FileLayout], profile: Profile) -> float:
    """Corpus total of a detector firing at every window's left edge only: ``A_TP`` per window."""
    return profile.a_tp * sum(len(layout.windows) for layout in layouts)


def normalise(total: float, s_null: float, s_perfect: float) -> float:
    """``100 (S - S_null) / (S_perfect - S_null)``."""
    return 100.0 * (total - s_null) / (s_perfect - s_null)


def sweep(
    scores: Sequence[npt.ArrayLike], layouts: Sequence[FileLayout], profile: Profile
) -> tuple[Array, Array]:
    """Corpus total at every distinct anomaly score of the scored rows, as a threshold.

    Returns ``(thresholds, totals)``, thresholds in descending order. Lowering the threshold
    past a row's score adds that row: a false positive adds its weighted score, a window's
    row adds how much it raises the window's best score (from ``-A_FN`` at first).
    ``best_threshold`` also considers ``+inf`` (nothing fires, the null total).
    """
    keys: list[Array] = []
    deltas: list[Array] = []
    n_windows = 0
    for raw, layout in zip(scores, layouts, strict=True):
        s = np.asarray(raw, dtype=np.float64)[layout.probation :]
        window_of = layout.window_of[layout.probation :]
        outside = window_of < 0
        keys.append(s[outside])
        deltas.append(profile.a_fp * layout.fp_unit[layout.probation :][outside])
        tp = profile.a_tp * layout.tp_unit[layout.probation :]
        for k in range(len(layout.windows)):
            n_windows += 1
            mine = np.flatnonzero(window_of == k)
            if not len(mine):
                continue
            order = mine[np.argsort(-s[mine], kind="stable")]
            best = np.maximum.accumulate(tp[order])
            gain = np.diff(best, prepend=-profile.a_fn)
            keys.append(s[order])
            deltas.append(gain)
    key = np.concatenate(keys) if keys else np.empty(0)
    delta = np.concatenate(deltas) if deltas else np.empty(0)
    order = np.argsort(-key, kind="stable")
    key, running = key[order], np.cumsum(delta[order]) - profile.a_fn * n_windows
    last_of_group = np.flatnonzero(np.append(key[1:] != key[:-1], True))
    return key[last_of_group], running[last_of_group]


def best_threshold(
    scores: Sequence[npt.ArrayLike], layouts: Sequence[FileLayout], profile: Profile
) -> tuple[float, float]:
    """``(threshold, corpus total)`` maximising the total; the highest such threshold on ties.

    Besides the distinct scores, ``+inf`` (no detection at all) is a candidate, as NAB's
    own sweep starts above every score: a detector whose every threshold loses to never
    firing scores 0, not below, and an all-zero detector is the null detector.
    """
    thresholds, totals = sweep(scores, layouts, profile)
    thresholds = np.concatenate([[np.inf], thresholds])
    totals = np.concatenate([[null_total(layouts, profile)], totals])
    k = int(np.argmax(totals))
    return float(thresholds[k]), float(totals[k])


def score_corpus(
    scores: Sequence[npt.ArrayLike],
    layouts: Sequence[FileLayout],
    profiles: Mapping[str, Profile] = PROFILES,
) -> dict[str, dict[str, float]]:
    """Per profile: normalised score, raw total, threshold, null and perfect totals."""
    out: dict[str, dict[str, float]] = {}
    for name, profile in profiles.items():
        threshold, total = best_threshold(scores, layouts, profile)
        s_null, s_perfect = null_total(layouts, profile), perfect_total(layouts, profile)
        out[name] = {
            "score": normalise(total, s_null, s_perfect),
            "raw": total,
            "threshold": threshold,
            "null": s_null,
            "perfect": s_perfect,
        }
    return out


# --------------------------------------------------------------------------- detectors


def _to_score(z: Array) -> Array:
    """``|z| / (|z| + Z_SCALE)``; NaN (warm-up, gaps) scores 0."""
    a = np.abs(np.nan_to_num(np.asarray(z, dtype=np.float64), nan=0.0, posinf=np.inf))
    with np.errstate(invalid="ignore"):
        score = np.where(np.isinf(a), 1.0, a / (a + Z_SCALE))
    return np.asarray(score, dtype=np.float64)


def plain_ewma_z(values: Array, alpha: float, warmup: int) -> Array:
    """The old detector's z: plain EWMA mean and variance (``ewma_moments``), nothing held.

    ``z_t = (x_t - m_{t-1}) / max(sqrt(v_{t-1}), floor)`` with ``m_0 = x_0``, ``v_0 = 0`` and
    the floor of ``warmup_stats``; gaps are carried forward; NaN before ``warmup`` and at
    missing values. The same numbers as the pre-rewrite ``zscores``.
    """
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        return np.full(len(x), np.nan)
    missing = ~np.isfinite(x)
    filled = pd.Series(x).ffill().bfill().fillna(0.0).to_numpy(dtype=np.float64)
    m0 = filled[:1].copy()
    mean, var = ewma_moments(filled[None, 1:], alpha, m0, np.zeros(1))
    expected = np.concatenate([m0, m0, mean[0, :-1]])[: len(x)]
    sd = np.sqrt(np.concatenate([[0.0, 0.0], var[0, :-1]])[: len(x)])
    floor, _ = warmup_stats(filled[None, :], warmup, alpha)
    z = (filled - expected) / np.maximum(sd, floor[0])
    z[missing] = np.nan
    z[:warmup] = np.nan
    return np.asarray(z, dtype=np.float64)


def run_detector(
    values: Array,
    step: int,
    parameters: AnomalyParameters,
    warmup: int,
    detect: DetectFn = detect_matrix,
) -> tuple[IntArray, Array]:
    """One series through the detector: its events' onsets (first columns) and its z row."""
    config = detector_config(parameters, step, warmup)
    raw, z = detect(np.asarray(values, dtype=np.float64)[None, :], config, True)
    assert z is not None
    return np.sort(np.asarray(raw.first, dtype=np.int64)), np.asarray(z[0], dtype=np.float64)


def record_rows(values: Array, warmup: int, margin: float = RECORD_MARGIN) -> IntArray:
    """First rows (from ``warmup`` on) of each run of values beyond every earlier value.

    A record: ``x_t > max(x_<t) + margin * (max - min)`` or ``x_t < min(x_<t) - margin *
    (max - min)``, over the finite earlier values.
    """
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        return np.empty(0, dtype=np.int64)
    finite = np.isfinite(x)
    hi = np.maximum.accumulate(np.where(finite, x, -np.inf))
    lo = np.minimum.accumulate(np.where(finite, x, np.inf))
    hi, lo = np.concatenate([[-np.inf], hi[:-1]]), np.concatenate([[np.inf], lo[:-1]])
    with np.errstate(invalid="ignore"):
        span = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
        record = finite & ((x > hi + margin * span) | (x < lo - margin * span))
    record[:warmup] = False
    first = record & ~np.concatenate([[False], record[:-1]])
    return np.flatnonzero(first).astype(np.int64)


def _keep_new_highs(n: int, rows: IntArray, candidate: Array, lookback: int) -> Array:
    """Score ``candidate[k]`` at ``rows[k]`` when it beats every candidate of the previous
    ``lookback`` rows (``rows`` ascending), 0 elsewhere."""
    out = np.zeros(n)
    start = 0
    for k, t in enumerate(rows.tolist()):
        while rows[start] < t - lookback:
            start += 1
        if start == k or candidate[k] > float(np.max(candidate[start:k])):
            out[t] = candidate[k]
    return out


def onset_scores(n: int, onsets: IntArray, z: Array, lookback: int = LOOKBACK) -> Array:
    """The ``default`` mapping: ``|z| / (|z| + 3)`` at onsets that beat the previous
    ``lookback`` rows' onsets, 0 elsewhere."""
    return _keep_new_highs(n, onsets, _to_score(z[onsets]), lookback)


def record_scores(
    values: Array,
    onsets: IntArray,
    z: Array,
    warmup: int,
    margin: float = RECORD_MARGIN,
    lookback: int = LOOKBACK,
) -> Array:
    """The ``record`` mapping: records ``0.5 + 0.5 s``, other onsets ``0.5 s``, same rule."""
    records = record_rows(values, warmup, margin)
    rows = np.union1d(onsets, records).astype(np.int64)
    s = _to_score(z[rows])
    is_record = np.isin(rows, records)
    candidate = np.where(is_record, 0.5 + 0.5 * s, 0.5 * s)
    return _keep_new_highs(len(values), rows, candidate, lookback)


def score_stream(
    values: npt.ArrayLike,
    variant: str,
    step: int = 300,
    parameters: AnomalyParameters | None = None,
    detect: DetectFn = detect_matrix,
    margin: float = RECORD_MARGIN,
    warmup: int | None = None,
) -> Array:
    """Anomaly scores in [0, 1] for one file's values, each from the rows up to it only.

    ``step`` is the file's sampling step in seconds; ``parameters`` default to the
    library's; ``detect`` is ``detect_matrix`` unless a proposed kernel is measured. The
    warm-up is the file's probation (from its length, as NAB hands every detector its
    probationary period) unless ``warmup`` is given.
    """
    x = np.asarray(values, dtype=np.float64)
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    if not len(x):
        return np.empty(0)
    warmup = probation_length(len(x)) if warmup is None else warmup
    parameters = parameters or AnomalyParameters()
    if variant == "plain_ewma":
        return _to_score(plain_ewma_z(x, parameters.ewma_alpha, warmup))
    onsets, z = run_detector(x, step, parameters, warmup, detect)
    if variant == "default":
        return onset_scores(len(x), onsets, z)
    return record_scores(x, onsets, z, warmup, margin)


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class DataFile:
    """One NAB series: its key (``<category>/<name>.csv``), rows, window layout and step."""

    key: str
    timestamps: npt.NDArray[np.datetime64]
    values: Array
    layout: FileLayout
    label: npt.NDArray[np.int8]
    step: int
    """The median spacing of the timestamps, in seconds."""


def window_rows(
    timestamps: npt.NDArray[np.datetime64], windows: Sequence[Sequence[str]]
) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` rows whose timestamps fall in each ``[start, end]`` window."""
    out = []
    for start, end in windows:
        lo, hi = np.datetime64(pd.Timestamp(start)), np.datetime64(pd.Timestamp(end))
        inside = np.flatnonzero((timestamps >= lo) & (timestamps <= hi))
        if len(inside):
            out.append((int(inside[0]), int(inside[-1])))
    return out


def file_step(timestamps: npt.NDArray[np.datetime64]) -> int:
    """The median spacing of ``timestamps`` in whole seconds (300 for a single row)."""
    if len(timestamps) < 2:
        return 300
    return max(1, round(float(np.median(np.diff(timestamps)) / np.timedelta64(1, "s"))))


def load_corpus(nab_dir: Path) -> list[DataFile]:
    """Every data file listed in ``labels/combined_windows.json``, in key order."""
    labels = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    corpus = []
    for key in sorted(labels):
        frame = pd.read_csv(nab_dir / "data" / key)
        ts = pd.to_datetime(frame["timestamp"]).to_numpy()
        values = frame["value"].to_numpy(dtype=np.float64)
        layout = file_layout(len(values), window_rows(ts, labels[key]))
        label = (layout.window_of >= 0).astype(np.int8)
        corpus.append(DataFile(key, ts, values, layout, label, file_step(ts)))
    return corpus


def write_result(path: Path, data: DataFile, scores: Array) -> None:
    """One NAB results CSV: ``timestamp,value,anomaly_score,label``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(data.timestamps).strftime("%Y-%m-%d %H:%M:%S"),
            "value": data.values,
            "anomaly_score": scores,
            "label": data.label,
        }
    ).to_csv(path, index=False, float_format="%.10g")


# --------------------------------------------------------------------------- runs


def _summary(scored: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    return {p: round(v["score"], 2) for p, v in scored.items()}


def _full(scored: Mapping[str, Mapping[str, float]], seconds: float) -> dict[str, Any]:
    result: dict[str, Any] = _summary(scored)
    result["threshold"] = {
        p: v["threshold"] if math.isfinite(v["threshold"]) else None for p, v in scored.items()
    }
    result["raw"] = {p: round(v["raw"], 4) for p, v in scored.items()}
    result["seconds"] = round(seconds, 3)
    return result


@dataclass(frozen=True)
class GridPoint:
    """Per file, the scores of one configuration (kernel, variance_alpha, mapping, margin)."""

    kernel: str
    variance_alpha: float
    variant: str
    margin: float | None
    scores: tuple[Array, ...]

    @property
    def name(self) -> str:
        margin = "" if self.margin is None else f", margin {self.margin:g}"
        return f"{self.kernel} {self.variant} variance_alpha {self.variance_alpha:g}{margin}"


def grid_scores(
    corpus: Sequence[DataFile],
    kernel: str,
    detect: DetectFn,
    alphas: Iterable[float] = VARIANCE_ALPHAS,
    margins: Iterable[float] = RECORD_MARGINS,
) -> list[GridPoint]:
    """The ``default`` and ``record`` scores of every file at every grid point: the detector
    runs once per file and ``variance_alpha``, both mappings read the same onsets and z."""
    margins = tuple(margins)
    points: list[GridPoint] = []
    for alpha in alphas:
        parameters = AnomalyParameters(variance_alpha=alpha)
        default: list[Array] = []
        record: dict[float, list[Array]] = {m: [] for m in margins}
        for d in corpus:
            warmup = d.layout.probation
            onsets, z = run_detector(d.values, d.step, parameters, warmup, detect)
            default.append(onset_scores(len(d.values), onsets, z))
            for m in margins:
                record[m].append(record_scores(d.values, onsets, z, warmup, m))
        points.append(GridPoint(kernel, alpha, "default", None, tuple(default)))
        points += [GridPoint(kernel, alpha, "record", m, tuple(record[m])) for m in margins]
    return points


def halves(corpus: Sequence[DataFile]) -> tuple[list[int], list[int]]:
    """Files split in two by alternating over the key order (each category on both sides)."""
    return list(range(0, len(corpus), 2)), list(range(1, len(corpus), 2))


def split_half(
    points: Sequence[GridPoint],
    layouts: Sequence[FileLayout],
    profiles: Mapping[str, Profile],
    split: tuple[list[int], list[int]],
) -> dict[str, Any]:
    """Choose the grid point with the best standard score on one half, score it on the other.

    Both directions (A -> B, B -> A), beside the score on the held-out half of the point
    chosen on the whole corpus (how optimistic choosing on the scored files is).
    """

    def on(rows: list[int], point: GridPoint) -> dict[str, float]:
        return _summary(
            score_corpus([point.scores[i] for i in rows], [layouts[i] for i in rows], profiles)
        )

    everything = list(range(len(layouts)))
    whole = max(points, key=lambda p: on(everything, p)["standard"])
    out: dict[str, Any] = {"configurations": len(points), "directions": []}
    for name, (choose, test) in (("A->B", split), ("B->A", split[::-1])):
        tuned = {p.name: on(choose, p) for p in points}
        best = max(points, key=lambda p: tuned[p.name]["standard"])
        out["directions"].append(
            {
                "direction": name,
                "files_chosen_on": len(choose),
                "files_scored_on": len(test),
                "chosen": best.name,
                "score_where_chosen": tuned[best.name],
                "score_held_out": on(test, best),
                "whole_corpus_choice": whole.name,
                "whole_corpus_choice_held_out": on(test, whole),
            }
        )
    held = [d["score_held_out"] for d in out["directions"]]
    out["mean_held_out"] = {p: round(sum(h[p] for h in held) / len(held), 2) for p in held[0]}
    return out


def run_nab(
    nab_dir: Path,
    results_dir: Path,
    variants: Sequence[str] = VARIANTS,
    grid: bool = True,
) -> dict[str, Any]:
    """Score every NAB file with each variant at the library defaults, write NAB result
    CSVs, score the corpus; then the ``variance_alpha`` grid and the split-half check.

    Files go to ``results_dir/<variant>/<category>/tars_<variant>_<file>.csv``. Returns, per
    variant, the three profiles' normalised scores, their thresholds and the seconds taken,
    plus NAB's published scoreboard.
    """
    if not (nab_dir / "labels" / "combined_windows.json").is_file():
        raise FileNotFoundError(f"NAB data not found under {nab_dir}")
    started = time.perf_counter()
    corpus = load_corpus(nab_dir)
    profiles = load_profiles(nab_dir / "config" / "profiles.json")
    load_seconds = time.perf_counter() - started
    layouts = [d.layout for d in corpus]
    defaults = AnomalyParameters()
    steps: dict[str, int] = {}
    for d in corpus:
        steps[str(d.step)] = steps.get(str(d.step), 0) + 1
    out: dict[str, Any] = {
        "files": len(corpus),
        "rows": int(sum(len(d.values) for d in corpus)),
        "windows": int(sum(len(d.layout.windows) for d in corpus)),
        "files_per_step_s": steps,
        "load_seconds": round(load_seconds, 3),
        "parameters": defaults.model_dump(),
        "lookback_rows": LOOKBACK,
        "record_margin": RECORD_MARGIN,
        "score_map": f"|z| / (|z| + {Z_SCALE}) at onsets beating the previous {LOOKBACK} rows",
        "variants": {},
        "scoreboard": SCOREBOARD,
        "scoreboard_source": SCOREBOARD_SOURCE,
    }
    detect_matrix(np.zeros((1, 8)), detector_config(defaults, 300, 2))  # compile outside timing
    for variant in variants:
        t0 = time.perf_counter()
        scores = [score_stream(d.values, variant, d.step, defaults) for d in corpus]
        seconds = time.perf_counter() - t0
        for d, s in zip(corpus, scores, strict=True):
            category, name = d.key.split("/", 1)
            write_result(results_dir / variant / category / f"tars_{variant}_{name}", d, s)
        out["variants"][variant] = _full(score_corpus(scores, layouts, profiles), seconds)
    if not grid:
        out["seconds"] = round(time.perf_counter() - started, 3)
        return out

    kernels: list[tuple[str, DetectFn]] = [("library", detect_matrix)]
    split = halves(corpus)
    out["grid"] = {"variance_alpha": list(VARIANCE_ALPHAS), "record_margin": list(RECORD_MARGINS)}
    out["split_half"] = {"halves": [[corpus[i].key for i in half] for half in split]}
    tried = 0
    for kernel, detect in kernels:
        t0 = time.perf_counter()
        points = grid_scores(corpus, kernel, detect)
        rows: list[dict[str, Any]] = []
        for p in points:
            scored = _summary(score_corpus(p.scores, layouts, profiles))
            rows.append(
                {"variance_alpha": p.variance_alpha, "variant": p.variant, "margin": p.margin}
                | scored
            )
        tried += len(points)
        best = {
            variant: max((r for r in rows if r["variant"] == variant), key=lambda r: r["standard"])
            for variant in ("default", "record")
        }
        out["grid"][kernel] = {
            "seconds": round(time.perf_counter() - t0, 2),
            "points": rows,
            "best": best,
        }
        out["split_half"][kernel] = {
            variant: split_half(
                [p for p in points if p.variant == variant], layouts, profiles, split
            )
            for variant in ("default", "record")
        }
    out["configurations_scored"] = tried
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def find_nab_dir(explicit: Path | None = None) -> Path:
    """``explicit``, else ``$TARS_NAB_DIR``, else ``../shared/benchmarks/nab`` beside the repo."""
    if explicit is not None:
        return explicit
    env = os.environ.get(NAB_DIR_ENV)
    return Path(env) if env else DEFAULT_NAB_DIR


def format_table(result: Mapping[str, Any]) -> str:
    """The measured variants above NAB's published scoreboard, one row per detector."""
    header = f"{'detector':<28}{'standard':>10}{'low FP':>10}{'low FN':>10}"
    lines = [header, "-" * len(header)]
    for name, row in result["variants"].items():
        cells = "".join(f"{row[p]:>10.1f}" for p in PROFILE_NAMES)
        lines.append(f"{'T.A.R.S. ' + name:<28}{cells}   ({row['seconds']:.1f} s)")
    lines.append("-" * len(header))
    for name, row in result["scoreboard"].items():
        lines.append(f"{name:<28}" + "".join(f"{row[p]:>10.1f}" for p in PROFILE_NAMES))
    lines.append(f"published figures: {result['scoreboard_source']}")
    for kernel in ("library", "proposed"):
        grid = result.get("grid", {}).get(kernel)
        if grid is None:
            continue
        lines.append(f"\nvariance_alpha grid, {kernel} kernel ({grid['seconds']:.0f} s):")
        lines.append(f"{'variant':<10}{'alpha':>9}{'margin':>8}{'std':>8}{'lowFP':>8}{'lowFN':>8}")
        for r in grid["points"]:
            margin = "-" if r["margin"] is None else f"{r['margin']:g}"
            lines.append(
                f"{r['variant']:<10}{r['variance_alpha']:>9g}{margin:>8}"
                + "".join(f"{r[p]:>8.1f}" for p in PROFILE_NAMES)
            )
        for variant, check in result["split_half"][kernel].items():
            for d in check["directions"]:
                lines.append(
                    f"split-half {kernel} {variant} {d['direction']}: chose {d['chosen']} "
                    f"({d['score_where_chosen']['standard']:.1f}), held out "
                    + "/".join(f"{d['score_held_out'][p]:.1f}" for p in PROFILE_NAMES)
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; skip (exit 0) when the NAB data is absent."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nab", description=__doc__)
    parser.add_argument("--nab-dir", type=Path, default=None, help="NAB data bundle")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--no-grid", action="store_true", help="the variants only")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = parser.parse_args(argv)
    nab_dir = find_nab_dir(args.nab_dir)
    if not (nab_dir / "labels" / "combined_windows.json").is_file():
        print(
            f"NAB benchmark skipped: no NAB data at {nab_dir} "
            f"(set {NAB_DIR_ENV} or pass --nab-dir)",
            file=sys.stderr,
        )
        return 0
    result = run_nab(nab_dir, args.results_dir, args.variants, not args.no_grid)
    print(format_table(result))
    print(f"total {result['seconds']:.1f} s; result CSVs under {args.results_dir}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
