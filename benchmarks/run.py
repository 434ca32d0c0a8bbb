"""`make bench`: all four benchmark tables, printed and written to benchmarks/results.json."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.speed import collection_speed, detector_speed, end_to_end

ROOT = Path(__file__).resolve().parent.parent
NAB_DIR = ROOT.parent / "shared" / "benchmarks" / "nab"


def machine() -> dict[str, object]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    started = time.perf_counter()
    results: dict[str, object] = {"machine": machine()}
    print("machine:", results["machine"])

    detector = [detector_speed(n) for n in (1_000, 10_000)]
    results["detector"] = detector
    table(
        "1. Detector speed (EWMA z-score, events included; 10,080 points per series)",
        [
            "series",
            "Mpoints/s",
            "x pandas loop",
            "x slower than lfilter",
            "x slower than floor",
            "peak/data",
        ],
        [
            [
                f"{d['series']:,}",
                f"{d['ours_points_per_s'] / 1e6:.1f}",
                f"{d['ratio_vs_pandas']:.1f}",
                f"{d['ratio_to_lfilter']:.1f}",
                f"{d['ratio_to_floor']:.1f}",
                f"{d['peak_over_data']:.2f}",
            ]
            for d in detector
        ],
    )

    collection = [collection_speed(r) for r in (3, 30)]
    results["collection"] = collection
    rows = []
    for c in collection:
        for span in ("ga_day", "week"):
            rows.append(
                [
                    f"{c['series']:,}",
                    span,
                    f"{c[f'{span}_samples']:,}",
                    f"{c[f'{span}_ours_samples_per_s'] / 1e6:.2f}",
                    f"{c[f'{span}_ours_s']:.2f}",
                    f"{c[f'{span}_documented_s']:.2f}",
                    f"{c[f'{span}_sequential_s']:.2f}",
                    f"{c[f'{span}_ratio_vs_documented']:.2f}",
                    str(c[f"{span}_requests"]),
                    str(c[f"{span}_max_points_per_request"]),
                ]
            )
    table(
        "2. Collection from a backfilled Prometheus (raw 1-minute series, 6 families)",
        [
            "series",
            "span",
            "samples",
            "Msamples/s",
            "ours s",
            "documented s",
            "sequential s",
            "x documented",
            "requests",
            "max points/request",
        ],
        rows,
    )

    e2e = end_to_end()
    results["end_to_end"] = e2e
    table(
        "3. End to end: run-day 0..7 on the simulated week, then report",
        ["notebooks", "kernel start+overhead s", "compute s", "render s", "total s"],
        [
            [
                str(e2e["notebooks"]),
                f"{e2e['kernel_start_and_overhead_s']:.1f}",
                f"{e2e['compute_s']:.1f}",
                f"{e2e['render_s']:.1f}",
                f"{e2e['total_s']:.1f}",
            ]
        ],
    )

    try:
        from benchmarks.nab import run_nab
    except ImportError:
        run_nab = None
    if run_nab is None or not NAB_DIR.is_dir():
        print(f"\n4. NAB: skipped ({NAB_DIR} or benchmarks/nab.py not available)")
    else:
        nab = run_nab(NAB_DIR, ROOT / "benchmarks" / "nab_results")
        results["nab"] = nab
        profiles = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
        rows = [
            [f"T.A.R.S. {name}", *(f"{v[p]:.1f}" for p in profiles)]
            for name, v in nab["variants"].items()
        ]
        rows += [
            [name, *(f"{v[p]:.1f}" for p in profiles)] for name, v in nab["scoreboard"].items()
        ]
        table("4. Detection quality on NAB (normalised scores)", ["detector", *profiles], rows)

    results["seconds"] = time.perf_counter() - started
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote benchmarks/results.json in {results['seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
