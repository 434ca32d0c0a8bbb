"""Speed benchmarks: the detector, collection from a real Prometheus, and `make demo` by phase.

Each comparison is measured side by side in the same run on the same data and
reported as a ratio beside the absolute figures. Nothing is asserted here:
`make bench` prints and records, docs/benchmarks.md explains.

The detector cases run one per subprocess (``python -m benchmarks.speed
detector-case N METHOD``) so that one case's memory cannot inflate the next
one's peak.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARS = str(Path(sys.executable).with_name("tars"))
GA = datetime(2025, 11, 18, tzinfo=UTC)

# --------------------------------------------------------------------------- 1. detector

POINTS = 10_080
"""7 days at 1 minute."""
WARMUP = 1_440
"""The first day (1,440 minutes) warms the EWMA state up, as the GA day does in the tool."""
ALPHA = 0.3
THRESHOLD = 3.0
PANDAS_SAMPLE = 200
"""Series the pandas loop is timed on; its time is scaled to the fleet (per-series cost)."""
DETECTOR_METHODS = ("ours", "pandas_loop", "lfilter", "floor")


def fleet(n_series: int, rows: int | None = None) -> np.ndarray:
    """Gaussian noise around 100 with a daily cycle and a 5-minute burst in every 50th series.

    ``rows`` draws only the first rows of the same fleet (the generator fills row by row).
    """
    rows = n_series if rows is None else min(rows, n_series)
    rng = np.random.default_rng(20251118)
    values = rng.normal(100.0, 5.0, size=(rows, POINTS))
    values += 10.0 * np.sin(2 * np.pi * np.arange(POINTS) / 1440.0)[None, :]
    values[::50, 6000:6005] += 80.0
    return values


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _pandas_zscores(row: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """The detector's arithmetic for one series with pandas ``ewm``: z, floor and event runs.

    Same definition as ``tars_lib.judge.anomaly.zscores`` (m_{t-1} and sqrt(v_{t-1}) before x_t,
    floor from the warm-up's robust residual spread), so the two can be compared exactly.
    """
    import pandas as pd

    ewm = pd.Series(row).ewm(alpha=ALPHA, adjust=False)
    mean = ewm.mean().to_numpy()
    var = ewm.var(bias=True).to_numpy()
    expected = np.empty_like(row)
    expected[0], expected[1:] = row[0], mean[:-1]
    residual = row - expected
    sd = np.empty_like(row)
    sd[0] = 0.0
    sd[1:] = np.sqrt(var[:-1])
    head = residual[1:WARMUP]
    mad = np.median(np.abs(head - np.median(head)))
    floor = max(1.5 * 1.4826 * mad, 0.001 * abs(float(np.mean(row[:WARMUP]))), 1e-12)
    z = residual / np.maximum(sd, floor)
    z[:WARMUP] = np.nan
    sign = np.zeros(len(row) + 2, dtype=np.int8)
    sign[1:-1] = (z > THRESHOLD).astype(np.int8) - (z < -THRESHOLD).astype(np.int8)
    change = np.flatnonzero(sign[1:] != sign[:-1]) + 1
    starts = change[sign[change] != 0]
    ends = change[np.searchsorted(change, starts, side="right")] - 1
    events = []
    for first, last in zip((starts - 1).tolist(), (ends - 1).tolist(), strict=True):
        peak = first + int(np.argmax(np.abs(z[first : last + 1])))
        events.append((first, last, peak))
    return z, events


def detector_case(n_series: int, method: str) -> dict[str, Any]:
    """One detector case, meant to run alone in its own process (see ``detector_speed``)."""
    from scipy.signal import lfilter

    from tars_lib.core.catalogue import load_catalogue
    from tars_lib.core.models import Window
    from tars_lib.judge.anomaly import SeriesMatrix, detect, zscores

    tracemalloc.start()
    rows = PANDAS_SAMPLE if method == "pandas_loop" else None
    values = fleet(n_series, rows)
    tracemalloc.reset_peak()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.stop()
    repeat = 3 if n_series <= 1_000 else 2
    out: dict[str, Any] = {"series": n_series, "method": method, "points": n_series * POINTS}
    run: Callable[[], object]

    if method == "ours":
        grid = np.arange(1, POINTS + 1, dtype=np.int64) * 60 + int(GA.timestamp())
        matrix = SeriesMatrix(
            grid,
            ("p99_latency_ms",) * n_series,
            tuple({"instance": f"api-{i:05d}"} for i in range(n_series)),
            values,
            WARMUP,
            60,
        )
        catalogue = load_catalogue()
        window = Window(start=GA + timedelta(days=1), end=GA + timedelta(days=7))
        now = datetime.now(UTC)

        def run() -> object:
            return detect(matrix, catalogue, window, THRESHOLD, ALPHA, now)

        out["seconds"] = _best(run, repeat)
        out["events"] = len(detect(matrix, catalogue, window, THRESHOLD, ALPHA, now).events)
    elif method == "pandas_loop":

        def run() -> object:
            return [_pandas_zscores(row) for row in values]

        sample_s = _best(run, 2)
        out["sample_series"] = len(values)
        out["sample_seconds"] = sample_s
        out["seconds"] = sample_s * n_series / len(values)
        out["extrapolated"] = True
        # the same numbers as ours on the sample (pandas is the tests' oracle too)
        z_ours, _ = zscores(values, ALPHA, WARMUP)
        z_pd = np.array([_pandas_zscores(row)[0] for row in values])
        ok = np.isfinite(z_ours)
        out["max_abs_z_difference_vs_ours"] = float(np.max(np.abs(z_ours[ok] - z_pd[ok])))
    elif method == "lfilter":
        a = np.array([1.0, ALPHA - 1.0])

        def run() -> object:
            mean = lfilter([ALPHA], a, values, axis=1)
            d2 = np.square(values[:, 1:] - mean[:, :-1])
            return lfilter([ALPHA * (1.0 - ALPHA)], a, d2, axis=1)

        out["seconds"] = _best(run, repeat)
    elif method == "floor":

        def run() -> object:
            return values.sum()

        out["seconds"] = _best(run, repeat + 2)
    else:
        raise ValueError(f"unknown detector method {method!r}")

    # the peak, measured on one more (untimed) run with tracemalloc on: data + working arrays
    tracemalloc.start()
    data_bytes = values.nbytes
    tracemalloc.reset_peak()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["data_mb"] = data_bytes / 1e6
    out["peak_mb"] = (data_bytes + peak) / 1e6
    out["peak_over_data"] = (data_bytes + peak) / data_bytes
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    out["rss_before_mb"] = rss_before / 1e6
    out["points_per_s"] = out["points"] / out["seconds"]
    return out


def detector_speed(n_series: int) -> dict[str, Any]:
    """All four methods on the same fleet, each in a fresh subprocess, and the ratios."""
    cases: dict[str, dict[str, Any]] = {}
    for method in DETECTOR_METHODS:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.speed", "detector-case", str(n_series), method],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"detector case {n_series} {method} failed:\n{proc.stderr[-3000:]}")
        cases[method] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = cases["ours"]["seconds"]
    return {
        "series": n_series,
        "points": n_series * POINTS,
        "cases": cases,
        "ours_points_per_s": n_series * POINTS / ours,
        "x_faster_than_pandas_loop": cases["pandas_loop"]["seconds"] / ours,
        "x_slower_than_lfilter": ours / cases["lfilter"]["seconds"],
        "x_slower_than_floor": ours / cases["floor"]["seconds"],
        "peak_over_data": cases["ours"]["peak_over_data"],
    }


# --------------------------------------------------------------------------- 2. collection

RAW_STEP = 60


class _Recorder:
    """Counts requests and the most points per series any one request asks for.

    A requests response hook: sees each request exactly as it went on the wire.
    """

    def __init__(self, scrape_interval: int) -> None:
        self.scrape_interval = scrape_interval
        self.lock = threading.Lock()
        self.requests = 0
        self.max_points = 0

    def reset(self) -> None:
        self.requests = self.max_points = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        url = urlsplit(response.request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if response.request.body:
            body = response.request.body
            text = body.decode() if isinstance(body, bytes) else str(body)
            query.update({k: v[0] for k, v in parse_qs(text).items()})
        points = 0
        if url.path.endswith("/query_range"):
            start, end, step = (float(query[k]) for k in ("start", "end", "step"))
            points = int((end - start) // step) + 1
        elif url.path.endswith("/query") and query.get("query", "").endswith("s]"):
            seconds = int(query["query"].rsplit("[", 1)[1][:-2])
            points = seconds // self.scrape_interval  # raw samples per series in the range
        with self.lock:
            self.requests += 1
            self.max_points = max(self.max_points, points)
        return response


class _Keeping:
    """A MetricSource wrapper that keeps what ``fetch`` returned, to count it afterwards."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last: dict[str, Any] = {}

    @property
    def info(self) -> Any:
        return self.inner.info

    def fetch(self, queries: Any, progress: Any = None) -> Any:
        self.last = self.inner.fetch(queries, progress)
        return self.last


def _timed(fn: Callable[[], Any]) -> tuple[float, Any, int]:
    """Best wall time of ``fn``, its result and the runs made: fast calls (under 1 s) are
    repeated up to 3 times."""
    best, result, runs = float("inf"), None, 0
    while runs < 3:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        runs += 1
        best = min(best, elapsed)
        if elapsed >= 1.0:
            break
    return best, result, runs


def _measure(recorder: _Recorder, fn: Callable[[], Any], count: Callable[[Any], int]) -> dict:
    recorder.reset()
    seconds, result, runs = _timed(fn)
    samples = count(result)
    return {
        "seconds": seconds,
        "samples": samples,
        "samples_per_s": samples / seconds,
        "requests": recorder.requests // runs,
        "max_points_per_request": recorder.max_points,
    }


def _count_points(result: list[dict[str, Any]]) -> int:
    return sum(len(item["values"]) for item in result)


def _raw_metric_names(queries: list[Any]) -> list[str]:
    """The metric names the KPI queries read: what a raw download has to fetch."""
    import re

    names: list[str] = []
    for q in queries:
        for name in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", q.promql):
            if name not in names:
                names.append(name)
    return names


@contextmanager
def _prometheus(replicas: int, workdir: Path, out: dict[str, Any]) -> Iterator[str]:
    """The simulated GA day + 7 days for ``replicas`` instances, backfilled into Prometheus."""
    sys.path.insert(0, str(ROOT))
    from tars_lib.sources.scenario import (
        DEFAULT_SCENARIO,
        load_scenario,
        simulate,
        write_exposition,
    )
    from testsupport.servers import prometheus_from_openmetrics

    scenario = load_scenario(DEFAULT_SCENARIO).model_copy(
        update={"replicas": replicas, "days_before_ga": 0, "days_after_ga": 8}
    )
    t0 = time.perf_counter()
    raw = simulate(scenario)
    out["simulate_s"] = time.perf_counter() - t0
    out["series"] = sum(len(v) for v in (*raw.counters.values(), *raw.gauges.values()))
    out["stored_samples"] = out["series"] * len(raw.timestamps)
    path = workdir / f"fleet_{replicas}.om"
    t0 = time.perf_counter()
    with path.open("w", encoding="utf-8") as handle:
        write_exposition(raw, handle)
    out["write_openmetrics_s"] = time.perf_counter() - t0
    del raw
    t0 = time.perf_counter()
    with prometheus_from_openmetrics(path, workdir / "prom") as url:
        out["backfill_and_start_s"] = time.perf_counter() - t0
        path.unlink()
        yield url


def collection_speed(replicas: int) -> dict[str, Any]:
    """GA-day and 7-day collection from a backfilled Prometheus: ours against the client's
    documented ``get_metric_range_data`` (1-day chunks) and one sequential
    ``custom_query_range`` per query."""
    from prometheus_api_client import PrometheusConnect

    from tars_lib.sources.prometheus import PrometheusSource, credentials_from_env

    out: dict[str, Any] = {"replicas": replicas, "spans": {}}
    with tempfile.TemporaryDirectory() as tmp, _prometheus(replicas, Path(tmp), out) as url:
        recorder = _Recorder(scrape_interval=60)
        source = PrometheusSource(url, credentials=credentials_from_env({}), timeout=300)
        source._client._session.hooks["response"].append(recorder)
        keeping = _Keeping(source)
        client = PrometheusConnect(url=url, timeout=300)
        client._session.hooks["response"].append(recorder)
        # warm the server's page cache: one pass over every stored sample, untimed
        client.custom_query(f'count(count_over_time({{job="api"}}[{9 * 86400}s]))')

        for span, start, end in (
            ("ga_day", GA, GA + timedelta(days=1)),
            ("week", GA + timedelta(days=1), GA + timedelta(days=8)),
        ):
            out["spans"][span] = _collection_span(recorder, keeping, client, start, end)
        out["parse_breakdown"] = _parse_breakdown(source, url, GA + timedelta(days=1))
    return out


def _collection_span(
    recorder: _Recorder, keeping: _Keeping, client: Any, start: datetime, end: datetime
) -> dict[str, Any]:
    from tars_lib.collect.collector import collect_window, window_queries
    from tars_lib.core.catalogue import load_catalogue
    from tars_lib.sources.base import RangeQuery

    catalogue = load_catalogue()
    queries = window_queries(catalogue, start, end)
    names = _raw_metric_names(queries)
    first = start + timedelta(seconds=RAW_STEP)  # (start, end], as a range vector selects
    raw_queries = [RangeQuery(f"raw/{n}", f'{n}{{job="api"}}', first, end, RAW_STEP) for n in names]

    def returned(_: Any) -> int:
        return int(sum(np.isfinite(s.values).sum() for s in keeping.last.values()))

    def listed(results: list[list[dict[str, Any]]]) -> int:
        return sum(_count_points(r) for r in results)

    def sequential(qs: list[Any]) -> list[Any]:
        return [client.custom_query_range(q.promql, q.start, q.end, str(q.step)) for q in qs]

    def documented() -> list[Any]:
        return [
            client.get_metric_range_data(
                n,
                label_config={"job": "api"},
                start_time=start,
                end_time=end,
                chunk_size=timedelta(days=1),
            )
            for n in names
        ]

    return {
        "kpi_queries": len(queries),
        "raw_metric_names": len(names),
        # the KPI path: the catalogue's 20 queries at a 5-minute step (what phases 1-3 run)
        "kpi_ours": _measure(
            recorder, lambda: collect_window(keeping, catalogue, start, end), returned
        ),
        "kpi_sequential": _measure(recorder, lambda: sequential(queries), listed),
        # the raw path: every sample of the series those queries read, parsed
        "raw_ours": _measure(recorder, lambda: keeping.fetch(raw_queries), returned),
        "raw_documented": _measure(recorder, documented, listed),
        "raw_sequential": _measure(recorder, lambda: sequential(raw_queries), listed),
    }


def _parse_breakdown(source: Any, url: str, start: datetime) -> dict[str, Any]:
    """Where the time of one big raw request goes: server + transfer, JSON decode, our parse."""
    import requests

    from tars_lib.sources.base import RangeQuery

    end = start + timedelta(days=7)
    query = RangeQuery(
        "raw/buckets",
        'http_request_duration_seconds_bucket{job="api"}',
        start + timedelta(seconds=RAW_STEP),
        end,
        RAW_STEP,
    )
    params = {
        "query": query.promql,
        "start": str(query.start.timestamp()),
        "end": str(query.end.timestamp()),
        "step": str(RAW_STEP),
    }
    t_http, body, _ = _timed(
        lambda: requests.get(f"{url}/api/v1/query_range", params=params, timeout=300).content
    )
    t_json, decoded, _ = _timed(lambda: json.loads(body))
    result = decoded["data"]["result"]
    t_ours, _, _ = _timed(lambda: source._assemble(query, [result]))
    samples = _count_points(result)
    return {
        "query": query.promql,
        "series": len(result),
        "samples": samples,
        "body_mb": len(body) / 1e6,
        "server_and_transfer_s": t_http,
        "json_decode_s": t_json,
        "numpy_assembly_s": t_ours,
        "server_samples_per_s": samples / t_http,
        "json_samples_per_s": samples / t_json,
        "assembly_samples_per_s": samples / t_ours,
    }


# --------------------------------------------------------------------------- 3. end to end


def end_to_end() -> dict[str, Any]:
    """`make demo`'s steps in a temporary workspace, split into kernel start, compute, render.

    Per notebook (from papermill's metadata): compute = the sum of its cells' durations,
    kernel start (and shutdown) = the notebook's duration minus that. Render = `tars report`.
    """
    scenario = str(ROOT / "data" / "scenarios" / "ga_week.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "demo"
        days = []
        t_all = time.perf_counter()
        for day in range(8):
            t0 = time.perf_counter()
            subprocess.run(
                [TARS, "run-day", str(day), "--workspace", str(ws), "--scenario", scenario],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            days.append({"day": day, "wall_s": time.perf_counter() - t0})
        run_days_s = time.perf_counter() - t_all
        t0 = time.perf_counter()
        subprocess.run(
            [TARS, "report", "--workspace", str(ws), "--output-dir", str(Path(tmp) / "_site")],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        render_s = time.perf_counter() - t0
        notebooks = []
        cells = []
        for path in sorted((ws / "runs").glob("day_*/*.ipynb")):
            book = json.loads(path.read_text(encoding="utf-8"))
            duration = float(book["metadata"]["papermill"]["duration"])
            cell_s = 0.0
            for index, cell in enumerate(book["cells"]):
                spent = cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
                cell_s += spent
                if cell.get("cell_type") == "code":
                    source = "".join(cell.get("source", ""))
                    lines = [x.strip() for x in source.splitlines() if x.strip()]
                    code = [x for x in lines if not x.startswith(("import ", "from ", "#"))]
                    line = (code or lines or [""])[0]
                    cells.append(
                        {
                            "notebook": f"{path.parent.name}/{path.stem}",
                            "cell": index,
                            "seconds": spent,
                            "first_line": line[:70],
                        }
                    )
            meta = book["metadata"]["papermill"]
            notebooks.append(
                {
                    "notebook": f"{path.parent.name}/{path.stem}",
                    "day": int(path.parent.name.removeprefix("day_")),
                    "name": path.stem,
                    "start": datetime.fromisoformat(meta["start_time"]).timestamp(),
                    "end": datetime.fromisoformat(meta["end_time"]).timestamp(),
                    "duration_s": duration,
                    "compute_s": cell_s,
                    "kernel_s": duration - cell_s,
                }
            )
    for d in days:
        mine = [nb for nb in notebooks if nb["day"] == d["day"]]
        d["notebooks_first_start"] = min(nb["start"] for nb in mine)
        d["notebooks_last_end"] = max(nb["end"] for nb in mine)
        d["notebooks"] = len(mine)
    by_name: dict[str, dict[str, float]] = {}
    for nb in notebooks:
        agg = by_name.setdefault(nb["name"], {"count": 0, "kernel_s": 0.0, "compute_s": 0.0})
        agg["count"] += 1
        agg["kernel_s"] += nb["kernel_s"]
        agg["compute_s"] += nb["compute_s"]
    kernel = sum(nb["kernel_s"] for nb in notebooks)
    compute = sum(nb["compute_s"] for nb in notebooks)
    return {
        "notebooks": len(notebooks),
        "kernel_start_s": kernel,
        "compute_s": compute,
        "notebook_s": kernel + compute,
        "kernel_start_median_s": statistics.median(nb["kernel_s"] for nb in notebooks),
        "render_s": render_s,
        "run_days_wall_s": run_days_s,
        # outside any notebook: `tars run-day` start-up, imports, checks, writing results
        "outside_notebooks_wall_s": sum(
            d["wall_s"] - (d["notebooks_last_end"] - d["notebooks_first_start"]) for d in days
        ),
        "total_wall_s": run_days_s + render_s,
        "days": days,
        "by_notebook": by_name,
        "notebook_runs": notebooks,
        "slowest_cells": sorted(cells, key=lambda c: -c["seconds"])[:8],
    }


def prometheus_version() -> str | None:
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    text = (proc.stdout or proc.stderr).splitlines()
    return text[0] if text else None


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "detector-case":
        print(json.dumps(detector_case(int(sys.argv[2]), sys.argv[3])))
    else:
        sys.exit("usage: python -m benchmarks.speed detector-case N_SERIES METHOD")
