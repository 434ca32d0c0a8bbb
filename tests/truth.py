"""Ground truth for the collector tests, computed straight from exposition text.

Deliberately independent of tars_lib: it parses the OpenMetrics file that the
backends are filled from and applies the KPI definitions with plain loops and
numpy, so a mistake in the library's arithmetic cannot hide in both places.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+) (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Series = dict[tuple[tuple[str, str], ...], dict[int, float]]


def parse(path: Path) -> dict[str, Series]:
    out: dict[str, Series] = defaultdict(lambda: defaultdict(dict))
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            m = LINE.match(line.strip())
            assert m, line
            name, labels, value, stamp = m.groups()
            key = tuple(sorted(LABEL.findall(labels)))
            t = int(float(stamp))
            if t > 10**11:  # milliseconds
                t //= 1000
            out[name][key][t] = float(value)
    return out


def _sum_at(series: Series, t: int, keep=lambda labels: True) -> float:  # type: ignore[no-untyped-def]
    return sum(v[t] for k, v in series.items() if keep(dict(k)))


def quantile(q: float, buckets: dict[float, float]) -> float:
    """histogram_quantile as the Prometheus docs describe it, one point at a time."""
    les = sorted(buckets)
    total = buckets[math.inf]
    if total == 0:
        return math.nan
    rank = q * total
    previous_le, previous_count = 0.0, 0.0
    for le in les:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return previous_le
            return previous_le + (le - previous_le) * (rank - previous_count) / (
                count - previous_count
            )
        previous_le, previous_count = le, count
    return previous_le


def day_truth(data: dict[str, Series], start: int, end: int) -> dict[str, float]:
    """Every default KPI over (start, end] from the raw samples."""
    points = list(range(start + 300, end + 1, 300))
    req = data["http_requests_total"]

    def delta(series: Series, keep=lambda labels: True) -> float:  # type: ignore[no-untyped-def]
        return _sum_at(series, end, keep) - _sum_at(series, start, keep)

    total = delta(req)
    bad = delta(req, lambda labels: labels["code"].startswith("5"))
    buckets_day: dict[float, float] = defaultdict(float)
    window_p99 = []
    by_le: dict[float, list[dict[int, float]]] = defaultdict(list)
    for key, values in data["http_request_duration_seconds_bucket"].items():
        by_le[float(dict(key)["le"])].append(values)
    for le, rows in by_le.items():
        buckets_day[le] = sum(r[end] - r[start] for r in rows)
    for t in points:
        window = {le: sum(r[t] - r[t - 300] for r in rows) for le, rows in by_le.items()}
        window_p99.append(quantile(0.99, window))
    cpu = []
    idle = {k: v for k, v in data["node_cpu_seconds_total"].items() if dict(k)["mode"] == "idle"}
    for t in points:
        rates = [(v[t] - v[t - 300]) / 300 for v in idle.values()]
        cpu.append(100 * (1 - sum(rates) / len(rates)))
    mem = [
        100
        * (
            1
            - _sum_at(data["node_memory_MemAvailable_bytes"], t)
            / _sum_at(data["node_memory_MemTotal_bytes"], t)
        )
        for t in points
    ]
    hits = delta(data["redis_keyspace_hits_total"])
    misses = delta(data["redis_keyspace_misses_total"])
    blk_hit = delta(data["pg_stat_database_blks_hit"])
    blk_read = delta(data["pg_stat_database_blks_read"])
    p99_windows = np.array(window_p99)
    p99_windows = p99_windows[np.isfinite(p99_windows)]
    return {
        "availability": 100 * (total - bad) / total,
        "error_rate": 100 * bad / total,
        "p50_latency_ms": 1000 * quantile(0.5, buckets_day),
        "p95_latency_ms": 1000 * quantile(0.95, buckets_day),
        "p99_latency_ms": 1000 * quantile(0.99, buckets_day),
        "requests_per_second": total / (end - start),
        "avg_cpu_percent": float(np.mean(cpu)),
        "peak_cpu_percent": float(np.max(cpu)),
        "avg_memory_percent": float(np.mean(mem)),
        "redis_hit_rate": 100 * hits / (hits + misses),
        "redis_memory_mb": float(
            np.mean([_sum_at(data["redis_memory_used_bytes"], t) for t in points])
        )
        / 2**20,
        "db_connections": max(_sum_at(data["pg_stat_activity_count"], t) for t in points),
        "db_cache_hit_rate": 100 * blk_hit / (blk_hit + blk_read),
        "daily_cost_usd": 24
        * float(np.mean([_sum_at(data["node_total_hourly_cost"], t) for t in points])),
        "p99_bad_window_fraction": float(np.mean(p99_windows > 0.5)),
    }
