"""The NAB scorer (benchmarks/nab.py) on hand-made windows, values worked out from SCORING.md,
and the detector-to-score mappings on small made-up series.

sigma(y) = 2 / (1 + exp(5 y)) - 1, so sigma(-1) = 0.98661430, sigma(-0.1) = 0.24491866,
sigma(1/9) = -0.27084712. None of these tests needs the NAB data in ../shared.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.nab import (
    LOOKBACK,
    PROFILES,
    VARIANTS,
    best_threshold,
    file_layout,
    file_score,
    null_total,
    onset_scores,
    perfect_total,
    plain_ewma_z,
    probation_length,
    record_rows,
    record_scores,
    run_detector,
    scaled_sigmoid,
    score_corpus,
    score_stream,
    sweep,
    window_rows,
)
from tars_lib.core.models import AnomalyParameters

STANDARD = PROFILES["standard"]
LOW_FP = PROFILES["reward_low_FP_rate"]
LOW_FN = PROFILES["reward_low_FN_rate"]

# 200 rows: probation = floor(0.15 * 200) = 30; one 10-row window, rows 100..109.
N, LEFT, RIGHT = 200, 100, 109


def detections(n: int, rows: list[int]) -> np.ndarray:
    """Score 1 at ``rows``, 0 elsewhere: at threshold 1 exactly those rows are detections."""
    s = np.zeros(n)
    s[rows] = 1.0
    return s


def score_at(rows: list[int], profile=STANDARD, windows=((LEFT, RIGHT),), n: int = N) -> float:
    return file_score(detections(n, rows), file_layout(n, windows), profile, 1.0)


def test_sigmoid_values_by_hand() -> None:
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(0.98661430, abs=1e-8)
    assert float(scaled_sigmoid(-0.1)) == pytest.approx(0.24491866, abs=1e-8)
    assert float(scaled_sigmoid(0.0)) == 0.0
    assert float(scaled_sigmoid(3.0)) == pytest.approx(2 / (1 + np.exp(15)) - 1)
    assert float(scaled_sigmoid(3.0001)) == -1.0


def test_probation_length() -> None:
    assert probation_length(200) == 30
    assert probation_length(1000) == 150
    assert probation_length(4032) == 604  # floor(604.8)
    assert probation_length(22695) == 750  # capped at 0.15 * 5000


def test_detection_at_left_edge_earns_full_true_positive() -> None:
    # y = -(109 - 100 + 1) / 10 = -1: sigma(-1) * A_TP / sigma(-1) = 1
    assert score_at([LEFT]) == pytest.approx(1.0)
    assert score_at([LEFT], LOW_FN) == pytest.approx(1.0)


def test_detection_at_right_edge_earns_less() -> None:
    # y = -(109 - 109 + 1) / 10 = -0.1: 0.24491866 / 0.98661430 = 0.24824153
    assert score_at([RIGHT]) == pytest.approx(0.24824153, abs=1e-7)


def test_window_counts_its_best_detection_once() -> None:
    # rows 104 and 108 of the window: y = -0.6 and -0.2; only the better (row 104) counts
    expected = (2 / (1 + np.exp(-3.0)) - 1) / 0.98661430
    assert score_at([104, 108]) == pytest.approx(expected, abs=1e-7)
    assert score_at([104, 108]) == pytest.approx(0.9174287, abs=1e-7)


def test_false_positive_just_after_window_is_softened() -> None:
    # row 110: y = |109 - 110| / (10 - 1) = 1/9, sigma = -0.27084712; the window is missed
    assert score_at([110]) == pytest.approx(-1.0 + 0.11 * -0.27084712, abs=1e-7)
    assert score_at([110], LOW_FP) == pytest.approx(-1.0 + 0.22 * -0.27084712, abs=1e-7)


def test_false_positive_long_after_window_costs_full_weight() -> None:
    # row 137: y = 28 / 9 > 3, sigma = -1
    assert score_at([137]) == pytest.approx(-1.0 - 0.11)


def test_false_positive_before_any_window_costs_a_fp() -> None:
    assert score_at([50]) == pytest.approx(-1.0 - 0.11)
    assert score_at([50, LEFT]) == pytest.approx(1.0 - 0.11)
    assert score_at([50, LEFT], LOW_FP) == pytest.approx(1.0 - 0.22)
    # a file without windows: every detection is -A_FP
    assert score_at([40, 41], windows=()) == pytest.approx(-0.22)


def test_missed_window_costs_a_fn() -> None:
    assert score_at([]) == -1.0
    assert score_at([], LOW_FN) == -2.0
    two = ((60, 69), (LEFT, RIGHT))
    assert score_at([LEFT], windows=two) == pytest.approx(1.0 - 1.0)
    assert score_at([LEFT], LOW_FN, windows=two) == pytest.approx(1.0 - 2.0)


def test_probation_rows_are_not_counted() -> None:
    # rows 0..29 are probation: a detection there neither costs a FP nor fills a window
    assert score_at([0, 10, 29]) == -1.0
    assert score_at([30]) == pytest.approx(-1.11)
    assert score_at([10], windows=((5, 40),)) == -1.0


def test_null_and_perfect_detectors_normalise_to_0_and_100() -> None:
    layouts = [file_layout(N, ((LEFT, RIGHT),)), file_layout(300, ((60, 79), (150, 159)))]
    layouts.append(file_layout(250, ()))
    null = [np.zeros(layout.n) for layout in layouts]
    perfect = [detections(lay.n, [a for a, _ in lay.windows]) for lay in layouts]
    for name, profile in PROFILES.items():
        assert null_total(layouts, profile) == -3 * profile.a_fn
        assert perfect_total(layouts, profile) == 3 * profile.a_tp
        assert score_corpus(null, layouts)[name]["score"] == pytest.approx(0.0)
        assert score_corpus(perfect, layouts)[name]["score"] == pytest.approx(100.0)


def test_one_window_of_two_caught_at_left_edge_normalises_to_half() -> None:
    layouts = [file_layout(N, ((LEFT, RIGHT),)), file_layout(N, ((LEFT, RIGHT),))]
    scores = [detections(N, [LEFT]), np.zeros(N)]
    # standard: S = 1 - 1 = 0, S_null = -2, S_perfect = 2: 100 * 2 / 4
    assert score_corpus(scores, layouts)["standard"]["score"] == pytest.approx(50.0)
    # low FN: S = 1 - 2 = -1, S_null = -4, S_perfect = 2: 100 * 3 / 6
    assert score_corpus(scores, layouts)["reward_low_FN_rate"]["score"] == pytest.approx(50.0)


def test_sweep_matches_file_scores_at_every_threshold() -> None:
    rng = np.random.default_rng(7)
    layouts = [
        file_layout(200, ((100, 109),)),
        file_layout(400, ((80, 99), (250, 270))),
        file_layout(150, ()),
    ]
    scores = [np.round(rng.random(lay.n), 2) for lay in layouts]  # rounded: ties
    for profile in PROFILES.values():
        thresholds, totals = sweep(scores, layouts, profile)
        scored = np.concatenate(
            [s[lay.probation :] for s, lay in zip(scores, layouts, strict=True)]
        )
        assert np.array_equal(thresholds, np.unique(scored)[::-1])
        for t, total in zip(thresholds, totals, strict=True):
            brute = sum(
                file_score(s, lay, profile, t) for s, lay in zip(scores, layouts, strict=True)
            )
            assert total == pytest.approx(brute, abs=1e-9)
        threshold, best = best_threshold(scores, layouts, profile)
        assert best == pytest.approx(max(totals)) and threshold in thresholds


def test_one_threshold_serves_the_whole_corpus() -> None:
    # file A's window wants threshold 0.9, file B's 0.5 would add a FP in A: the best
    # single threshold is 0.5 (+1 in B outweighs the -0.11 FP in A)
    a, b = file_layout(N, ((LEFT, RIGHT),)), file_layout(N, ((LEFT, RIGHT),))
    sa, sb = np.zeros(N), np.zeros(N)
    sa[LEFT], sa[50] = 0.9, 0.5
    sb[LEFT] = 0.5
    threshold, total = best_threshold([sa, sb], [a, b], STANDARD)
    assert threshold == 0.5
    assert total == pytest.approx(2.0 - 0.11)


def test_window_rows_match_timestamps_inclusively() -> None:
    ts = np.datetime64("2024-01-01T00:00") + np.arange(24) * np.timedelta64(5, "m")
    rows = window_rows(ts, [["2024-01-01 00:10:00.000000", "2024-01-01 00:30:00.000000"]])
    assert rows == [(2, 6)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_score_stream_is_causal_and_in_unit_interval(variant: str) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(2000)
    x = 10 + np.sin(2 * np.pi * t / 100) + rng.normal(0, 0.1, len(t))
    base = score_stream(x, variant, step=300)
    assert base.shape == x.shape
    assert np.all((base >= 0) & (base <= 1))
    warmup = probation_length(len(x))
    assert not base[:warmup].any()  # the warm-up is never scored
    for k in (400, 1000, 1999):
        changed = x.copy()
        changed[k:] += 50.0 + rng.standard_normal(len(x) - k)
        after = score_stream(changed, variant, step=300)
        assert np.array_equal(after[:k], base[:k])
        assert after[k] > base[k]
        # the rows up to k alone score the same (same warm-up): nothing later reaches them
        prefix = score_stream(changed[: k + 1], variant, step=300, warmup=warmup)
        assert np.array_equal(prefix, after[: k + 1])


def test_score_stream_rejects_unknown_variant() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        score_stream(np.ones(10), "oracle")


def test_onset_scores_keep_only_onsets_beating_the_lookback() -> None:
    z = np.zeros(1000)
    onsets = np.array([100, 150, 200, 460, 700], dtype=np.int64)
    z[onsets] = [6.0, -9.0, 4.0, 5.0, 3.5]
    out = onset_scores(1000, onsets, z)
    assert LOOKBACK == 300
    # 150 beats 100; 200 is below 150's score; 460 is 310 rows after 150, so only 200
    # (4 < 5) is inside its lookback; 700 is below 460
    assert np.flatnonzero(out).tolist() == [100, 150, 460]
    assert out[150] == pytest.approx(9.0 / 12.0)
    assert out[460] == pytest.approx(5.0 / 8.0)


def test_record_rows_are_first_points_beyond_every_earlier_value() -> None:
    x = np.array([5.0, 6.0, 4.0, 5.0, 7.0, 8.0, 5.0, np.nan, 3.0, 3.5, 9.0])
    assert record_rows(x, warmup=3).tolist() == [4, 8, 10]  # 5 continues the run from 4
    # margin 0.25 of the range: 7 passes 6 + 0.5; 3 does not pass 4 - 1; 9 not 8 + 1.25
    assert record_rows(x, warmup=3, margin=0.25).tolist() == [4]


def test_records_outrank_onsets() -> None:
    x = np.array([1.0, 2.0, 1.5, 1.2, 1.8, 2.5, 1.0])
    z = np.array([np.nan, np.nan, np.nan, 9.0, 1.0, 2.0, 1.0])
    out = record_scores(x, np.array([3], dtype=np.int64), z, warmup=3)
    # row 3 is an onset but no record: 0.5 * 9 / 12; row 5 (2.5 > 2.0) a record:
    # 0.5 + 0.5 * 2 / 5 beats the onset's score, so it is kept
    assert out[3] == pytest.approx(0.5 * 0.75)
    assert out[5] == pytest.approx(0.5 + 0.5 * 0.4)
    assert np.count_nonzero(out) == 2


def test_default_scores_only_at_the_detectors_event_onsets() -> None:
    rng = np.random.default_rng(11)
    x = 100 + rng.normal(0, 1, 3000)
    x[1500:1510] += 30.0
    x[2500:2505] -= 30.0
    onsets, z = run_detector(x, 300, AnomalyParameters(), probation_length(len(x)))
    assert {1500, 2500} <= set(onsets.tolist())
    scores = score_stream(x, "default", step=300)
    assert set(np.flatnonzero(scores).tolist()) <= set(onsets.tolist())
    assert scores[1500] == pytest.approx(abs(z[1500]) / (abs(z[1500]) + 3.0))


def test_plain_ewma_z_is_the_pandas_ewm_z() -> None:
    import pandas as pd

    rng = np.random.default_rng(5)
    x = 50 + np.cumsum(rng.normal(0, 1, 600))
    alpha, warmup = 0.3, 90
    ewm = pd.Series(x).ewm(alpha=alpha, adjust=False)
    expected = np.concatenate([[x[0]], ewm.mean().to_numpy()[:-1]])
    sd = np.concatenate([[0.0], np.sqrt(ewm.var(bias=True).to_numpy()[:-1])])
    residual = (x - expected)[1:warmup]
    mad = np.median(np.abs(residual - np.median(residual)))
    floor = max(1.5 * 1.4826 * mad, 0.001 * abs(x[:warmup].mean()))
    want = (x - expected) / np.maximum(sd, floor)
    z = plain_ewma_z(x, alpha, warmup)
    assert np.isnan(z[:warmup]).all()
    np.testing.assert_allclose(z[warmup:], want[warmup:], rtol=1e-9)
