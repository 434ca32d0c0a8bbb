"""`make bench`: four benchmark tables, printed and written to benchmarks/results.json.

1. detector speed (and the pathological fleets), 2. collection speed, 3. `make demo` by
phase, 4. NAB detection quality (with the ``variance_alpha`` grid and the split-half check).
Nothing is asserted: the figures, the ratios and the targets they meet or miss are
recorded; docs/benchmarks.md explains them.

``python -m benchmarks.run --only nab,detector`` (or ``TARS_BENCH_ONLY=nab,detector``) runs
some parts only; the others keep their figures from the previous results.json, and
``measured`` says when each part was last run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.speed import (
    PANDAS_SAMPLE,
    collection_speed,
    detector_speed,
    end_to_end,
    pathological,
    prometheus_version,
)

ROOT = Path(__file__).resolve().parent.parent
NAB_DIR = ROOT.parent / "shared" / "benchmarks" / "nab"
NAB_RESULTS = ROOT / "benchmarks" / "nab_results"
RESULTS = ROOT / "benchmarks" / "results.json"
DETECTOR_SERIES = (1_000, 10_000)
COLLECTION_REPLICAS = (3, 30)
"""34 series per replica: 102 and 1,020 series."""

TARGETS = {
    "detector_points_per_s": 100e6,
    "detector_x_pandas_loop": 3.0,
    "detector_peak_over_data": 1.5,
    "collection_samples_per_s": 5e6,
    "collection_x_documented": 3.0,
    "collection_max_points_per_request": 11_000,
    "nab_default_standard": 45.0,
    "nab_default_reward_low_FP_rate": 35.0,
    "nab_default_reward_low_FN_rate": 52.0,
    "nab_record_standard": 58.0,
}
"""Issue 11's targets (detector, NAB) and the earlier collection targets. The detector's
are for 10,000 series x 10,080 points; the NAB ones for the library's default settings."""
PARTS = ("detector", "collection", "end_to_end", "nab")
ONLY_ENV = "TARS_BENCH_ONLY"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
    os_name = platform.platform()
    release = Path("/etc/os-release")
    if release.is_file():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gib": memory_gib,
        "os": os_name,
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "scipy": version("scipy"),
        "pandas": version("pandas"),
        "prometheus-api-client": version("prometheus-api-client"),
        "prometheus": prometheus_version(),
    }


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}", flush=True)
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), flush=True)


def _m(value: float) -> str:
    return f"{value / 1e6:.2f} M"


def _x(value: float) -> str:
    return f"{value:.2f}x"


def run_detector() -> tuple[dict[str, Any], dict[str, Any]]:
    detector = [detector_speed(n) for n in DETECTOR_SERIES]
    rows = []
    for d in detector:
        c = d["cases"]
        rows.append(
            [
                f"{d['series']:,}",
                _m(d["points"]),
                f"{c['ours']['seconds']:.3f}",
                _m(d["ours_points_per_s"]) + "/s",
                _x(d["ratio_vs_pandas"]),
                _x(d["peak_over_data"]),
                _x(c["ours"]["rss_peak_over_data"]),
                f"{c['ours_events']['seconds']:.3f}",
                f"{c['pandas_loop']['seconds']:.3f}",
                f"{c['lfilter']['seconds']:.3f}",
                f"{c['floor']['seconds']:.4f}",
                str(c["ours"]["events"]),
            ]
        )
    table(
        "1. Detector speed: detect_matrix (z, held baseline, events as arrays), N series x "
        f"10,080 points, numba warmed up first; pandas loop timed on {PANDAS_SAMPLE} series "
        "and scaled to N",
        [
            "series",
            "points",
            "ours s",
            "ours rate",
            "pandas/ours",
            "peak/data",
            "RSS peak/data",
            "anomaly.detect s",
            "pandas s",
            "lfilter s",
            "floor s",
            "events",
        ],
        rows,
    )
    patho = pathological(DETECTOR_SERIES[-1])
    table(
        f"   pathological fleets: {DETECTOR_SERIES[-1]:,} series, a +16 sigma spike every N "
        f"points (cap {patho[0]['cap_per_series_and_day']} events per series and day); JSON "
        f"size from anomaly.detect on {patho[0]['json_sample_series']} series, scaled",
        [
            "every N",
            "detect_matrix s",
            "events kept",
            "suppressed",
            "event arrays MB",
            "peak/data",
            "RSS peak/data",
            "JSON MB (est.)",
            "sample detect s",
        ],
        [
            [
                str(p["spike_every"]),
                f"{p['seconds']:.3f}",
                f"{p['events']:,}",
                f"{p['suppressed']:,}",
                f"{p['events_arrays_mb']:.1f}",
                _x(p["peak_over_data"]),
                _x(p["rss_peak_over_data"]),
                f"{p['json_estimated_mb']:.1f}",
                f"{p['json_sample_seconds']:.2f}",
            ]
            for p in patho
        ],
    )
    big = detector[-1]  # the targets are for 10,000 series x 10,080 points
    measured = {
        "series": big["series"],
        "points_per_s": big["ours_points_per_s"],
        "ratio_vs_pandas": big["ratio_vs_pandas"],
        "peak_over_data": big["peak_over_data"],
        "rss_peak_over_data": big["cases"]["ours"]["rss_peak_over_data"],
    }
    met = {
        "detector_points_per_s": measured["points_per_s"] >= TARGETS["detector_points_per_s"],
        "detector_x_pandas_loop": measured["ratio_vs_pandas"] >= TARGETS["detector_x_pandas_loop"],
        "detector_peak_over_data": measured["peak_over_data"] <= TARGETS["detector_peak_over_data"],
    }
    return {"detector": detector, "pathological": patho}, {"measured": measured, "met": met}


METHODS = (
    ("kpi_ours", "KPIs", "ours: collect_window"),
    ("kpi_sequential", "KPIs", "sequential custom_query_range"),
    ("raw_ours", "raw", "ours: PrometheusSource.fetch"),
    ("raw_documented", "raw", "documented get_metric_range_data"),
    ("raw_sequential", "raw", "sequential custom_query_range"),
)


def run_collection() -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        print(
            "\n2. Collection speed: SKIPPED (promtool/prometheus not on PATH; "
            "apt-get install prometheus)"
        )
        return None
    collection = [collection_speed(r) for r in COLLECTION_REPLICAS]
    rows = []
    for c in collection:
        for span, label in (("ga_day", "GA day"), ("week", "7 days")):
            s = c["spans"][span]
            for key, path, name in METHODS:
                m = s[key]
                base = s["kpi_ours"] if path == "KPIs" else s["raw_ours"]
                rows.append(
                    [
                        f"{c['series']:,}",
                        label,
                        path,
                        name,
                        f"{m['seconds']:.3f}",
                        f"{m['samples']:,}",
                        _m(m["samples_per_s"]) + "/s",
                        str(m["requests"]),
                        f"{m['max_points_per_request']:,}",
                        _x(m["seconds"] / base["seconds"]),
                    ]
                )
    table(
        "2. Collection speed from a backfilled Prometheus (KPIs: the catalogue's 20 queries at "
        "5 min; raw: every 1-minute sample of the 12 metrics they read)",
        [
            "series",
            "span",
            "path",
            "method",
            "wall s",
            "samples",
            "parsed rate",
            "requests",
            "max points/req",
            "time/ours",
        ],
        rows,
    )
    print(
        "   documented way to the same KPIs (it cannot run PromQL: raw download, "
        "aggregation not counted) vs ours:"
    )
    for c in collection:
        for span in ("ga_day", "week"):
            doc, ours = (c["spans"][span][k]["seconds"] for k in ("raw_documented", "kpi_ours"))
            print(
                f"   {c['series']:,} series {span}: {_x(doc / ours)} ({doc:.2f} s vs {ours:.2f} s)"
            )
    for c in collection:
        p = c["parse_breakdown"]
        print(
            f"   {c['series']:,} series, one raw request ({p['series']} series, "
            f"{p['samples']:,} samples, {p['body_mb']:.1f} MB JSON): server+transfer "
            f"{_m(p['server_samples_per_s'])}/s, stdlib json decode "
            f"{_m(p['json_samples_per_s'])}/s, our orjson-to-numpy parse "
            f"{_m(p.get('orjson_numpy_samples_per_s', 0.0))}/s, "
            f"our numpy assembly {_m(p['assembly_samples_per_s'])}/s"
        )
    for c in collection:
        print(
            f"   {c['series']:,} series: simulate {c['simulate_s']:.1f} s, write OpenMetrics "
            f"{c['write_openmetrics_s']:.1f} s, promtool backfill + start "
            f"{c['backfill_and_start_s']:.1f} s ({c['stored_samples']:,} samples)"
        )
    spans = [s for c in collection for s in c["spans"].values()]
    worst = {
        "samples_per_s": max(s["raw_ours"]["samples_per_s"] for s in spans),
        "x_documented_raw": min(
            s["raw_documented"]["seconds"] / s["raw_ours"]["seconds"] for s in spans
        ),
        "x_documented_kpis": min(
            s["raw_documented"]["seconds"] / s["kpi_ours"]["seconds"] for s in spans
        ),
        "max_points_per_request": max(
            max(s["kpi_ours"]["max_points_per_request"], s["raw_ours"]["max_points_per_request"])
            for s in spans
        ),
    }
    targets = {
        "collection_samples_per_s": worst["samples_per_s"] >= TARGETS["collection_samples_per_s"],
        "collection_x_documented_raw": worst["x_documented_raw"]
        >= TARGETS["collection_x_documented"],
        "collection_x_documented_kpis": worst["x_documented_kpis"]
        >= TARGETS["collection_x_documented"],
        "collection_max_points_per_request": worst["max_points_per_request"]
        <= TARGETS["collection_max_points_per_request"],
    }
    return collection, {"worst": worst, "met": targets}


def run_end_to_end() -> dict[str, Any]:
    e2e = end_to_end()
    table(
        "3. End to end: `make demo` (tars run-day 0..7 on ga_week.yaml, then tars report), "
        "by phase",
        [
            "notebooks",
            "kernel start s",
            "compute s",
            "render s",
            "outside notebooks s",
            "run-day wall s",
            "total wall s",
        ],
        [
            [
                str(e2e["notebooks"]),
                f"{e2e['kernel_start_s']:.1f}",
                f"{e2e['compute_s']:.1f}",
                f"{e2e['render_s']:.1f}",
                f"{e2e['outside_notebooks_wall_s']:.1f}",
                f"{e2e['run_days_wall_s']:.1f}",
                f"{e2e['total_wall_s']:.1f}",
            ]
        ],
    )
    table(
        "   by notebook (summed over days; stability and anomalies run side by side)",
        ["notebook", "runs", "kernel start s", "compute s"],
        [
            [name, str(v["count"]), f"{v['kernel_s']:.1f}", f"{v['compute_s']:.1f}"]
            for name, v in e2e["by_notebook"].items()
        ],
    )
    table(
        "   slowest cells",
        ["notebook", "cell", "s", "first line"],
        [
            [c["notebook"], str(c["cell"]), f"{c['seconds']:.2f}", c["first_line"]]
            for c in e2e["slowest_cells"]
        ],
    )
    return e2e


def _scores(entry: Any, profiles: Sequence[str]) -> list[str]:
    out = []
    for p in profiles:
        value = entry.get(p) if isinstance(entry, dict) else None
        out.append(f"{value:.1f}" if isinstance(value, int | float) else "-")
    return out


def nab_verdict(nab: dict[str, Any]) -> dict[str, bool]:
    """The NAB targets: the ``default`` variant's three profiles, ``record``'s standard."""
    variants = nab.get("variants", {})
    met: dict[str, bool] = {}
    for variant in ("default", "record"):
        for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
            key = f"nab_{variant}_{profile}"
            value = variants.get(variant, {}).get(profile)
            if key in TARGETS and isinstance(value, int | float):
                met[key] = value >= TARGETS[key]
    return met


def run_nab_table() -> dict[str, Any] | None:
    title = "4. Detection quality on NAB"
    if not (NAB_DIR / "labels" / "combined_windows.json").is_file():
        print(f"\n{title}: SKIPPED ({NAB_DIR} is absent)")
        return None
    try:
        from benchmarks.nab import format_table, run_nab
    except Exception as exc:  # absent, or half-written (ImportError, SyntaxError, ...)
        print(f"\n{title}: SKIPPED (benchmarks.nab.run_nab not importable: {exc})")
        return None
    try:
        nab = run_nab(NAB_DIR, NAB_RESULTS)
    except Exception:  # the other tables must still be written
        print(f"\n{title}: FAILED\n{traceback.format_exc(limit=3)}")
        return {"error": traceback.format_exc(limit=3)}
    print(f"\n{title} (normalised scores; result CSVs in benchmarks/nab_results/)")
    print(format_table(nab), flush=True)
    return nab


def parse_parts(argv: Sequence[str] | None) -> tuple[str, ...]:
    """``--only detector,nab`` (or ``$TARS_BENCH_ONLY``): the parts to run; all by default."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--only",
        default=os.environ.get(ONLY_ENV, ""),
        help=f"comma-separated parts among {', '.join(PARTS)} (default: all; env {ONLY_ENV})",
    )
    args = parser.parse_args(argv)
    chosen = tuple(p.strip() for p in args.only.split(",") if p.strip()) or PARTS
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; expected some of {PARTS}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen parts; the parts not run keep their figures from the previous
    ``results.json`` (each part records when it was measured, under ``measured``)."""
    parts = parse_parts(argv)
    started = time.perf_counter()
    previous: dict[str, Any] = {}
    if RESULTS.is_file():
        previous = json.loads(RESULTS.read_text(encoding="utf-8"))
    results: dict[str, Any] = dict(previous)
    results["machine"] = machine()
    results["targets"] = TARGETS
    results["parts_run"] = list(parts)
    measured: dict[str, Any] = dict(previous.get("measured", {}))
    if previous and not measured:  # a results.json from before `measured`: one run, one date
        date = previous.get("machine", {}).get("date")
        measured = {part: date for part in PARTS if part in previous}
    met: dict[str, bool] = dict(previous.get("met", {}))
    when = results["machine"]["date"]
    print("machine:", json.dumps(results["machine"]), flush=True)

    def forget(prefix: str, *keys: str) -> None:
        for name in [k for k in met if k.startswith(prefix)]:
            del met[name]
        for key in keys:
            results.pop(key, None)

    if "detector" in parts:
        t0 = time.perf_counter()
        forget("detector_", "detector_worst")
        speed, verdict = run_detector()
        results["detector"] = speed["detector"]
        results["pathological_fleet"] = speed["pathological"]
        results["detector_measured"] = verdict["measured"]
        met.update(verdict["met"])
        results["detector_seconds"] = time.perf_counter() - t0
        measured["detector"] = when

    if "collection" in parts:
        t0 = time.perf_counter()
        collected = run_collection()
        if collected is not None:
            forget("collection_")
            results["collection"], verdict = collected
            met.update(verdict["met"])
            results["collection_worst"] = verdict["worst"]
            measured["collection"] = when
        results["collection_seconds"] = time.perf_counter() - t0

    if "end_to_end" in parts:
        t0 = time.perf_counter()
        results["end_to_end"] = run_end_to_end()
        results["end_to_end_seconds"] = time.perf_counter() - t0
        measured["end_to_end"] = when

    if "nab" in parts:
        t0 = time.perf_counter()
        nab = run_nab_table()
        if nab is not None:
            forget("nab_")
            results["nab"] = nab
            met.update(nab_verdict(nab))
            measured["nab"] = when
        results["nab_seconds"] = time.perf_counter() - t0

    results["measured"] = measured
    results["met"] = met
    print("\ntargets (parts not run keep their earlier verdicts; see `measured`):")
    for name, ok in met.items():
        print(f"   {name}: {'met' if ok else 'MISSED'}")
    results["seconds"] = time.perf_counter() - started
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
