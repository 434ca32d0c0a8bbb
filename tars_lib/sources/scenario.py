"""A deterministic simulated service week: the embedded default source.

``data/scenarios/ga_week.yaml`` describes baseline levels, daily seasonality,
noise and injected incidents. ``simulate`` turns it into the raw samples the
standard exporters would have scraped (counters and gauges, one sample per
scrape interval); ``ScenarioSource`` answers the default KPI queries from
those samples with the same arithmetic PromQL applies, and
``write_exposition`` writes them as OpenMetrics so ``promtool`` can backfill a
real Prometheus (or VictoriaMetrics can import them) with exactly the same data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, TextIO

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.special import ndtr

from tars_lib.core.catalogue import read_yaml, validate_yaml
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.models import SourceInfo, UtcDatetime
from tars_lib.core.workspace import PROJECT
from tars_lib.sources.base import Progress, RangeQuery, SeriesSet
from tars_lib.sources.spec import parse_selectors

__all__ = [
    "BUCKETS",
    "DEFAULT_SCENARIO",
    "RawSamples",
    "Scenario",
    "ScenarioSource",
    "load_scenario",
    "simulate",
    "write_exposition",
]

DEFAULT_SCENARIO = PROJECT.scenario
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""The Prometheus client libraries' default latency buckets (seconds), plus +Inf."""

_BOUNDED = {
    "error_fraction",
    "not_found_fraction",
    "redis_hit_ratio",
    "db_cache_hit_ratio",
}
"""Quantities that are shares of something: a ``set`` above 1 is a mistake."""

Quantity = Literal[
    "requests_per_second",
    "error_fraction",
    "not_found_fraction",
    "latency_median_seconds",
    "cpu_percent",
    "memory_percent",
    "redis_hit_ratio",
    "redis_memory_mb",
    "db_connections",
    "db_cache_hit_ratio",
    "hourly_cost_usd",
]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Positive = Annotated[float, Field(gt=0.0, le=1e9)]
"""Upper bounds keep the simulation's counts in range (numpy's Poisson refuses means
above ~1e19) and every quantity far beyond any real service."""
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PerRequest = Annotated[float, Field(gt=0.0, le=1000.0)]
Spread = Annotated[float, Field(ge=0.0, le=1e6)]

EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
"""Moments a scenario may name: a week around them stays in datetime's range."""

MAX_SAMPLES = 50_000_000
"""Simulated samples (series x scrapes) a scenario may ask for: about 400 MB of floats.

The bundled week is under a million; ``replicas: 10000`` would be 7 billion and
end in a ``MemoryError`` after minutes, so it is refused when the file is read."""


def _in_range(moment: datetime | None) -> datetime | None:
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise ValueError(f"must be in the years {EARLIEST.year}..{LATEST.year - 1}")
    return moment


class Baseline(_Config):
    requests_per_second: Annotated[float, Field(gt=0.0, le=1e7)]
    error_fraction: Fraction
    not_found_fraction: Fraction
    latency_median_seconds: Annotated[float, Field(gt=0.0, le=3600.0)]
    latency_sigma: Annotated[float, Field(gt=0.0, le=10.0)]
    cpu_percent: Annotated[float, Field(gt=0.0, lt=100.0)]
    cpu_cores: Annotated[int, Field(ge=1, le=256)]
    memory_percent: Annotated[float, Field(gt=0.0, lt=100.0)]
    memory_total_gib: Annotated[float, Field(gt=0.0, le=1e6)]
    redis_hit_ratio: Fraction
    redis_ops_per_request: PerRequest
    redis_memory_mb: Positive
    db_connections: Annotated[float, Field(gt=0.0, le=1e6)]
    db_cache_hit_ratio: Fraction
    db_blocks_per_request: PerRequest
    hourly_cost_usd: Positive


class Seasonality(_Config):
    amplitude: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    peak_hour_utc: Annotated[float, Field(ge=0.0, lt=24.0)] = 15.0


class Noise(_Config):
    traffic: Annotated[float, Field(ge=0.0, le=2.0)] = 0.0
    """Relative (log-normal): 2 already swings traffic by a factor of 50."""
    latency: Annotated[float, Field(ge=0.0, le=2.0)] = 0.0
    cpu_percent: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    memory_percent: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    redis_memory_mb: Spread = 0.0
    db_connections: Spread = 0.0


class Incident(_Config):
    name: str
    kind: Literal["latency_spike", "error_burst", "drift", "cost_increase", "other"]
    quantity: Quantity
    start: UtcDatetime
    end: UtcDatetime | None = None
    duration_minutes: Annotated[float, Field(gt=0.0, le=60 * 24 * 60)] | None = None
    factor: Annotated[float, Field(gt=0.0, le=1000.0)] | None = None
    set: Annotated[float, Field(ge=0.0, le=1e9)] | None = None
    ramp_percent: Annotated[float, Field(gt=-100.0, le=1e5)] | None = None
    step_percent: Annotated[float, Field(gt=-100.0, le=1e5)] | None = None
    """Above -100: a quantity never reaches zero or goes negative."""

    _moments = field_validator("start", "end")(_in_range)

    @model_validator(mode="after")
    def _one_shape(self) -> Incident:
        if self.set is not None and self.quantity in _BOUNDED and self.set > 1.0:
            raise ValueError(f"set {self.set:g} for {self.quantity}: a fraction is at most 1")
        shapes = [self.factor, self.set, self.ramp_percent, self.step_percent]
        if sum(s is not None for s in shapes) != 1:
            raise ValueError("give exactly one of factor, set, ramp_percent, step_percent")
        if (self.factor is not None or self.set is not None) and self.duration_minutes is None:
            raise ValueError("factor and set need duration_minutes")
        if self.ramp_percent is not None and (self.end is None or self.end <= self.start):
            raise ValueError("ramp_percent needs an end after its start")
        return self

    @property
    def window(self) -> tuple[datetime, datetime]:
        """When the incident is active (a ramp or step stays active to the scenario's end)."""
        if self.duration_minutes is not None:
            return self.start, self.start + timedelta(minutes=self.duration_minutes)
        return self.start, self.end or datetime.max.replace(tzinfo=self.start.tzinfo)


class Scenario(_Config):
    name: str
    seed: Annotated[int, Field(ge=0, le=2**64 - 1)]
    """numpy's generators take a non-negative seed."""
    ga_timestamp: UtcDatetime
    days_before_ga: Annotated[int, Field(ge=0, le=30)] = 7
    days_after_ga: Annotated[int, Field(ge=1, le=31)] = 8
    scrape_interval_seconds: Annotated[int, Field(ge=5, le=300)] = 60
    job: str = "api"
    replicas: Annotated[int, Field(ge=1, le=1000)] = 1
    opencost: bool = True
    baseline: Baseline
    seasonality: Seasonality = Seasonality()
    noise: Noise = Noise()
    incidents: list[Incident] = []

    _moments = field_validator("ga_timestamp")(_in_range)

    @model_validator(mode="after")
    def _aligned(self) -> Scenario:
        if 300 % self.scrape_interval_seconds:
            raise ValueError("scrape_interval_seconds must divide 300 (the 5-minute windows)")
        if self.samples > MAX_SAMPLES:
            raise ValueError(
                f"{self.replicas} replicas x {self.series_per_replica} series x "
                f"{self.scrapes} scrapes is {self.samples:,} samples, over the "
                f"{MAX_SAMPLES:,} a simulation may hold; use fewer replicas, cpu_cores "
                "or days, or a longer scrape_interval_seconds"
            )
        return self

    @property
    def series_per_replica(self) -> int:
        """Requests by code (3), buckets (11 + Inf), count, sum, idle and user per core,
        memory (2), redis (3), postgres (3) and OpenCost's gauge (see ``simulate``)."""
        return 3 + len(BUCKETS) + 1 + 2 + 2 * self.baseline.cpu_cores + 2 + 3 + 3 + self.opencost

    @property
    def scrapes(self) -> int:
        days = self.days_before_ga + self.days_after_ga
        return days * 86400 // self.scrape_interval_seconds + 1

    @property
    def samples(self) -> int:
        return self.replicas * self.series_per_replica * self.scrapes

    @property
    def start(self) -> datetime:
        return self.ga_timestamp - timedelta(days=self.days_before_ga)

    @property
    def end(self) -> datetime:
        return self.ga_timestamp + timedelta(days=self.days_after_ga)


def load_scenario(path: Path) -> Scenario:
    """The scenario at ``path``; any problem is one ``InputError`` naming the file and field."""
    path = Path(path)
    return validate_yaml(Scenario, read_yaml(path, "scenario file"), path)


# --------------------------------------------------------------------------- simulation

Labels = Mapping[str, str]


@dataclass
class RawSamples:
    """What the exporters would have exposed: per metric, (labels, values) per series.

    ``timestamps`` are the scrape times; ``values[i]`` is the sample at ``timestamps[i]``.
    Counters start at 0 at the first scrape.
    """

    timestamps: npt.NDArray[np.int64]
    interval: int
    counters: dict[str, list[tuple[Labels, npt.NDArray[np.float64]]]] = field(default_factory=dict)
    gauges: dict[str, list[tuple[Labels, npt.NDArray[np.float64]]]] = field(default_factory=dict)

    def series(self, metric: str) -> list[tuple[Labels, npt.NDArray[np.float64]]]:
        return self.counters.get(metric) or self.gauges.get(metric) or []

    def index(self, moments: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The latest scrape at or before each moment (PromQL's instant lookup)."""
        idx: npt.NDArray[np.int64] = (moments - self.timestamps[0]) // self.interval
        if idx.min(initial=0) < 0 or idx.max(initial=0) >= len(self.timestamps):
            raise InputError("query outside the scenario's time range")
        return idx


def _modulated(
    scenario: Scenario, quantity: Quantity, base: float, times: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """The baseline quantity with every incident on it applied, at each time."""
    out = np.full(len(times), base, dtype=np.float64)
    for incident in scenario.incidents:
        if incident.quantity != quantity:
            continue
        start = int(incident.start.timestamp())
        if incident.factor is not None or incident.set is not None:
            stop = int(incident.window[1].timestamp())
            active = (times > start) & (times <= stop)
            if incident.factor is not None:
                out[active] *= incident.factor
            else:
                out[active] = incident.set
        elif incident.ramp_percent is not None:
            assert incident.end is not None
            stop = int(incident.end.timestamp())
            progress = np.clip((times - start) / (stop - start), 0.0, 1.0)
            out *= 1.0 + incident.ramp_percent / 100.0 * progress
        elif incident.step_percent is not None:
            out[times > start] *= 1.0 + incident.step_percent / 100.0
    return out


def _replica_labels(scenario: Scenario, replica: int) -> dict[str, str]:
    labels = {"job": scenario.job}
    if scenario.replicas > 1:
        labels["instance"] = f"{scenario.job}-{replica:04d}"
    return labels


def simulate(scenario: Scenario) -> RawSamples:
    """Every sample of the scenario, deterministic for its seed."""
    interval = scenario.scrape_interval_seconds
    first, last = int(scenario.start.timestamp()), int(scenario.end.timestamp())
    times = np.arange(first, last + 1, interval, dtype=np.int64)
    n = len(times)
    raw = RawSamples(timestamps=times, interval=interval)
    rng = np.random.default_rng(scenario.seed)
    b, s, z = scenario.baseline, scenario.seasonality, scenario.noise

    def mod(q: Quantity, base: float) -> npt.NDArray[np.float64]:
        return _modulated(scenario, q, base, times)

    hours = (times % 86400) / 3600.0
    season = 1.0 + s.amplitude * np.cos(2 * np.pi * (hours - s.peak_hour_utc) / 24.0)
    bounds = np.log(np.array(BUCKETS))
    for replica in range(scenario.replicas):
        labels = _replica_labels(scenario, replica)
        share = 1.0 / scenario.replicas
        rps = mod("requests_per_second", b.requests_per_second * share) * season
        rps *= np.exp(z.traffic * rng.standard_normal(n))
        requests = rng.poisson(rps * interval).astype(np.float64)
        requests[0] = 0.0
        # clipped: a factor on a share can push it past 1 (a no-op for the bundled week)
        error_fraction = np.clip(mod("error_fraction", b.error_fraction), 0.0, 1.0)
        errors = rng.binomial(requests.astype(np.int64), error_fraction)
        not_found = rng.binomial(
            (requests - errors).astype(np.int64),
            np.clip(mod("not_found_fraction", b.not_found_fraction), 0.0, 1.0),
        )
        ok = requests - errors - not_found
        for code, counts in (("200", ok), ("404", not_found), ("500", errors)):
            raw.counters.setdefault("http_requests_total", []).append(
                ({**labels, "code": code}, np.cumsum(counts, dtype=np.float64))
            )
        median = mod("latency_median_seconds", b.latency_median_seconds)
        median *= (1.0 + 0.1 * (season - 1.0)) * np.exp(z.latency * rng.standard_normal(n))
        cdf = ndtr((bounds[:, None] - np.log(median)[None, :]) / b.latency_sigma)
        cumulative = np.floor(requests[None, :] * cdf + 0.5)
        for le, counts in zip((*BUCKETS, math.inf), (*cumulative, requests), strict=True):
            le_text = "+Inf" if math.isinf(le) else f"{le:g}"
            raw.counters.setdefault("http_request_duration_seconds_bucket", []).append(
                ({**labels, "le": le_text}, np.cumsum(counts, dtype=np.float64))
            )
        raw.counters.setdefault("http_request_duration_seconds_count", []).append(
            (labels, np.cumsum(requests))
        )
        mean_latency = median * math.exp(b.latency_sigma**2 / 2)
        raw.counters.setdefault("http_request_duration_seconds_sum", []).append(
            (labels, np.cumsum(requests * mean_latency))
        )
        cpu = mod("cpu_percent", b.cpu_percent) * (0.8 + 0.2 * season)
        for core in range(b.cpu_cores):
            busy = np.clip(cpu + z.cpu_percent * rng.standard_normal(n), 0.5, 99.5) / 100.0
            busy[0] = 0.0
            for mode, share_of_time in (("idle", 1.0 - busy), ("user", busy)):
                seconds = share_of_time * interval
                seconds[0] = 0.0
                raw.counters.setdefault("node_cpu_seconds_total", []).append(
                    ({**labels, "cpu": str(core), "mode": mode}, np.cumsum(seconds))
                )
        total = b.memory_total_gib * 2**30
        used = mod("memory_percent", b.memory_percent) + z.memory_percent * rng.standard_normal(n)
        raw.gauges.setdefault("node_memory_MemTotal_bytes", []).append(
            (labels, np.full(n, float(total)))
        )
        raw.gauges.setdefault("node_memory_MemAvailable_bytes", []).append(
            (labels, np.round(total * (1.0 - np.clip(used, 1.0, 99.0) / 100.0)))
        )
        ops = rng.poisson(requests * b.redis_ops_per_request).astype(np.int64)
        hits = rng.binomial(ops, np.clip(mod("redis_hit_ratio", b.redis_hit_ratio), 0.0, 1.0))
        raw.counters.setdefault("redis_keyspace_hits_total", []).append(
            (labels, np.cumsum(hits, dtype=np.float64))
        )
        raw.counters.setdefault("redis_keyspace_misses_total", []).append(
            (labels, np.cumsum(ops - hits, dtype=np.float64))
        )
        redis_mb = mod("redis_memory_mb", b.redis_memory_mb * share)
        redis_mb = redis_mb + z.redis_memory_mb * share * rng.standard_normal(n)
        raw.gauges.setdefault("redis_memory_used_bytes", []).append(
            (labels, np.round(np.maximum(redis_mb, 1.0) * 2**20))
        )
        conns = mod("db_connections", b.db_connections * share) * (0.85 + 0.15 * season)
        conns = conns + z.db_connections * math.sqrt(share) * rng.standard_normal(n)
        raw.gauges.setdefault("pg_stat_activity_count", []).append(
            (labels, np.maximum(np.round(conns), 0.0))
        )
        blocks = rng.poisson(requests * b.db_blocks_per_request).astype(np.int64)
        blk_hit = rng.binomial(
            blocks, np.clip(mod("db_cache_hit_ratio", b.db_cache_hit_ratio), 0.0, 1.0)
        )
        raw.counters.setdefault("pg_stat_database_blks_hit", []).append(
            (labels, np.cumsum(blk_hit, dtype=np.float64))
        )
        raw.counters.setdefault("pg_stat_database_blks_read", []).append(
            (labels, np.cumsum(blocks - blk_hit, dtype=np.float64))
        )
        if scenario.opencost:
            raw.gauges.setdefault("node_total_hourly_cost", []).append(
                (labels, np.round(mod("hourly_cost_usd", b.hourly_cost_usd * share), 6))
            )
    return raw


# --------------------------------------------------------------------------- exposition


def _label_text(labels: Labels) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{k}="{esc(v)}"' for k, v in labels.items())


def _exposition_lines(raw: RawSamples) -> Iterator[str]:
    for kind, metrics in (("counter", raw.counters), ("gauge", raw.gauges)):
        for name, series in metrics.items():
            if kind == "counter" and name.endswith("_total"):
                yield f"# TYPE {name.removesuffix('_total')} counter\n"
            for labels, values in series:
                head = f"{name}{{{_label_text(labels)}}} "
                for t, v in zip(raw.timestamps.tolist(), values.tolist(), strict=True):
                    yield f"{head}{v:.17g} {t}\n"
    yield "# EOF\n"


def write_exposition(raw: RawSamples, handle: TextIO) -> None:
    """OpenMetrics text with timestamps in seconds, ending in ``# EOF``.

    ``promtool tsdb create-blocks-from openmetrics`` backfills Prometheus from it and
    VictoriaMetrics' ``/api/v1/import/prometheus`` takes the same file (tests/servers.py
    records what each accepts).
    """
    handle.writelines(_exposition_lines(raw))


# --------------------------------------------------------------------------- the source

Times = npt.NDArray[np.int64]
Keep = Callable[[Labels], bool]
Evaluator = Callable[[RawSamples, Times, Keep], SeriesSet]


def _summed(
    raw: RawSamples,
    metric: str,
    t: npt.NDArray[np.int64],
    keep: Callable[[Labels], bool],
    window: int | None,
) -> npt.NDArray[np.float64] | None:
    """sum(increase(metric[window])) when window is given, else sum(metric), at times t."""
    rows = [v for labels, v in raw.series(metric) if keep(labels)]
    if not rows:
        return None
    values = np.sum(rows, axis=0)
    now = values[raw.index(t)]
    if window is None:
        return np.asarray(now, dtype=np.float64)
    return np.asarray(now - values[raw.index(t - window)], dtype=np.float64)


def _one(t: npt.NDArray[np.int64], values: npt.NDArray[np.float64] | None) -> SeriesSet:
    if values is None:
        return SeriesSet.empty(t)
    return SeriesSet(t, ({},), values[None, :])


def _code(pattern: Callable[[str], bool]) -> Callable[[Labels], bool]:
    return lambda labels: pattern(labels.get("code", ""))


def _increase(metric: str, code: Callable[[str], bool] | None = None) -> Evaluator:
    def run(raw: RawSamples, t: Times, keep: Keep) -> SeriesSet:
        def match(labels: Labels) -> bool:
            return keep(labels) and (code is None or code(labels.get("code", "")))

        return _one(t, _summed(raw, metric, t, match, 300))

    return run


def _increase_sum(*metrics: str) -> Evaluator:
    def run(raw: RawSamples, t: Times, keep: Keep) -> SeriesSet:
        parts = [_summed(raw, m, t, keep, 300) for m in metrics]
        if any(p is None for p in parts):
            return SeriesSet.empty(t)
        return _one(t, np.sum([p for p in parts if p is not None], axis=0))

    return run


def _buckets(raw: RawSamples, t: Times, keep: Keep) -> SeriesSet:
    by_le: dict[str, npt.NDArray[np.float64]] = {}
    for labels, values in raw.series("http_request_duration_seconds_bucket"):
        if keep(labels):
            le = labels["le"]
            by_le[le] = by_le.get(le, 0.0) + values[raw.index(t)] - values[raw.index(t - 300)]
    if not by_le:
        return SeriesSet.empty(t)
    return SeriesSet(t, tuple({"le": le} for le in by_le), np.array(list(by_le.values())))


def _cpu(raw: RawSamples, t: Times, keep: Keep) -> SeriesSet:
    rates = [
        (v[raw.index(t)] - v[raw.index(t - 300)]) / 300.0
        for labels, v in raw.series("node_cpu_seconds_total")
        if keep(labels) and labels.get("mode") == "idle"
    ]
    if not rates:
        return SeriesSet.empty(t)
    return _one(t, 100.0 * (1.0 - np.mean(rates, axis=0)))


def _memory(raw: RawSamples, t: Times, keep: Keep) -> SeriesSet:
    avail = _summed(raw, "node_memory_MemAvailable_bytes", t, keep, None)
    total = _summed(raw, "node_memory_MemTotal_bytes", t, keep, None)
    if avail is None or total is None:
        return SeriesSet.empty(t)
    return _one(t, 100.0 * (1.0 - avail / total))


def _gauge(metric: str, scale: float = 1.0) -> Evaluator:
    def run(raw: RawSamples, t: Times, keep: Keep) -> SeriesSet:
        values = _summed(raw, metric, t, keep, None)
        return _one(t, None if values is None else values * scale)

    return run


def _count_idle(raw: RawSamples, t: Times, keep: Keep) -> SeriesSet:
    n = sum(
        1
        for labels, _ in raw.series("node_cpu_seconds_total")
        if keep(labels) and labels.get("mode") == "idle"
    )
    return _one(t, np.full(len(t), float(n)) if n else None)


def _is_5xx(code: str) -> bool:
    return code.startswith("5") and len(code) == 3


_REQUESTS = _increase("http_requests_total")
_EVALUATORS: dict[str, Evaluator] = {
    "availability/numerator": _increase("http_requests_total", lambda c: not _is_5xx(c)),
    "availability/denominator": _REQUESTS,
    "error_rate/numerator": _increase("http_requests_total", _is_5xx),
    "error_rate/denominator": _REQUESTS,
    "p50_latency_ms/buckets": _buckets,
    "p95_latency_ms/buckets": _buckets,
    "p99_latency_ms/buckets": _buckets,
    "requests_per_second/count": _REQUESTS,
    "avg_cpu_percent/value": _cpu,
    "peak_cpu_percent/value": _cpu,
    "avg_memory_percent/value": _memory,
    "redis_hit_rate/numerator": _increase("redis_keyspace_hits_total"),
    "redis_hit_rate/denominator": _increase_sum(
        "redis_keyspace_hits_total", "redis_keyspace_misses_total"
    ),
    "redis_memory_mb/value": _gauge("redis_memory_used_bytes", 1.0 / 2**20),
    "db_connections/value": _gauge("pg_stat_activity_count"),
    "db_cache_hit_rate/numerator": _increase("pg_stat_database_blks_hit"),
    "db_cache_hit_rate/denominator": _increase_sum(
        "pg_stat_database_blks_hit", "pg_stat_database_blks_read"
    ),
    "daily_cost_usd/hourly": _gauge("node_total_hourly_cost"),
    "daily_cost_usd/cores": _count_idle,
    "daily_cost_usd/memory_gib": _gauge("node_memory_MemTotal_bytes", 1.0 / 2**30),
}


def _selector_filter(selector: str | None) -> Callable[[Labels], bool]:
    """The scenario understands equality matchers only: ``job="api",instance="x"``."""
    if not selector:
        return lambda labels: True
    wanted: dict[str, str] = {}
    for part in selector.strip().strip("{}").split(","):
        name, sep, value = part.partition("=")
        if not sep or name.endswith(("!", "~")) or value.startswith("~"):
            raise SettingError(
                "selector",
                '{selector} {value}: the scenario source supports only name="value" matchers',
                repr(selector),
            )
        wanted[name.strip()] = value.strip().strip('"')
    return lambda labels: all(labels.get(k) == v for k, v in wanted.items())


@lru_cache(maxsize=4)
def _simulated(path: Path, mtime: float) -> tuple[Scenario, RawSamples]:
    scenario = load_scenario(path)
    return scenario, simulate(scenario)


class ScenarioSource:
    """Answers the default catalogue's queries from the simulated samples.

    Queries are matched by their key (``kpi/component``), not parsed: the
    scenario knows the arithmetic of the default PromQL, which the tests check
    against a real Prometheus holding the same samples.
    """

    def __init__(self, path: Path, selector: str | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise SettingError(
                "scenario", "{value}: scenario file not found (given as {scenario})", path
            )
        self.path = path
        self.scenario, self.raw = _simulated(path.resolve(), path.stat().st_mtime)
        self._keep = {
            family: _selector_filter(matchers)
            for family, matchers in parse_selectors(selector).items()
        }

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(kind="scenario", location=str(self.path))

    def fetch(
        self, queries: Sequence[RangeQuery], progress: Progress | None = None
    ) -> dict[str, SeriesSet]:
        out: dict[str, SeriesSet] = {}
        for query in queries:
            evaluator = _EVALUATORS.get(query.key)
            if evaluator is None:
                raise SettingError(
                    "scenario",
                    "the {scenario} source cannot answer {key} (it knows the default "
                    "catalogue's queries only); use {prometheus_url} for a custom catalogue",
                    key=query.key,
                )
            t = query.timestamps
            first, last = self.raw.timestamps[0] + 300, self.raw.timestamps[-1]
            if t[0] < first or t[-1] > last:
                raise InputError(
                    f"{self.path}: the scenario covers {self.scenario.start:%Y-%m-%d} to "
                    f"{self.scenario.end:%Y-%m-%d}; asked for data outside it"
                )
            keep = self._keep.get(query.family) or _selector_filter(None)
            out[query.key] = evaluator(self.raw, t, keep)
            if progress:
                progress(1)
        return out
