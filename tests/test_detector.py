"""The compiled detector (``detect_matrix``) against its plain-Python oracle, and its rules
(held baseline, grace, level shifts, the per-day cap) on synthetic series whose answer is
known by construction."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from tars_lib.core.models import AnomalyParameters
from tars_lib.judge.anomaly import detector_config
from tars_lib.judge.detector import (
    EXIT_FRACTION,
    GRACE_POINTS,
    KIND_LEVEL_SHIFT,
    KIND_SPIKE,
    DetectorConfig,
    RawEvents,
    detect_matrix,
    reference_detect,
    warmup_stats,
)

Array = npt.NDArray[np.float64]
Event = tuple[int, int, int, float, float, int]
DEFAULT = detector_config(AnomalyParameters(), 300, 288)
"""The shipped settings on the 5-minute grid: z 3, alpha 0.3, beta 0.01, 48-point shifts."""

CONFIGS = [
    DEFAULT,
    DetectorConfig(
        z_threshold=2.0,
        alpha=0.1,
        beta=0.05,
        shift_points=12,
        day_points=100,
        max_per_day=2,
        warmup=100,
    ),
    DetectorConfig(
        z_threshold=4.5,
        alpha=0.9,
        beta=1.0,
        shift_points=1,
        day_points=50,
        max_per_day=1,
        warmup=30,
    ),
    DetectorConfig(
        z_threshold=2.5,
        alpha=0.5,
        beta=0.2,
        shift_points=3,
        day_points=60,
        max_per_day=3,
        warmup=40,
    ),
    DetectorConfig(
        z_threshold=3.5,
        alpha=0.05,
        beta=0.001,
        shift_points=200,
        day_points=288,
        max_per_day=4,
        warmup=288,
    ),
]


def random_series(rng: np.random.Generator, length: int) -> Array:
    """Normal noise at a random level and scale, with spikes of random length, height and
    sign, a few level shifts, NaN gaps (sometimes at the very start) and the odd infinity."""
    scale = rng.uniform(0.1, 5.0)
    x = rng.uniform(-100.0, 1000.0) + rng.normal(0.0, scale, length)
    for _ in range(rng.integers(0, 15)):
        at, span = int(rng.integers(0, length)), int(rng.integers(1, 80))
        x[at : at + span] += rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 30.0) * scale
    for _ in range(rng.integers(0, 3)):
        x[int(rng.integers(0, length)) :] += rng.choice([-1.0, 1.0]) * rng.uniform(2, 20) * scale
    for _ in range(rng.integers(0, 5)):
        at = 0 if rng.random() < 0.1 else int(rng.integers(0, length))
        x[at : at + int(rng.integers(1, 50))] = np.nan
    if rng.random() < 0.1:
        x[int(rng.integers(0, length))] = rng.choice([np.inf, -np.inf])
    return x


def kernel_events(raw: RawEvents, row: int) -> list[Event]:
    pick = np.flatnonzero(raw.row == row)
    return [
        (
            int(raw.first[j]),
            int(raw.last[j]),
            int(raw.peak[j]),
            float(raw.peak_z[j]),
            float(raw.baseline[j]),
            int(raw.kind[j]),
        )
        for j in pick
    ]


def assert_same_events(got: list[Event], want: list[Event], where: object) -> None:
    assert len(got) == len(want), (where, got, want)
    for g, w in zip(got, want, strict=True):
        assert (g[0], g[1], g[2], g[5]) == (w[0], w[1], w[2], w[5]), (where, g, w)
        assert abs(g[3] - w[3]) <= 1e-9, (where, g, w)
        assert g[4] == pytest.approx(w[4], rel=1e-12, abs=1e-12), (where, g, w)


def reference_rows(
    values: Array, config: DetectorConfig, rows: list[int] | None = None
) -> dict[int, list[Event]]:
    floor, var0 = warmup_stats(values, config.warmup, config.alpha)
    return {
        i: reference_detect(values[i].tolist(), config, float(floor[i]), float(var0[i]))
        for i in (range(len(values)) if rows is None else rows)
    }


def uncapped(config: DetectorConfig) -> DetectorConfig:
    return replace(config, max_per_day=10**9)


def day_of(first: int, config: DetectorConfig) -> int:
    return (first - config.warmup) // config.day_points


def over_cap(events: list[Event], config: DetectorConfig) -> int:
    """Events beyond ``max_per_day`` on their start's day, counted from an uncapped run."""
    per_day = Counter(day_of(e[0], config) for e in events)
    return sum(max(0, n - config.max_per_day) for n in per_day.values())


def first_per_day(events: list[Event], config: DetectorConfig) -> list[Event]:
    seen: Counter[int] = Counter()
    kept = []
    for e in events:
        seen[day_of(e[0], config)] += 1
        if seen[day_of(e[0], config)] <= config.max_per_day:
            kept.append(e)
    return kept


# --------------------------------------------------------------------------- kernel vs oracle


@pytest.fixture(scope="module")
def random_matrix() -> Array:
    rng = np.random.default_rng(20251118)
    return np.array([random_series(rng, 1200) for _ in range(120)])


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"z{c.z_threshold}-cap{c.max_per_day}")
def test_kernel_equals_reference_on_random_series(
    random_matrix: Array, config: DetectorConfig
) -> None:
    raw, z = detect_matrix(random_matrix, config)
    assert z is None
    capped = reference_rows(random_matrix, config)
    full = reference_rows(random_matrix, uncapped(config))
    for row in range(len(random_matrix)):
        assert_same_events(kernel_events(raw, row), capped[row], (config, row))
        # the cap only drops events from the record: it never changes the state
        assert first_per_day(full[row], config) == capped[row]
        assert int(raw.suppressed[row]) == over_cap(full[row], config), (config, row)
    # the data exercise every path: both kinds and, under the small caps, suppression
    kinds = Counter(int(k) for k in raw.kind)
    assert kinds[KIND_SPIKE] > 5 and kinds[KIND_LEVEL_SHIFT] > 5, kinds
    if config.max_per_day <= 3:
        assert raw.suppressed.sum() > 0


def test_events_are_ordered_and_well_formed(random_matrix: Array) -> None:
    config = CONFIGS[1]
    raw, _ = detect_matrix(random_matrix, config)
    assert np.all(np.diff(raw.row) >= 0)
    for row in range(len(random_matrix)):
        events = kernel_events(raw, row)
        for a, b in itertools.pairwise(events):
            assert a[1] < b[0]  # one event at a time per series
        for first, last, peak, peak_z, _, kind in events:
            assert config.warmup <= first <= peak <= last
            assert abs(peak_z) >= config.z_threshold * EXIT_FRACTION  # on its side, in the event
            assert np.isfinite(random_matrix[row, [first, peak, last]]).all()
            if kind == KIND_LEVEL_SHIFT:
                # shift_points points out of band on one side, grace points aside
                assert last - first + 1 >= config.shift_points


def test_rows_are_independent(random_matrix: Array) -> None:
    config = CONFIGS[3]
    together, z_together = detect_matrix(random_matrix[:6], config, keep_z=True)
    assert z_together is not None
    for row in range(6):
        alone, z_alone = detect_matrix(random_matrix[row : row + 1], config, keep_z=True)
        assert z_alone is not None
        assert kernel_events(alone, 0) == kernel_events(together, row)
        np.testing.assert_array_equal(z_alone[0], z_together[row])


# --------------------------------------------------------------------------- z values


def independent_state(
    x: Array, warmup: int, alpha: float, beta: float
) -> tuple[Array, Array, float]:
    """The mean and variance before each point, and the floor, for a series that never
    leaves the band: pandas' EWMA for the mean; the variance recursion
    v_t = (1 - beta)(v_{t-1} + beta d_t^2) as pandas' EWMA of d^2 with alpha = beta,
    seeded with v0 / (1 - beta); the floor from numpy's median. NaN points are skipped."""
    keep = np.flatnonzero(np.isfinite(x))
    y = x[keep]
    mean = pd.Series(y).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    before = np.concatenate([[y[0]], mean[:-1]])  # m_{t-1}; the first point only seeds it
    d = y - before
    warm = keep < warmup
    resid = d[1:][warm[1:]]
    spread = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    floor = max(1.5 * spread, 0.001 * abs(y[warm].mean()), 1e-12)
    v0 = max(spread, floor / 1.5) ** 2
    u = pd.Series(np.concatenate([[v0 / (1 - beta)], d[1:] ** 2])).ewm(alpha=beta, adjust=False)
    after = (1 - beta) * u.mean().to_numpy()  # the variance after each point
    m_full, v_full = np.full(len(x), np.nan), np.full(len(x), np.nan)
    m_full[keep[1:]], v_full[keep[1:]] = before[1:], after[:-1]
    return m_full, v_full, floor


def test_keep_z_equals_an_independent_recomputation() -> None:
    rng = np.random.default_rng(5)
    length = 288 * 3
    # bounded noise, three times wider after the warm-up, so the variance outgrows the
    # floor; |x - m| < 7 while sd >= the floor (about 1.1): z < 10, no event can open
    x = 50.0 + rng.uniform(-1.0, 1.0, length) * np.where(np.arange(length) < 288, 1.0, 3.0)
    x += np.sin(np.arange(length) / 40.0)
    x[500:530] = np.nan
    x[3] = np.nan
    config = replace(DEFAULT, z_threshold=10.0, beta=0.05)
    raw, z = detect_matrix(x[None, :], config, keep_z=True)
    assert z is not None and len(raw.row) == 0
    m, v, floor = independent_state(x, config.warmup, config.alpha, config.beta)
    scored = np.arange(length) >= config.warmup
    # both sides of max(sqrt(v), floor) are exercised
    assert (np.sqrt(v[scored]) > floor).any() and (np.sqrt(v[scored]) < floor).any()
    sd = np.maximum(np.sqrt(v), floor)
    want = (x - m) / sd
    want[: config.warmup] = np.nan  # warm-up points are never scored
    np.testing.assert_allclose(z[0], want, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isnan(z[0, 500:530]).all() and np.isfinite(z[0, 530:]).all()
    assert warmup_stats(x[None, :], config.warmup, config.alpha)[0][0] == pytest.approx(floor)


def test_z_uses_the_state_before_the_point_and_holds_it_during_an_event() -> None:
    x = np.array([[10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 10.0, 30.0, 10.2, 31.0]])
    alpha, beta = 0.3, 0.1
    config = DetectorConfig(3.0, alpha, beta, 48, 288, 20, warmup=7)
    raw, z = detect_matrix(x, config, keep_z=True)
    assert z is not None
    m, v = x[0, 0], 0.0
    residuals = []
    for value in x[0, 1:7]:
        residuals.append(value - m)
        m += alpha * (value - m)
    mad = np.median(np.abs(np.array(residuals) - np.median(residuals)))
    floor = max(1.5 * 1.4826 * mad, 0.001 * abs(x[0, :7].mean()))
    v = max(1.4826 * mad, floor / 1.5) ** 2
    m = x[0, 0]
    for value in x[0, 1:7]:
        d = value - m
        m += alpha * d
        v = (1 - beta) * (v + beta * d * d)
    expected = []
    for value in x[0, 7:]:
        # 30 opened an event: the baseline is held, so 10.2 and 31 are scored against it,
        # while every scored point teaches the variance (its residual clipped at 10 sd)
        sd = max(math.sqrt(v), floor)
        expected.append((value - m) / sd)
        r = min(max(value - m, -10 * sd), 10 * sd)
        v = (1 - beta) * (v + beta * r * r)
    assert z[0, 7:] == pytest.approx(expected, rel=1e-12)
    assert np.isnan(z[0, :7]).all()
    ((first, last, peak, peak_z, baseline, kind),) = kernel_events(raw, 0)
    assert (first, last, peak, kind) == (7, 9, 9, KIND_SPIKE)
    assert peak_z == z[0, 9] and baseline == pytest.approx(m, rel=1e-12)


def test_flat_series_is_floored_not_exploded() -> None:
    x = np.full((1, 400), 50.0)
    x[0, 350] = 50.01  # 0.02%: far under the 0.1% relative floor
    raw, z = detect_matrix(x, DEFAULT, keep_z=True)
    assert z is not None and len(raw.row) == 0
    assert np.nanmax(np.abs(z)) == pytest.approx(0.01 / 0.05)


def test_gaps_do_not_poison_the_state() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(99.0, 101.0, size=(1, 600))
    x[0, 400:420] = np.nan
    x[0, 500] = 130
    raw, z = detect_matrix(x, DEFAULT, keep_z=True)
    assert z is not None
    assert np.isnan(z[0, 400:420]).all()
    assert np.isfinite(z[0, 420:]).all()
    assert z[0, 500] > 9
    ((first, last, peak, peak_z, baseline, kind),) = kernel_events(raw, 0)
    assert (first, last, peak, peak_z, kind) == (500, 500, 500, z[0, 500], KIND_SPIKE)
    assert baseline == pytest.approx(100, abs=1)


# --------------------------------------------------------------------------- spans


def quiet(length: int, seed: int, level: float = 100.0, amplitude: float = 1.0) -> Array:
    """Bounded noise: |x_t - m| <= 2 * amplitude for any EWMA m of it, so once the floor is
    over 2 * amplitude / 3 no point can reach z = 3: zero events is certain, not likely."""
    return level + np.random.default_rng(seed).uniform(-amplitude, amplitude, length)


def test_quiet_noise_gives_no_event() -> None:
    x = quiet(288 * 8, seed=1)[None, :]
    floor, _ = warmup_stats(x, DEFAULT.warmup, DEFAULT.alpha)
    assert DEFAULT.z_threshold * floor[0] > 2.0  # hence |z| < 3 everywhere
    raw, z = detect_matrix(x, DEFAULT, keep_z=True)
    assert z is not None
    assert len(raw.row) == 0 and raw.suppressed.tolist() == [0]
    assert np.nanmax(np.abs(z)) < DEFAULT.z_threshold


@pytest.mark.parametrize("height", [20.0, -20.0])
def test_rectangular_spike_is_one_event_over_its_exact_span(height: float) -> None:
    x = quiet(288 * 3, seed=2)
    t0, t1 = 400, 429  # 30 points: 2.5 h, shorter than the 4 h of a level shift
    x[t0 : t1 + 1] += height
    raw, z = detect_matrix(x[None, :], DEFAULT, keep_z=True)
    assert z is not None
    events = kernel_events(raw, 0)
    assert len(events) == 1
    first, last, peak, peak_z, baseline, kind = events[0]
    assert (first, last, kind) == (t0, t1, KIND_SPIKE)
    assert t0 <= peak <= t1 and np.sign(peak_z) == np.sign(height)
    assert peak_z == pytest.approx(z[0, peak]) and abs(peak_z) == np.nanmax(np.abs(z[0]))
    # the baseline held is the EWMA just before the spike (nothing happened before it)
    ewma = pd.Series(x[:t0]).ewm(alpha=DEFAULT.alpha, adjust=False).mean().iloc[-1]
    assert baseline == pytest.approx(ewma, rel=1e-12)
    # the return is scored against the held baseline: in band, not an improvement event
    assert np.abs(z[0, t1 + 1 :]).max() < DEFAULT.z_threshold


def test_step_longer_than_level_shift_hours_is_one_level_shift() -> None:
    x = quiet(288 * 3, seed=3)
    t0 = 400
    x[t0:] += 20.0
    raw, z = detect_matrix(x[None, :], DEFAULT, keep_z=True)
    assert z is not None
    assert DEFAULT.shift_points == 48  # 4 hours of 5-minute points
    events = kernel_events(raw, 0)
    assert len(events) == 1, events
    first, last, _, _, baseline, kind = events[0]
    assert (first, last, kind) == (t0, t0 + DEFAULT.shift_points - 1, KIND_LEVEL_SHIFT)
    assert baseline == pytest.approx(100.0, abs=1.0)
    # the new level: the EWMA of the event's points, all out of band on one side
    level = pd.Series(x[t0 : last + 1]).ewm(alpha=DEFAULT.alpha, adjust=False).mean().iloc[-1]
    assert raw.new_level[0] == pytest.approx(level, rel=1e-12)
    assert raw.new_level[0] == pytest.approx(120.0, abs=1.0)
    # the baseline restarted there: the rest of the step is in band
    assert np.abs(z[0, last + 1 :]).max() < DEFAULT.z_threshold


def test_dip_within_the_grace_keeps_one_event_and_a_longer_one_splits_it() -> None:
    t0, t1, dip = 400, 429, 414
    inside = quiet(288 * 2, seed=4)
    inside[t0 : t1 + 1] += 20.0
    inside[dip : dip + GRACE_POINTS] -= 20.0  # back at the baseline for the grace
    raw, _ = detect_matrix(inside[None, :], DEFAULT)
    assert [e[:2] for e in kernel_events(raw, 0)] == [(t0, t1)]

    longer = quiet(288 * 2, seed=4)
    longer[t0 : t1 + 1] += 20.0
    longer[dip : dip + GRACE_POINTS + 1] -= 20.0
    raw, _ = detect_matrix(longer[None, :], DEFAULT)
    resume = dip + GRACE_POINTS + 1
    assert [e[:2] for e in kernel_events(raw, 0)] == [(t0, dip - 1), (resume, t1)]


def test_hysteresis_keeps_an_event_open_down_to_half_the_threshold() -> None:
    x = quiet(288 * 2, seed=6)
    floor, _ = warmup_stats(x[None, :], DEFAULT.warmup, DEFAULT.alpha)
    held = pd.Series(x[:400]).ewm(alpha=DEFAULT.alpha, adjust=False).mean().iloc[-1]
    x[400:410] += 20.0
    # ten points between exit_z and the threshold (sd is the floor, or at most 1.5 times
    # it after the warm-up; the z values below check it): the event stays open
    x[410:420] = held + (EXIT_FRACTION + 1.0) / 2 * DEFAULT.z_threshold * floor[0]
    raw, z = detect_matrix(x[None, :], DEFAULT, keep_z=True)
    assert z is not None
    assert (z[0, 410:420] < DEFAULT.z_threshold).all()
    assert (z[0, 410:420] >= DEFAULT.z_threshold * EXIT_FRACTION).all()
    assert [e[:2] for e in kernel_events(raw, 0)] == [(400, 419)]


def test_event_still_open_at_the_end_is_recorded_as_a_spike() -> None:
    x = quiet(288 * 2, seed=7)
    x[-10:] += 20.0
    raw, _ = detect_matrix(x[None, :], DEFAULT)
    assert [(e[0], e[1], e[5]) for e in kernel_events(raw, 0)] == [
        (len(x) - 10, len(x) - 1, KIND_SPIKE)
    ]


def no_warmup_data() -> Array:
    x = np.full(288 * 3, np.nan)  # e.g. a KPI that starts reporting after the GA day
    x[288:] = quiet(288 * 2, seed=8)
    return x


def zero_warmup() -> Array:
    x = np.zeros(288 * 3)  # e.g. an error rate of exactly 0 all GA day, then a few errors
    x[288:] = np.abs(np.random.default_rng(0).normal(0.0, 0.01, 288 * 2))
    return x


@pytest.mark.parametrize("make", [no_warmup_data, zero_warmup], ids=["no-data", "zeros"])
def test_series_without_warmup_spread_does_not_flood(make: Callable[[], Array]) -> None:
    """No spread on the GA day: the first day after it trains the state instead."""
    raw, _ = detect_matrix(make()[None, :], DEFAULT)
    total = len(raw.row) + int(raw.suppressed.sum())
    assert total <= 2, f"{total} events in two days of steady noise"


# --------------------------------------------------------------------------- a pathological fleet


def test_pathological_fleet_is_capped_per_series_and_day() -> None:
    rows, length = 2000, 4000
    rng = np.random.default_rng(11)
    config = detector_config(AnomalyParameters(max_events_per_day=2), 300, 288)
    values = rng.uniform(10.0, 1000.0, (rows, 1)) + rng.normal(0.0, 1.0, (rows, length))
    spikes = np.arange(config.warmup + 50, length, 100)  # 2 or 3 a day, over the cap
    heights = rng.choice([-1.0, 1.0], (rows, len(spikes))) * rng.uniform(10, 40, (rows, 1))
    values[:, spikes] += heights
    raw, _ = detect_matrix(values, config)
    days = (raw.first - config.warmup) // config.day_points
    per_series_day = Counter(zip(raw.row.tolist(), days.tolist(), strict=True))
    assert max(per_series_day.values()) <= config.max_per_day
    assert raw.suppressed.sum() > 0  # the cap did bite
    assert len(raw.row) <= rows * config.max_per_day * (-(-(length - config.warmup) // 288))
    sampled = [0, 1, 777, 1500, rows - 1]
    capped = reference_rows(values, config, sampled)
    full = reference_rows(values, uncapped(config), sampled)
    for row in sampled:
        kept = kernel_events(raw, row)
        assert_same_events(kept, capped[row], row)
        assert len(kept) + int(raw.suppressed[row]) == len(full[row])
        assert len(full[row]) >= len(spikes)  # every spike was seen, listed or counted
