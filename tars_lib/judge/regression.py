"""Phase 5: regressions against several baselines, and the rollback verdict.

The release's current state is the most recent days of the week (the last 3
by default: a shift that started on day 5 and persists is a regression; a
day-2 incident that recovered is a degradation, judged elsewhere). It is
compared with every baseline that has data: the GA day, the pre-GA week, the
previous release's GA day, and the KPI's target.

Per KPI and baseline: the adverse change in percent (direction-aware), and a
significance test so noise is not called a regression:
  * ratio KPIs with event counts: a conditional binomial test on bad events
    (exact; handles a zero baseline explicitly);
  * other KPIs with 5-minute samples: Mann-Whitney U, with the Hodges-Lehmann
    shift and its distribution-free 95% confidence interval (Kayenta's method);
  * the target baseline: the aggregate against the target, no test.
A regression is an adverse change of 30% or more that is significant
(p < 0.01 and, for Mann-Whitney, a confidence interval on the adverse side).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest, mannwhitneyu, norm

from tars_lib.core.catalogue import Catalogue, KpiSpec
from tars_lib.core.models import (
    DaySummary,
    GaKpiSummary,
    KpiComparison,
    KpiValue,
    Regression,
    RegressionSummary,
    RollbackReason,
    RollbackVerdict,
)

__all__ = [
    "ALPHA",
    "MIN_SAMPLES",
    "RECENT_DAYS",
    "REGRESSION_PERCENT",
    "analyze_regressions",
    "change_severity",
    "hodges_lehmann",
]

Array = npt.NDArray[np.float64]
REGRESSION_PERCENT = 30.0
ALPHA = 0.01
THRESHOLD = f"adverse change >= {REGRESSION_PERCENT:g}% with p < {ALPHA:g}"
MIN_SAMPLES = 12
"""Fewer 5-minute samples than an hour's worth on either side: insufficient data."""
MIN_BAD_EVENTS = 10
"""A zero-baseline jump needs at least this many bad events to be judged."""
RECENT_DAYS = 3
Severity = Literal["none", "low", "medium", "high", "critical"]
_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def change_severity(adverse_percent: float) -> Severity:
    """none under 10%, low under 20%, medium under 30%, high under 50%, else critical."""
    for bound, name in ((50.0, "critical"), (30.0, "high"), (20.0, "medium"), (10.0, "low")):
        if adverse_percent >= bound:
            return name  # type: ignore[return-value]
    return "none"


def hodges_lehmann(
    observed: Array, baseline: Array, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Median of all pairwise differences observed - baseline, and its CI.

    The interval's ends are order statistics of the differences at the
    normal-approximation critical value of the Mann-Whitney U statistic.
    """
    diffs = np.sort(np.subtract.outer(observed, baseline).ravel())
    n1, n2 = len(observed), len(baseline)
    total = n1 * n2
    z = float(norm.ppf(0.5 + confidence / 2))
    k = math.floor(total / 2 - z * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12))
    k = min(max(k, 0), total - 1)
    return float(np.median(diffs)), float(diffs[k]), float(diffs[total - 1 - k])


State = Literal["ok", "regression", "improvement", "insufficient_data"]


@dataclass(frozen=True)
class _Test:
    """What a significance test found (all None when no test applied)."""

    p_value: float | None = None
    effect_size: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


_NO_TEST = _Test()


@dataclass(frozen=True)
class _Side:
    """One side of a comparison: an aggregate, optionally samples and event counts."""

    value: float | None
    samples: Array
    bad: float | None = None
    total: float | None = None


def _samples(values: Sequence[KpiValue | None]) -> Array:
    out: list[float] = []
    for v in values:
        if v is not None and v.series_5m:
            out += [x for x in v.series_5m if x is not None]
    return np.array(out, dtype=np.float64)


def _bad_counts(spec: KpiSpec, values: Sequence[KpiValue | None]) -> tuple[float, float] | None:
    """Bad events and all events, from a ratio KPI's summed counts."""
    bad = total = 0.0
    for v in values:
        if v is None or v.counts is None:
            return None
        num, den = v.counts.get("numerator"), v.counts.get("denominator")
        if num is None or den is None:
            return None
        bad += (den - num) if spec.direction == "higher" else num
        total += den
    return (bad, total) if values else None


def _side(spec: KpiSpec, values: Sequence[KpiValue | None]) -> _Side:
    present = [v for v in values if v is not None and v.value is not None]
    counts = _bad_counts(spec, present) if spec.aggregate == "ratio" else None
    if counts is not None and counts[1] > 0:
        bad, total = counts
        share = 1 - bad / total if spec.direction == "higher" else bad / total
        return _Side(100.0 * share, _samples(present), bad, total)
    value = float(np.mean([v.value for v in present if v.value is not None])) if present else None
    return _Side(value, _samples(present))


def _adverse(spec: KpiSpec, baseline: float, observed: float) -> float | None:
    if baseline == 0 or spec.direction == "neutral":
        return None
    change = (observed - baseline) / abs(baseline) * 100.0
    return change if spec.direction == "lower" else -change


def _compare(kpi: str, spec: KpiSpec, name: str, base: _Side, now: _Side) -> KpiComparison:
    def result(state: State, severity: Severity = "none", test: _Test = _NO_TEST) -> KpiComparison:
        return KpiComparison(
            kpi=kpi,
            baseline=name,
            baseline_value=None if base.value is None else round(base.value, 6),
            observed_value=None if now.value is None else round(now.value, 6),
            adverse_change_percent=None if adverse is None else round(adverse, 3),
            state=state,
            severity=severity,
            p_value=test.p_value,
            effect_size=test.effect_size,
            ci_low=test.ci_low,
            ci_high=test.ci_high,
        )

    adverse: float | None = None
    if base.value is None or now.value is None:
        return result("insufficient_data")
    adverse = _adverse(spec, base.value, now.value)
    if spec.direction == "neutral":
        return result("ok")
    if name == "slo_target":
        regressed = adverse is not None and adverse >= REGRESSION_PERCENT
        return result("regression" if regressed else "ok", change_severity(adverse or 0.0))
    if base.bad is not None and now.bad is not None and base.total and now.total:
        return _count_test(result, adverse, base, now)
    if len(base.samples) < MIN_SAMPLES or len(now.samples) < MIN_SAMPLES:
        return result("insufficient_data")
    p_value = float(mannwhitneyu(now.samples, base.samples, alternative="two-sided").pvalue)
    shift, low, high = hodges_lehmann(now.samples, base.samples)
    worse_side = (low > 0) if spec.direction == "lower" else (high < 0)
    better_side = (high < 0) if spec.direction == "lower" else (low > 0)
    extra = _Test(p_value, shift, low, high)
    if adverse is None:
        return result("insufficient_data", test=extra)
    significant = p_value < ALPHA
    if significant and worse_side and adverse >= REGRESSION_PERCENT:
        return result("regression", change_severity(adverse), test=extra)
    if significant and better_side and adverse <= -10.0:
        return result("improvement", test=extra)
    return result(
        "ok", change_severity(adverse) if significant and worse_side else "none", test=extra
    )


def _count_test(
    result: Callable[..., KpiComparison], adverse: float | None, base: _Side, now: _Side
) -> KpiComparison:
    """Bad events now vs in the baseline, given the traffic on each side (binomial)."""
    assert base.bad is not None and now.bad is not None and base.total and now.total
    events = round(base.bad + now.bad)
    share = now.total / (now.total + base.total)
    if events == 0:
        return result("ok", test=_Test(p_value=1.0))
    p_value = float(binomtest(round(now.bad), events, share, alternative="greater").pvalue)
    rate_now, rate_base = now.bad / now.total, base.bad / base.total
    extra = _Test(p_value, 100.0 * (rate_now - rate_base))
    if base.bad == 0:  # no relative change exists: judge the jump on its own
        if now.bad < MIN_BAD_EVENTS:
            return result("insufficient_data", test=extra)
        if p_value < ALPHA:
            return result("regression", "high", test=extra)
        return result("insufficient_data", test=extra)
    bad_change = (rate_now / rate_base - 1.0) * 100.0
    if p_value < ALPHA and bad_change >= REGRESSION_PERCENT:
        return result("regression", change_severity(bad_change), test=extra)
    if adverse is not None and adverse <= -10.0:
        return result("improvement", test=extra)
    return result("ok", change_severity(bad_change) if p_value < ALPHA else "none", test=extra)


def analyze_regressions(
    catalogue: Catalogue,
    ga: GaKpiSummary,
    days: Mapping[int, DaySummary],
    generated_at: datetime,
    previous_release: GaKpiSummary | None = None,
    recent_days: int = RECENT_DAYS,
) -> RegressionSummary:
    recent = sorted(days)[-recent_days:]
    baselines: dict[str, Mapping[str, KpiValue] | None] = {
        "ga_day": ga.kpis,
        "pre_ga_week": ga.pre_ga_kpis,
        "previous_release": previous_release.kpis if previous_release else None,
    }
    used = [name for name, kpis in baselines.items() if kpis is not None] + ["slo_target"]
    comparisons: list[KpiComparison] = []
    for kpi, spec in catalogue.kpis.items():
        now = _side(spec, [days[d].kpis.get(kpi) for d in recent])
        for name, kpis in baselines.items():
            if kpis is not None:
                comparisons.append(_compare(kpi, spec, name, _side(spec, [kpis.get(kpi)]), now))
        if spec.target is not None:
            target = _Side(spec.target, np.empty(0))
            comparisons.append(_compare(kpi, spec, "slo_target", target, now))
    regressions = _regressions(comparisons)
    return RegressionSummary(
        generated_at=generated_at,
        ga_timestamp=ga.ga_timestamp,
        baselines=used,
        comparisons=comparisons,
        regressions=regressions,
        rollback_recommendation=_verdict(catalogue, comparisons, regressions, recent),
        observed_days=list(recent),
        threshold=THRESHOLD,
    )


def _regressions(comparisons: Sequence[KpiComparison]) -> list[Regression]:
    out = []
    for kpi in dict.fromkeys(c.kpi for c in comparisons):
        hits = [c for c in comparisons if c.kpi == kpi and c.state == "regression"]
        if not hits:
            continue
        worst = max(hits, key=lambda c: _RANK[c.severity])
        changes = [c.adverse_change_percent for c in hits if c.adverse_change_percent is not None]
        out.append(
            Regression(
                kpi=kpi,
                severity=worst.severity if worst.severity != "none" else "high",
                adverse_change_percent=round(max(changes), 3) if changes else 100.0,
                baselines=[c.baseline for c in hits],
            )
        )
    return out


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _verdict(
    catalogue: Catalogue,
    comparisons: Sequence[KpiComparison],
    regressions: Sequence[Regression],
    recent: Sequence[int],
) -> RollbackVerdict:
    """recommended: a regression of an SLO KPI, or a critical one, that every baseline
    with samples agrees on (at least two when two exist); consider: any other regression."""
    slo_kpis = {s.kpi for s in catalogue.slos.values()}
    reasons: list[RollbackReason] = []
    recommend = False
    days = f"days {recent[0]}-{recent[-1]}" if len(recent) > 1 else f"day {recent[0]}"
    for reg in regressions:
        tested = [
            c
            for c in comparisons
            if c.kpi == reg.kpi and c.baseline != "slo_target" and c.state != "insufficient_data"
        ]
        agreeing = [c for c in tested if c.state == "regression"]
        needed = min(2, len(tested)) or 1
        serious = reg.kpi in slo_kpis or reg.severity == "critical"
        strong = serious and len(agreeing) >= needed
        recommend = recommend or strong
        best = min(
            agreeing or [c for c in comparisons if c.kpi == reg.kpi and c.state == "regression"],
            key=lambda c: c.p_value if c.p_value is not None else 1.0,
        )
        change = (
            "no bad events in the baseline"
            if best.adverse_change_percent is None
            else f"{best.adverse_change_percent:+.1f}%"
        )
        p_text = ""
        if best.p_value is not None:
            p_text = ", p < 1e-300" if best.p_value == 0 else f", p = {best.p_value:.2g}"
        reasons.append(
            RollbackReason(
                kpi=reg.kpi,
                baselines=reg.baselines,
                observed_value=best.observed_value,
                baseline_value=best.baseline_value,
                effect_size=best.effect_size,
                p_value=best.p_value,
                threshold=THRESHOLD,
                text=(
                    f"{reg.kpi} {change} on {days} vs {best.baseline} "
                    f"({_num(best.observed_value)} vs {_num(best.baseline_value)}{p_text}); "
                    f"agreed by {', '.join(reg.baselines)}"
                    + ("" if strong else " (not enough to recommend rollback on its own)")
                ),
            )
        )
    verdict: Literal["recommended", "consider", "not_needed"] = (
        "recommended" if recommend else "consider" if regressions else "not_needed"
    )
    return RollbackVerdict(verdict=verdict, reasons=reasons)
