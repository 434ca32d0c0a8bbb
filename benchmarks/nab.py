"""T.A.R.S.'s EWMA z-score detector on the Numenta Anomaly Benchmark (NAB).

The scorer follows ``SCORING.md`` of the NAB data bundle (``../shared/benchmarks/nab``):
probation, the scaled sigmoid, per-row true/false-positive weights, file scores, one
threshold per profile for the whole corpus (swept over the distinct anomaly scores) and
normalisation against the null and perfect detectors.

Detectors (``score_stream``), each with one setting for the whole corpus and no look-ahead:

- ``ewma``: ``tars_lib.judge.anomaly.zscores`` with alpha 0.3 (the seed default), warmed up on
  the probation rows; the anomaly score is ``|z| / (|z| + 3)`` (so |z| = 3 gives 0.5).
- ``robust``: z against the median of the previous ``ROBUST_WINDOW`` values, scaled by an
  EWMA (alpha ``ROBUST_ALPHA``) of past absolute deviations from that median (MAD-style).
- ``seasonal``: the ``ewma`` z of ``x_t - x_{t - P}`` (P = rows per day) when the
  probation rows show a daily period (lag-P autocorrelation >= ``SEASONAL_MIN_ACF``),
  otherwise the plain ``ewma`` score.

``python -m benchmarks.nab`` runs the corpus and prints the scores beside NAB's scoreboard.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from tars_lib.judge.anomaly import FLOOR_MULTIPLIER, RELATIVE_FLOOR, zscores

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_NAB_DIR = REPO.parent / "shared" / "benchmarks" / "nab"
DEFAULT_RESULTS_DIR = REPO / "benchmarks" / "nab_results"
NAB_DIR_ENV = "TARS_NAB_DIR"

EWMA_ALPHA = 0.3
"""The seed's default smoothing factor (``tars_lib`` scenario default)."""
Z_SCALE = 3.0
"""``score = |z| / (|z| + Z_SCALE)``: monotone, in [0, 1), and never saturates in float64."""
ROBUST_WINDOW = 48
"""Trailing values behind the ``robust`` variant's median."""
ROBUST_ALPHA = 0.05
"""Smoothing of the ``robust`` variant's absolute-deviation spread."""
SEASONAL_MIN_ACF = 0.5
"""Lag-one-day autocorrelation over the probation rows needed to use the ``seasonal`` residual."""
VARIANTS = ("ewma", "robust", "seasonal")
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
    a = np.abs(np.nan_to_num(z, nan=0.0, posinf=np.inf, neginf=np.inf))
    with np.errstate(invalid="ignore"):
        score = np.where(np.isinf(a), 1.0, a / (a + Z_SCALE))
    return np.asarray(score, dtype=np.float64)


def _ewma_z(values: Array, warmup: int) -> Array:
    z, _ = zscores(values[None, :], EWMA_ALPHA, warmup)
    return np.asarray(z[0], dtype=np.float64)


def _robust_z(values: Array, warmup: int) -> Array:
    """z against the trailing median, scaled by an EWMA of absolute deviations from it.

    ``centre_t`` = median of the ``ROBUST_WINDOW`` values before t; ``spread_t`` = 1.2533 x
    the EWMA (``ROBUST_ALPHA``) of ``|x_s - centre_s|`` for s < t, floored as in ``zscores``.
    """
    x = pd.Series(values).ffill().bfill()
    filled = x.to_numpy(dtype=np.float64)
    centre = x.rolling(ROBUST_WINDOW, min_periods=1).median().shift(1).to_numpy().copy()
    centre[0] = filled[0]
    deviation = np.abs(filled - centre)
    a = ROBUST_ALPHA
    smoothed = lfilter([a], [1.0, a - 1.0], deviation, zi=[(1.0 - a) * deviation[0]])[0]
    spread = 1.2533 * np.concatenate([[deviation[0]], smoothed[:-1]])
    w = max(2, min(warmup, len(filled)))
    residual = (filled - centre)[1:w]
    level = abs(float(np.mean(filled[:w])))
    mad = float(np.median(np.abs(residual - np.median(residual))))
    floor = max(FLOOR_MULTIPLIER * 1.4826 * mad, RELATIVE_FLOOR * level, 1e-12)
    z = (filled - centre) / np.maximum(spread, floor)
    z[~np.isfinite(values)] = np.nan
    z[:warmup] = np.nan
    return np.asarray(z, dtype=np.float64)


def _seasonal_z(values: Array, warmup: int, period: int | None) -> Array:
    """EWMA z of the day-over-day difference when the probation rows show a daily period."""
    if period is None or period < 2 or warmup < 2 * period:
        return _ewma_z(values, warmup)
    head = values[:warmup]
    a, b = head[period:], head[:-period]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return _ewma_z(values, warmup)
    acf = float(np.corrcoef(a[ok], b[ok])[0, 1])
    if not acf >= SEASONAL_MIN_ACF:
        return _ewma_z(values, warmup)
    diff = np.full(len(values), np.nan)
    diff[period:] = values[period:] - values[:-period]
    diff[:period] = diff[period] if len(values) > period else 0.0
    return _ewma_z(diff, warmup)


def score_stream(values: np.ndarray, variant: str, period: int | None = None) -> np.ndarray:
    """Anomaly scores in [0, 1] for one file's values, each from the rows up to it only.

    The warm-up is the file's probation length (rows that NAB does not score). ``period``
    (rows per day) is used by the ``seasonal`` variant only.
    """
    x = np.asarray(values, dtype=np.float64)
    if not len(x):
        return np.empty(0)
    warmup = probation_length(len(x))
    if variant == "ewma":
        z = _ewma_z(x, warmup)
    elif variant == "robust":
        z = _robust_z(x, warmup)
    elif variant == "seasonal":
        z = _seasonal_z(x, warmup, period)
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    return _to_score(z)


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class DataFile:
    """One NAB series: its key (``<category>/<name>.csv``), rows and window layout."""

    key: str
    timestamps: npt.NDArray[np.datetime64]
    values: Array
    layout: FileLayout
    label: npt.NDArray[np.int8]
    period: int | None


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
        period = None
        if len(ts) > 1:
            step = float(np.median(np.diff(ts)) / np.timedelta64(1, "s"))
            if step > 0 and 86400 % step == 0:
                period = int(86400 // step)
        corpus.append(DataFile(key, ts, values, layout, label, period))
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


def run_nab(nab_dir: Path, results_dir: Path, variants: Sequence[str] = VARIANTS) -> dict[str, Any]:
    """Score every NAB file with each variant, write NAB result CSVs, score the corpus.

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
    out: dict[str, Any] = {
        "files": len(corpus),
        "rows": int(sum(len(d.values) for d in corpus)),
        "windows": int(sum(len(d.layout.windows) for d in corpus)),
        "load_seconds": round(load_seconds, 3),
        "variants": {},
        "scoreboard": SCOREBOARD,
        "scoreboard_source": SCOREBOARD_SOURCE,
        "score_map": f"|z| / (|z| + {Z_SCALE})",
    }
    for variant in variants:
        t0 = time.perf_counter()
        scores = [score_stream(d.values, variant, d.period) for d in corpus]
        scored = score_corpus(scores, layouts, profiles)
        detector = f"tars_{variant}"
        for d, s in zip(corpus, scores, strict=True):
            category, name = d.key.split("/", 1)
            write_result(results_dir / variant / category / f"{detector}_{name}", d, s)
        result: dict[str, Any] = {p: round(v["score"], 2) for p, v in scored.items()}
        result["threshold"] = {
            p: v["threshold"] if math.isfinite(v["threshold"]) else None for p, v in scored.items()
        }
        result["raw"] = {p: round(v["raw"], 4) for p, v in scored.items()}
        result["seconds"] = round(time.perf_counter() - t0, 3)
        out["variants"][variant] = result
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
    header = f"{'detector':<24}{'standard':>10}{'low FP':>10}{'low FN':>10}"
    lines = [header, "-" * len(header)]
    for name, row in result["variants"].items():
        cells = "".join(f"{row[p]:>10.1f}" for p in PROFILE_NAMES)
        lines.append(f"{'T.A.R.S. ' + name:<24}{cells}   ({row['seconds']:.1f} s)")
    lines.append("-" * len(header))
    for name, row in result["scoreboard"].items():
        lines.append(f"{name:<24}" + "".join(f"{row[p]:>10.1f}" for p in PROFILE_NAMES))
    lines.append(f"published figures: {result['scoreboard_source']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; skip (exit 0) when the NAB data is absent."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nab", description=__doc__)
    parser.add_argument("--nab-dir", type=Path, default=None, help="NAB data bundle")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
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
    result = run_nab(nab_dir, args.results_dir, args.variants)
    print(format_table(result))
    print(f"total {result['seconds']:.1f} s; result CSVs under {args.results_dir}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
