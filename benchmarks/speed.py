"""Speed benchmarks: the detector, collection from a real Prometheus, and make demo's phases.

Every comparison runs side by side in one process on the same data; results are
ratios as well as absolute figures. Nothing here is asserted: `make bench`
prints and records, docs/benchmarks.md explains.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARS = str(Path(sys.executable).with_name("tars"))
POINTS = 10_080  # 7 days at 1 minute
GA = datetime(2025, 11, 18, tzinfo=UTC)


def _best(fn: Callable[[], object], repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def detector_speed(n_series: int, pandas_sample: int = 100) -> dict[str, float]:
    """Our detect() (events included) vs a pandas ewm loop, bare lfilter and one numpy pass."""
    import pandas as pd
    from scipy.signal import lfilter

    from tars_lib.anomaly import SeriesMatrix, detect
    from tars_lib.catalogue import load_catalogue
    from tars_lib.models import Window

    rng = np.random.default_rng(42)
    values = rng.normal(100.0, 5.0, size=(n_series, POINTS))
    values[::50, 6000:6005] += 80.0  # some real events to extract
    points = values.size
    grid = np.arange(POINTS, dtype=np.int64) * 60 + int(GA.timestamp())
    matrix = SeriesMatrix(
        grid,
        ("p99_latency_ms",) * n_series,
        tuple({"i": str(i)} for i in range(n_series)),
        values,
        1440,
        60,
    )
    catalogue = load_catalogue()
    window = Window(start=GA + timedelta(days=1), end=GA + timedelta(days=8))
    now = datetime.now(UTC)

    def ours() -> object:
        return detect(matrix, catalogue, window, 3.0, 0.3, now)

    tracemalloc.start()
    events = ours()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_ours = _best(ours)

    def bare_lfilter() -> object:
        a = np.array([1.0, -0.7])
        mean = lfilter([0.3], a, values, axis=1)
        d2 = np.square(values - mean)
        return lfilter([0.21], a, d2, axis=1)

    t_lfilter = _best(bare_lfilter)
    t_floor = _best(lambda: values.sum())
    sample = values[:pandas_sample]

    def pandas_loop() -> object:
        out = []
        for row in sample:
            ewm = pd.Series(row).ewm(alpha=0.3, adjust=False)
            m, v = ewm.mean().to_numpy(), ewm.var(bias=True).to_numpy()
            out.append((row[1:] - m[:-1]) / np.sqrt(np.maximum(v[:-1], 1e-12)))
        return out

    t_pandas = _best(pandas_loop, repeat=1) * (n_series / pandas_sample)
    return {
        "series": n_series,
        "points": points,
        "events": len(events.events),  # type: ignore[attr-defined]
        "ours_s": t_ours,
        "ours_points_per_s": points / t_ours,
        "pandas_loop_s_extrapolated": t_pandas,
        "lfilter_s": t_lfilter,
        "floor_s": t_floor,
        "ratio_vs_pandas": t_pandas / t_ours,
        "ratio_to_lfilter": t_ours / t_lfilter,
        "ratio_to_floor": t_ours / t_floor,
        "data_mb": values.nbytes / 1e6,
        "peak_extra_mb": peak / 1e6,
        "peak_over_data": (values.nbytes + peak) / values.nbytes,
    }


def _backfill(replicas: int, workdir: Path) -> tuple[Path, int]:
    from tars_lib.scenario import DEFAULT_SCENARIO, load_scenario, simulate, write_exposition

    scenario = load_scenario(DEFAULT_SCENARIO).model_copy(
        update={"replicas": replicas, "days_before_ga": 0, "days_after_ga": 8}
    )
    raw = simulate(scenario)
    path = workdir / f"fleet_{replicas}.om"
    with path.open("w", encoding="utf-8") as handle:
        write_exposition(raw, handle)
    series = sum(len(v) for v in (*raw.counters.values(), *raw.gauges.values()))
    return path, series


def collection_speed(replicas: int) -> dict[str, float]:
    """Raw range queries over all series: our source vs the client's documented chunked way
    and one sequential custom_query_range per query."""
    sys.path.insert(0, str(ROOT))
    from prometheus_api_client import PrometheusConnect

    from tars_lib.prometheus import MAX_POINTS_PER_REQUEST, PrometheusSource, split_range
    from tars_lib.prometheus import credentials_from_env as creds
    from tars_lib.source import RangeQuery
    from tests.servers import prometheus_from_openmetrics

    out: dict[str, float] = {"replicas": replicas}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path, series = _backfill(replicas, Path(tmp))
        out["series"] = series
        with prometheus_from_openmetrics(path, Path(tmp) / "prom") as url:
            out["backfill_s"] = time.perf_counter() - started
            source = PrometheusSource(url, credentials=creds({}), timeout=120, concurrency=4)
            client = PrometheusConnect(url=url, timeout=120)
            families = [
                "http_requests_total",
                "http_request_duration_seconds_bucket",
                "node_cpu_seconds_total",
                "node_memory_MemAvailable_bytes",
                "redis_keyspace_hits_total",
                "pg_stat_activity_count",
            ]
            for label, days in (("ga_day", 1), ("week", 7)):
                start, end = GA, GA + timedelta(days=days)
                queries = [
                    RangeQuery(f"{f}/raw", f'{f}{{job="api"}}', start, end, 60) for f in families
                ]
                requests = sum(len(split_range(q)) for q in queries)
                biggest = max(len(p.timestamps) for q in queries for p in split_range(q))
                t0 = time.perf_counter()
                got = source.fetch(queries)
                t_ours = time.perf_counter() - t0
                samples = int(sum(np.isfinite(s.values).sum() for s in got.values()))
                t0 = time.perf_counter()
                for f in families:
                    client.custom_query_range(f'{f}{{job="api"}}', start, end, "60")
                t_seq = time.perf_counter() - t0
                t0 = time.perf_counter()
                documented = 0
                for f in families:
                    data = client.get_metric_range_data(
                        f,
                        label_config={"job": "api"},
                        start_time=start,
                        end_time=end,
                        chunk_size=timedelta(days=1),
                    )
                    documented += sum(len(d["values"]) for d in data)
                t_doc = time.perf_counter() - t0
                out.update(
                    {
                        f"{label}_samples": samples,
                        f"{label}_requests": requests,
                        f"{label}_max_points_per_request": biggest,
                        f"{label}_ours_s": t_ours,
                        f"{label}_ours_samples_per_s": samples / t_ours,
                        f"{label}_sequential_s": t_seq,
                        f"{label}_documented_s": t_doc,
                        f"{label}_documented_samples": documented,
                        f"{label}_ratio_vs_documented": t_doc / t_ours,
                        f"{label}_ratio_vs_sequential": t_seq / t_ours,
                    }
                )
                assert biggest <= MAX_POINTS_PER_REQUEST
    return out


def end_to_end() -> dict[str, float]:
    """tars run-day 0..7 on the simulated week then tars report, split by phase."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        scenario = str(ROOT / "data" / "scenarios" / "ga_week.yaml")
        t0 = time.perf_counter()
        for day in range(8):
            subprocess.run(
                [TARS, "run-day", str(day), "--scenario", scenario, "--quiet"],
                cwd=ws,
                check=True,
                capture_output=True,
            )
        t_days = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(
            [TARS, "report", "--renderer", "fallback"], cwd=ws, check=True, capture_output=True
        )
        t_render = time.perf_counter() - t0
        notebook_total = compute = 0.0
        count = 0
        for path in sorted((ws / "runs").glob("day_*/*.ipynb")):
            book = json.loads(path.read_text())
            notebook_total += book["metadata"]["papermill"]["duration"]
            compute += sum(
                c["metadata"].get("papermill", {}).get("duration") or 0.0 for c in book["cells"]
            )
            count += 1
    return {
        "notebooks": count,
        "run_days_wall_s": t_days,
        "notebook_s": notebook_total,
        "compute_s": compute,
        "kernel_start_and_overhead_s": notebook_total - compute,
        "render_s": t_render,
        "total_s": t_days + t_render,
    }
