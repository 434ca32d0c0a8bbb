"""Client-side histogram quantiles against Prometheus' own ``histogram_quantile``.

Prometheus is the independent calculation: the same samples are backfilled
into a real Prometheus and its answer over the same window is compared with
the quantile the collector computes from 5-minute increases (within 1%).
Cases: the simulated week as it is, the ``le`` label respelled mid-day
(``"1"`` -> ``"1.0"``, as Prometheus 3 normalises it) and bucket counts that
decrease as ``le`` grows (Prometheus forces them monotonic).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import requests

from tars_lib.collect.collector import collect_window
from tars_lib.core.catalogue import Catalogue
from tars_lib.sources.base import SourceWarning
from tars_lib.sources.prometheus import PrometheusSource, credentials_from_env
from tars_lib.sources.scenario import ScenarioSource
from testsupport.servers import prometheus_from_openmetrics, require_binary

from .conftest import SCENARIO

GA = datetime(2025, 11, 18, tzinfo=UTC)
DAY = timedelta(days=1)
BUCKET = "http_request_duration_seconds_bucket"
BROKEN = "broken_duration_seconds_bucket"
PLAIN = "plain_duration_seconds_bucket"
RESPELLED_ALL = "respelled_duration_seconds_bucket"  # every finite le as %.3f from noon
RESPELLED_AT = GA + timedelta(hours=12)
RESPELL = {"1": "1.0", "5": "5.0", "10": "10.0"}  # what Prometheus 3 makes of le="1" etc.
QUANTILES = {"p50_latency_ms": 0.5, "p95_latency_ms": 0.95, "p99_latency_ms": 0.99}
Array = np.ndarray


def source(url: str) -> PrometheusSource:
    return PrometheusSource(url, credentials=credentials_from_env({}), timeout=30)


def prometheus_quantile(url: str, q: float, metric: str, window: str, at: datetime) -> float:
    """Prometheus' histogram_quantile of the window's summed bucket increases, at ``at``."""
    query = f"histogram_quantile({q}, sum by (le) (increase({metric}[{window}])))"
    answer = requests.get(
        f"{url}/api/v1/query", params={"query": query, "time": str(at.timestamp())}, timeout=30
    ).json()
    assert answer["status"] == "success", answer
    (result,) = answer["data"]["result"]
    return float(result["value"][1])


def prometheus_series(url: str, q: float, metric: str, start: datetime, end: datetime) -> Array:
    """Prometheus' 5-minute histogram_quantile at every 5-minute point of the window."""
    query = f"histogram_quantile({q}, sum by (le) (increase({metric}[5m])))"
    params = {
        "query": query,
        "start": str((start + timedelta(minutes=5)).timestamp()),
        "end": str(end.timestamp()),
        "step": "300",
    }
    answer = requests.get(f"{url}/api/v1/query_range", params=params, timeout=30).json()
    assert answer["status"] == "success", answer
    out = np.full(288, np.nan)
    for result in answer["data"]["result"]:
        for t, v in result["values"]:
            out[int((float(t) - start.timestamp()) // 300) - 1] = float(v)
    return out


def latency_catalogue(catalogue: Catalogue, metric: str = BUCKET) -> Catalogue:
    """The default catalogue's latency KPIs only, reading ``metric``."""
    kpis = {}
    for name in QUANTILES:
        spec = catalogue.kpis[name]
        query = spec.queries["buckets"].replace(BUCKET, metric)
        kpis[name] = spec.model_copy(update={"queries": {"buckets": query}})
    return catalogue.model_copy(update={"kpis": kpis, "slos": {}})


# --------------------------------------------------------------------------- the clean week


@pytest.mark.parametrize("day", [0, 2, 4])
def test_daily_quantiles_match_prometheus_histogram_quantile(
    prometheus_url: str, catalogue: Catalogue, day: int
) -> None:
    start = GA + day * DAY
    windows = collect_window(
        source(prometheus_url), latency_catalogue(catalogue), start, start + DAY
    )
    for name, q in QUANTILES.items():
        theirs = prometheus_quantile(prometheus_url, q, BUCKET, "1d", start + DAY) * 1000
        ours = windows[name].value
        assert ours == pytest.approx(theirs, rel=0.01), (name, ours, theirs)
        assert windows[name].warning is None
        # every 5-minute point is Prometheus' own 5-minute histogram_quantile
        series = prometheus_series(prometheus_url, q, BUCKET, start, start + DAY) * 1000
        np.testing.assert_allclose(windows[name].series, series, rtol=1e-9)


# --------------------------------------------------------------------------- crafted histograms


def _histogram_text(handle: object, start: datetime, end: datetime) -> None:
    """The simulated bucket counters from ``start`` to ``end``: as scraped, respelled, broken."""
    raw = ScenarioSource(SCENARIO).raw
    t = raw.timestamps
    keep = (t >= start.timestamp()) & (t <= end.timestamp())
    respelled_from = int(RESPELLED_AT.timestamp())
    by_le = {labels["le"]: values for labels, values in raw.series(BUCKET)}
    lines = []
    for le, values in by_le.items():
        if le in RESPELL:
            before = keep & (t < respelled_from)
            after = keep & (t >= respelled_from)
            lines += [
                f'{BUCKET}{{job="api",le="{le}"}} {v:.17g} {s}'
                for s, v in zip(t[before], values[before], strict=True)
            ]
            lines += [
                f'{BUCKET}{{job="api",le="{RESPELL[le]}"}} {v:.17g} {s}'
                for s, v in zip(t[after], values[after], strict=True)
            ]
        else:
            lines += [
                f'{BUCKET}{{job="api",le="{le}"}} {v:.17g} {s}'
                for s, v in zip(t[keep], values[keep], strict=True)
            ]
        lines += [
            f'{PLAIN}{{job="api",le="{le}"}} {v:.17g} {s}'
            for s, v in zip(t[keep], values[keep], strict=True)
        ]
        late = le if le == "+Inf" else f"{float(le):.3f}"
        for spelling, when in ((le, t < respelled_from), (late, t >= respelled_from)):
            lines += [
                f'{RESPELLED_ALL}{{job="api",le="{spelling}"}} {v:.17g} {s}'
                for s, v in zip(t[keep & when], values[keep & when], strict=True)
            ]
        # broken: le="0.5" counts 95% of le="0.25" (fewer than a smaller bucket)
        broken = 0.95 * by_le["0.25"] if le == "0.5" else values
        lines += [
            f'{BROKEN}{{job="api",le="{le}"}} {v:.17g} {s}'
            for s, v in zip(t[keep], broken[keep], strict=True)
        ]
    handle.write("\n".join(lines) + "\n# EOF\n")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def crafted_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_binary("prometheus")
    require_binary("promtool")
    folder = tmp_path_factory.mktemp("histograms")
    path = folder / "histograms.om.txt"
    with path.open("w", encoding="utf-8") as handle:
        _histogram_text(handle, GA - timedelta(minutes=10), GA + DAY)
    with prometheus_from_openmetrics(path, folder / "prom") as url:
        yield url


@pytest.mark.parametrize("metric", [BUCKET, RESPELLED_ALL])
def test_le_respelled_mid_day_is_one_bucket_as_in_prometheus(
    crafted_url: str, prometheus_url: str, catalogue: Catalogue, metric: str
) -> None:
    both = requests.get(
        f"{crafted_url}/api/v1/series",
        params={"match[]": f'{metric}{{le=~"1|1[.]0*"}}'},
        timeout=30,
    ).json()["data"]
    assert len({s["le"] for s in both}) == 2  # the server really holds both spellings
    latency = latency_catalogue(catalogue, metric)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SourceWarning)
        respelled = collect_window(source(crafted_url), latency, GA, GA + DAY)
    for warning in caught:  # increase() extrapolates the two halves of a bucket separately
        assert "decrease as le grows at 1 of 288 points" in str(warning.message)
    clean = collect_window(source(prometheus_url), latency_catalogue(catalogue), GA, GA + DAY)
    for name, q in QUANTILES.items():
        theirs = prometheus_quantile(crafted_url, q, metric, "1d", GA + DAY) * 1000
        ours = respelled[name].value
        assert ours is not None and ours == pytest.approx(theirs, rel=0.01), (name, ours, theirs)
        assert ours == pytest.approx(clean[name].value, rel=0.01), name
        assert np.nanmax(respelled[name].series) < 10_000  # never the +Inf bucket's bound
        series = prometheus_series(crafted_url, q, metric, GA, GA + DAY) * 1000
        np.testing.assert_allclose(respelled[name].series, series, rtol=1e-9)


def test_decreasing_bucket_counts_are_forced_monotonic_with_a_warning(
    crafted_url: str, catalogue: Catalogue
) -> None:
    broken = latency_catalogue(catalogue, BROKEN)
    mixed = catalogue.model_copy(
        update={
            "kpis": {
                "p99_latency_ms": broken.kpis["p99_latency_ms"],
                "p95_clean": latency_catalogue(catalogue, PLAIN).kpis["p95_latency_ms"],
            },
            "slos": {},
        }
    )
    with pytest.warns(SourceWarning) as caught:
        windows = collect_window(source(crafted_url), mixed, GA, GA + DAY)
    messages = [str(w.message) for w in caught]
    assert any(
        m.startswith("p99_latency_ms: ") and "decrease as le grows at 288 of 288 points" in m
        for m in messages
    ), messages
    assert not any("p95_clean" in m for m in messages), messages  # that KPI only
    assert windows["p95_clean"].warning is None
    ours = windows["p99_latency_ms"].value
    theirs = prometheus_quantile(crafted_url, 0.99, BROKEN, "1d", GA + DAY) * 1000
    assert ours is not None and math.isfinite(theirs)
    assert ours == pytest.approx(theirs, rel=0.01)
    series = prometheus_series(crafted_url, 0.99, BROKEN, GA, GA + DAY) * 1000
    np.testing.assert_allclose(windows["p99_latency_ms"].series, series, rtol=1e-9)
