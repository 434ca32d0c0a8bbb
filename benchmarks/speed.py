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

import numba
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARS = str(Path(sys.executable).with_name("tars"))
GA = datetime(2025, 11, 18, tzinfo=UTC)

# --------------------------------------------------------------------------- 1. detector

POINTS = 10_080
"""7 days at 1 minute."""
WARMUP = 1_440
"""The first day (1,440 minutes) warms the detector up, as the GA day does in the tool."""
STEP = 60
ALPHA = 0.3
THRESHOLD = 3.0
PANDAS_SAMPLE = 200
"""Series the pandas loop is timed on; its time is scaled to the fleet (per-series cost)."""
DETECTOR_METHODS = (
    "ours",
    "ours_events",
    "pandas_loop",
    "lfilter",
    "floor",
)
"""``ours``: ``detect_matrix`` as the library has it (z, state machine, event arrays);
``ours_events``: ``anomaly.detect``, up to the ``AnomalyEvents`` objects."""
SPIKE_EVERY = (100, 20)
"""The pathological fleets: a spike in every series every N points (1 minute apart)."""
JSON_SAMPLE = 100
"""Series of a pathological fleet turned into ``AnomalyEvents`` JSON; the size is scaled."""


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


def pathological_fleet(n_series: int, every: int, rows: int | None = None) -> np.ndarray:
    """``fleet`` with a one-point spike of +80 (16 sigma) in every series every ``every`` points."""
    values = fleet(n_series, rows)
    values[:, every - 1 :: every] += 80.0
    return values


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _rss_now() -> int:
    """The resident set size now, in bytes (``ru_maxrss`` is the peak so far)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def _pandas_zscores(row: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """A per-series pandas ``ewm`` detector: z against the previous mean and spread, the
    warm-up's floor, and runs of |z| > 3 as events (the pre-rewrite detector's arithmetic)."""
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


def _matrix(values: np.ndarray) -> Any:
    from tars_lib.judge.anomaly import SeriesMatrix

    n_series = len(values)
    grid = np.arange(1, POINTS + 1, dtype=np.int64) * STEP + int(GA.timestamp())
    return SeriesMatrix(
        grid,
        ("p99_latency_ms",) * n_series,
        tuple({"instance": f"api-{i:05d}"} for i in range(n_series)),
        values,
        WARMUP,
        STEP,
    )


def _anomaly_events(values: np.ndarray) -> Any:
    """``anomaly.detect`` over the whole week after the GA day: the ``AnomalyEvents`` file."""
    from tars_lib.core.catalogue import load_catalogue
    from tars_lib.core.models import AnomalyParameters, Window
    from tars_lib.judge.anomaly import detect

    window = Window(start=GA + timedelta(days=1), end=GA + timedelta(days=7))
    return detect(_matrix(values), load_catalogue(), window, AnomalyParameters(), datetime.now(UTC))


def detector_case(n_series: int, method: str) -> dict[str, Any]:
    """One detector case, meant to run alone in its own process (see ``detector_speed``).

    ``method`` is one of ``DETECTOR_METHODS`` or ``pathological-N`` (a spike every N points).
    Numba's compile (or cache load) is done by an untimed warm-up call on two series first.
    """
    from scipy.signal import lfilter

    from tars_lib.core.models import AnomalyParameters
    from tars_lib.judge.anomaly import detector_config
    from tars_lib.judge.detector import detect_matrix

    config = detector_config(AnomalyParameters(), STEP, WARMUP)
    rows = PANDAS_SAMPLE if method == "pandas_loop" else None
    every = int(method.split("-", 1)[1]) if method.startswith("pathological-") else None
    # compile (or load numba's cache) on two series first, untimed and before the baseline
    if method.startswith(("ours", "pathological")):
        detect_matrix(fleet(2), config)
    rss_start = _rss_now()
    values = fleet(n_series, rows) if every is None else pathological_fleet(n_series, every)
    repeat = 3 if n_series <= 1_000 else 2
    out: dict[str, Any] = {
        "series": n_series,
        "method": method,
        "points": n_series * POINTS,
        "numba_threads": numba.get_num_threads(),
        "parameters": AnomalyParameters().model_dump(),
    }
    run: Callable[[], object]

    if method == "ours" or every is not None:

        def run() -> object:
            return detect_matrix(values, config)

        out["seconds"] = _best(run, repeat)
        raw, _ = detect_matrix(values, config)
        out["events"] = len(raw.row)
        out["suppressed"] = int(raw.suppressed.sum())
        out["events_arrays_mb"] = (
            sum(getattr(raw, f).nbytes for f in ("row", "first", "last", "peak", "peak_z")) / 1e6
            + sum(getattr(raw, f).nbytes for f in ("baseline", "new_level", "kind")) / 1e6
        )
        if every is not None:
            out["spike_every"] = every
            out["spikes_per_series_after_warmup"] = len(range(every - 1, POINTS, every)) - len(
                range(every - 1, WARMUP, every)
            )
            out["cap_per_series_and_day"] = config.max_per_day
            sample = values[:JSON_SAMPLE]
            t0 = time.perf_counter()
            events = _anomaly_events(sample)
            out["json_sample_seconds"] = time.perf_counter() - t0
            body = events.model_dump_json()
            out["json_sample_series"] = len(sample)
            out["json_sample_events"] = len(events.events)
            out["json_sample_incidents"] = len(events.incidents)
            out["json_sample_bytes"] = len(body)
            out["json_estimated_mb"] = len(body) * n_series / len(sample) / 1e6
    elif method == "ours_events":

        def run() -> object:
            return _anomaly_events(values)

        out["seconds"] = _best(run, repeat)
        out["events"] = len(_anomaly_events(values).events)
    elif method == "pandas_loop":

        def run() -> object:
            return [_pandas_zscores(row) for row in values]

        sample_s = _best(run, 2)
        out["sample_series"] = len(values)
        out["sample_seconds"] = sample_s
        out["seconds"] = sample_s * n_series / len(values)
        out["extrapolated"] = True
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

    # the peak, measured on one more (untimed) run: tracemalloc sees every numpy array
    # (data + working arrays + event arrays), not numba's own scratch; RSS beside it: the
    # process's peak over its size before the data was drawn (after the warm-up)
    data_bytes = values.nbytes
    tracemalloc.start()
    tracemalloc.reset_peak()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out["data_mb"] = data_bytes / 1e6
    out["peak_mb"] = (data_bytes + peak) / 1e6
    out["peak_over_data"] = (data_bytes + peak) / data_bytes
    out["rss_start_mb"] = rss_start / 1e6
    out["max_rss_mb"] = max_rss / 1e6
    out["rss_peak_over_data"] = (max_rss - rss_start) / data_bytes
    out["points_per_s"] = out["points"] / out["seconds"]
    return out


def _case(n_series: int, method: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed", "detector-case", str(n_series), method],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"detector case {n_series} {method} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def detector_speed(n_series: int) -> dict[str, Any]:
    """Every method on the same fleet, each in a fresh subprocess, and the ratios."""
    cases = {method: _case(n_series, method) for method in DETECTOR_METHODS}
    ours = cases["ours"]["seconds"]
    return {
        "series": n_series,
        "points": n_series * POINTS,
        "cases": cases,
        "ours_points_per_s": n_series * POINTS / ours,
        "ratio_vs_pandas": cases["pandas_loop"]["seconds"] / ours,
        "peak_over_data": cases["ours"]["peak_over_data"],
        "x_slower_than_lfilter": ours / cases["lfilter"]["seconds"],
        "x_slower_than_floor": ours / cases["floor"]["seconds"],
        "events_points_per_s": n_series * POINTS / cases["ours_events"]["seconds"],
    }


def pathological(n_series: int) -> list[dict[str, Any]]:
    """The pathological fleets: events kept and suppressed, peak memory, JSON size."""
    return [_case(n_series, f"pathological-{every}") for every in SPIKE_EVERY]


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
        from tars_lib.sources.base import apply_selector

        return [
            client.custom_query_range(apply_selector(q.promql, None), q.start, q.end, str(q.step))
            for q in qs
        ]

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
    from tars_lib.sources.prometheus import parse_matrix

    t_json, decoded, _ = _timed(lambda: json.loads(body))
    result = decoded["data"]["result"]
    del decoded
    t_parse, answer, _ = _timed(lambda: parse_matrix(body))
    t_ours, _, _ = _timed(lambda: source._assemble(query, [answer]))
    samples = _count_points(result)
    return {
        "query": query.promql,
        "series": len(result),
        "samples": samples,
        "body_mb": len(body) / 1e6,
        "server_and_transfer_s": t_http,
        "json_decode_s": t_json,
        "orjson_numpy_parse_s": t_parse,
        "numpy_assembly_s": t_ours,
        "server_samples_per_s": samples / t_http,
        "json_samples_per_s": samples / t_json,
        "orjson_numpy_samples_per_s": samples / t_parse,
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
