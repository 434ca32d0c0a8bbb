"""Scale: 10,000 series over a 30-day window at 5-minute resolution stay within 4 GB.

Run in a subprocess so the peak resident memory measured is this job's alone.
(Time is measured in benchmarks/, never asserted here.)
"""

from __future__ import annotations

import subprocess
import sys

JOB = """
import resource
from datetime import UTC, datetime, timedelta
import numpy as np
from tars_lib.judge.anomaly import SeriesMatrix, detect
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.models import AnomalyParameters, Window
n, days = 10_000, 30
t = (days + 1) * 288
ga = datetime(2025, 11, 18, tzinfo=UTC)
values = np.random.default_rng(1).normal(100, 5, size=(n, t))
values[::100, 5000:5010] += 200  # one burst in every hundredth series
grid = np.arange(int(ga.timestamp()) + 300, int(ga.timestamp()) + 300 * t + 1, 300)
matrix = SeriesMatrix(grid, ("p99_latency_ms",) * n, tuple({"i": str(i)} for i in range(n)),
                      values, 288, 300)
window = Window(start=ga + timedelta(days=1), end=ga + timedelta(days=days + 1))
events = detect(matrix, load_catalogue(), window, AnomalyParameters(), datetime.now(UTC))
bursts = {int(e.labels["i"]) for e in events.events if e.observed > 250}
print(len(bursts), values.nbytes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def test_thirty_days_of_ten_thousand_series_within_4_gb() -> None:
    out = subprocess.run(
        [sys.executable, "-c", JOB], capture_output=True, text=True, check=True, timeout=600
    ).stdout.split()
    bursts, data_bytes, peak = int(out[0]), int(out[1]), int(out[2])
    assert bursts == 100  # every injected burst found
    assert data_bytes == 10_000 * 31 * 288 * 8
    assert peak < 4 * 2**30, f"peak RSS {peak / 2**30:.2f} GiB"
