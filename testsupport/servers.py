"""Run real metric backends (Prometheus, VictoriaMetrics) on loopback with backfilled data.

Helpers for tests that query a *real* server instead of a mock:

* :func:`prometheus_from_openmetrics` - ``promtool tsdb create-blocks-from openmetrics`` +
  ``prometheus`` on ``127.0.0.1:<free port>``.
* :func:`victoria_metrics_from_text` - ``victoria-metrics`` on ``127.0.0.1:<free port>`` +
  ``POST /api/v1/import/prometheus``.
* :func:`require_binary` - skip locally / fail under ``CI=true`` when a binary is missing.
* :func:`free_port` - a free TCP port on 127.0.0.1.

Both context managers yield a base URL such as ``http://127.0.0.1:41234`` and stop the server
(SIGTERM, wait, then SIGKILL) on exit. Neither server is given anything to scrape, alert on or
remote-write to, so neither one opens a connection to anything.

Versions checked: Debian ``prometheus`` 2.42.0+ds (same package provides ``promtool``) and
``victoria-metrics`` 1.79.5+ds1 (binary ``/usr/bin/victoria-metrics``).

Input format (findings from experiments; the exporter in tars_lib should follow them)
======================================================================================

ONE file works for both backends: OpenMetrics text with timestamps in **seconds**, ``# TYPE``
lines, ending with ``# EOF``. Example::

    # TYPE http_requests counter
    http_requests_total{job="api",code="200"} 6040 1762819200
    http_requests_total{job="api",code="200"} 12110 1762819260
    http_requests_total{job="api",code="500"} 3 1762819200
    # TYPE http_request_duration_seconds histogram
    http_request_duration_seconds_bucket{job="api",le="0.1"} 4170 1762819200
    http_request_duration_seconds_bucket{job="api",le="+Inf"} 6035 1762819200
    http_request_duration_seconds_sum{job="api"} 715.2 1762819200
    http_request_duration_seconds_count{job="api"} 6035 1762819200
    # TYPE node_memory_MemTotal_bytes gauge
    node_memory_MemTotal_bytes{job="api"} 8589934592 1762819200
    # EOF

promtool 2.42 (``tsdb create-blocks-from openmetrics``), all tested:

* Timestamps MUST be Unix **seconds** (integer or decimal: ``1762819200.5`` -> ...200500 ms).
  Millisecond timestamps are NOT rejected: they are silently read as seconds and produce blocks
  in the year ~57,800, so queries find nothing. :func:`prometheus_from_openmetrics` therefore
  raises ``ValueError`` when the first sample's timestamp is >= 2**31.
* Every sample needs a timestamp: ``expected timestamp for series got none``.
* The file MUST end with ``# EOF``: ``data does not end with # EOF``. One final ``\\n`` after it
  is fine (so is no newline), but anything after it, even an empty line, fails with
  ``unexpected data after # EOF``.
* ``# TYPE`` lines are OPTIONAL: a file with no TYPE/HELP lines at all imports the same series.
  TSDB blocks store no metadata, so the series name is always exactly the sample name.
  ``# TYPE http_requests counter`` + ``http_requests_total`` samples (the OpenMetrics way) works;
  so do ``# TYPE http_requests_total counter`` + ``http_requests_total`` and a counter sample
  without ``_total``. Recommended: the OpenMetrics way (family name without ``_total``).
  ``# TYPE x untyped`` fails (``invalid metric type "untyped"``; OpenMetrics says ``unknown``).
  ``# UNIT a requests`` fails unless the unit is a suffix of the family name
  (``unit not a suffix of metric "a"``). ``# HELP`` is fine.
* The 2.42 parser does not enforce family grouping: interleaving families, repeating a TYPE
  line, or writing the file time-major (all series at t0, then t1, ...) all import correctly.
  Recommended anyway: one family after another, each series' samples in time order.
* Within one series, timestamps must strictly increase. Violations are SILENT: an
  out-of-order sample is dropped, and of two samples with the same timestamp only the first is
  kept; promtool still exits 0.
* Syntax is strict: no blank lines (``"INVALID" "\\n" is not a valid start token``), no free
  comments (``# just a comment`` fails the same way), no space after a comma in the label set
  and no trailing comma (``expected label name, got "INVALID"`` / ``"BCLOSE"``), no CRLF
  (``parsing "1762819200\\r": invalid syntax``). ``NaN``, ``+Inf``, ``1.5e3`` values and
  escaped label values (``\\"``, ``\\\\``, ``\\n``) are fine.
* Histograms: ``le`` values are stored verbatim (``"1"`` and ``"1.0"`` would be two series), so
  format them consistently. Missing ``_sum``/``_count`` or a missing ``+Inf`` bucket is accepted.
* Block size: promtool 2.42 has a hidden ``--max-block-duration`` flag (absent from ``--help``).
  It takes a Go duration (``744h`` works; ``31d`` fails with ``unknown unit "d"``). With the
  default (2h blocks) it writes 180 blocks for 15 days and re-reads the whole file once per
  block: 89 s for the 15-day file below. With ``--max-block-duration=744h`` (= Prometheus' own
  31-day cap) it writes 2 blocks in about 3 s. That is what this module uses.

VictoriaMetrics 1.79.5 (``POST /api/v1/import/prometheus``):

* Timestamps in seconds AND milliseconds are both accepted: a timestamp ``t`` with
  ``-2**31 <= t < 2**31`` is taken as seconds (multiplied by 1000), anything else as ms
  (``lib/protoparser/prometheus/parser.go``). Decimal seconds work. Without a timestamp the
  sample gets "now".
* Every line starting with ``#`` is skipped, so ``# TYPE``/``# HELP``/``# EOF`` are fine, and so
  are empty lines and CRLF line endings, spaces after commas and a trailing comma in labels.
  The same OpenMetrics file that promtool takes imports unchanged.
* An invalid line (e.g. ``t_bad{x=1} 1 ...``) is only logged and counted in
  ``vm_rows_invalid_total{type="prometheus"}``; the request still returns **204**.
  :func:`victoria_metrics_from_text` therefore checks that counter and raises ``RuntimeError``.
* Out-of-order samples are stored. Two samples with the same timestamp are BOTH stored
  (no deduplication by default), so the exporter must not write duplicates.
* The ``vm_rows_*`` counters on ``/metrics`` lag the 204 response by about 1 s. The helper
  polls until ``inserted + invalid`` reaches the number of sample lines in the file, then
  calls ``GET /internal/force_flush`` (present in 1.79; it flushes the in-memory buffers so
  the data can be searched) and polls a query until data comes back. The server runs with
  ``-search.disableCache``, so an empty answer from an early query is never cached.

increase() on 60 s samples aligned to whole minutes (checked on the full 15-day file)
====================================================================================

``sum(increase(http_requests_total{job="api"}[5m]))``, ``query_range`` with step 300 s and
``start`` a multiple of 60 s:

* Prometheus 2.42: EXACT. All 4,319 points from 00:05 on day 1 to the end equal the
  counter's raw 5-minute difference. The range ``[t-5m, t]`` is closed in 2.x, so the samples
  at ``t-300`` and ``t`` are both inside, the interval covered by samples is the full 300 s
  and nothing is extrapolated. At ``t`` = the first sample there is no point (only one sample).
  If ``t`` is NOT on a sample (start shifted by 30 s), Prometheus extrapolates:
  ``(v[t-30] - v[t-270]) * 300/240`` (e.g. 61566.25 instead of 61487). Note: Prometheus 3.x
  makes the range left-open ``(t-5m, t]``, which brings the extrapolation back even for aligned
  steps.
* VictoriaMetrics 1.79: EXACT, too (same 4,319 points). Its increase() never extrapolates: it
  takes the last sample in ``(t-5m, t]`` minus the last sample before the window. So it is
  also exact when ``t`` is not on a sample (raw difference ``v[t-30] - v[t-330]``). Difference
  from Prometheus: at the first window of a series (no sample before it) VM still returns a
  point: the first raw value if it is small (counter assumed to start at 0; 100 -> 100), or 0
  for large counters (5e6 or 1e9 -> 0). Prometheus returns nothing there. Do not assert on
  that first step.

Timings (this machine, 2 CPUs; 15-day file: 34 series x 21,600 samples = 734,400 samples, 67 MB)
======================================================================================================

* promtool backfill: 3.1 s with ``--max-block-duration=744h`` (2 blocks, 155 MB peak RSS);
  89 s with the default 2h blocks (180 blocks). Writing the file time-major: 3.4 s.
* Prometheus start -> ``/-/ready`` 200: about 0.07 s; -> first query with data: about 0.08 s
  (also with 180 blocks: 0.09 / 0.10 s). The backfilled blocks are loaded before ``ready``.
* VictoriaMetrics: the process answers ``/health`` after about 0.06 s; ``POST`` of the 67 MB
  file: 0.66 s; ``force_flush``: 0.03 s; data queryable 0.7 s after the POST started.
* Whole context managers, call to yield (15-day file): Prometheus 2.5-3.1 s (promtool is
  almost all of it), VictoriaMetrics 1.3-1.5 s (0.3 s counting lines in Python, the POST, and
  up to 1 s waiting for VM's row counters). SIGTERM stops Prometheus in about 0.003 s and
  VictoriaMetrics in 0.03 s, both with exit code 0.
* tests/test_servers.py (2-day file, 3 series): Prometheus 0.13 s, VictoriaMetrics 1.1 s.

Other VictoriaMetrics 1.79 quirk: an instant query (or a query_range with start == end) at
exactly a series' FIRST timestamp returns nothing (one second later it does, and a query_range
with start < end includes that first point). The readiness probe therefore uses a short
query_range.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

__all__ = [
    "free_port",
    "prometheus_from_openmetrics",
    "require_binary",
    "victoria_metrics_from_text",
]

#: How long to wait for a server to start and its data to become queryable.
READY_TIMEOUT_S = 60.0
#: Largest block promtool may write. Go duration syntax ("d" is not accepted).
PROMTOOL_MAX_BLOCK_DURATION = "744h"
#: Timestamps at or above this are milliseconds, below are seconds (VictoriaMetrics' rule).
_SECONDS_LIMIT = 2**31
_POLL_S = 0.05
_STOP_TIMEOUT_S = 10.0
_LOG_TAIL_CHARS = 4000
_PORT_ATTEMPTS = 3

_PROMETHEUS_CONFIG = """\
# Written by tests/servers.py: no scrape targets, no rules, no alerting, no remote write.
global:
  scrape_interval: 1m
  evaluation_interval: 1m
"""

_VM_SAMPLE_METRICS = (
    'vm_rows_inserted_total{type="prometheus"}',
    'vm_rows_invalid_total{type="prometheus"}',
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free when this was called."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_binary(name: str) -> str:
    """Return the path of executable ``name``.

    If it is missing, skip the test, or fail it when ``CI`` is ``"true"``: under CI a missing
    server means a broken setup, not an optional feature.
    """
    path = shutil.which(name)
    if path is None:
        for folder in ("/usr/bin", "/usr/sbin", "/usr/local/bin"):
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                path = str(candidate)
                break
    if path is not None:
        return path
    reason = (
        f"{name!r} not found on PATH; install it with "
        "`apt-get install -y --no-install-recommends prometheus victoria-metrics`"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------
# Input file scanning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileInfo:
    sample_lines: int
    """Lines that are neither empty nor ``#`` comments (what VictoriaMetrics will parse)."""
    first_timestamp: float | None
    """Raw timestamp of the first sample line, as written; None if it has none."""


def _sample_timestamp(line: str) -> float | None:
    """Return the raw timestamp of an exposition line, or None if it has none."""
    line = line.split(" # ", 1)[0]  # drop an OpenMetrics exemplar
    rest = line[line.rfind("}") + 1 :].split() if "}" in line else line.split()[1:]
    if len(rest) < 2:
        return None
    try:
        return float(rest[1])
    except ValueError:
        return None


def _scan(path: Path) -> _FileInfo:
    count = 0
    first: bytes | None = None
    with path.open("rb") as fh:
        for raw in fh:
            stripped = raw.strip()
            if not stripped or stripped.startswith(b"#"):
                continue
            count += 1
            if first is None:
                first = stripped
    first_ts = None if first is None else _sample_timestamp(first.decode("utf-8"))
    return _FileInfo(sample_lines=count, first_timestamp=first_ts)


# --------------------------------------------------------------------------------------------
# Process handling
# --------------------------------------------------------------------------------------------


def _log_tail(log_path: Path) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<cannot read {log_path}: {exc}>"
    return text[-_LOG_TAIL_CHARS:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, then SIGKILL: leave no process behind."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=_STOP_TIMEOUT_S)


def _poll_until(
    what: str,
    check: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    log_path: Path,
    deadline: float,
) -> None:
    """Call ``check`` until it returns True; raise RuntimeError on exit or timeout."""
    last_error: Exception | None = None
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{proc.args!r} exited with code {proc.returncode} while waiting for {what}.\n"
                f"--- tail of {log_path} ---\n{_log_tail(log_path)}"
            )
        try:
            if check():
                return
            last_error = None
        except requests.RequestException as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"timed out after {READY_TIMEOUT_S:.0f} s waiting for {what}"
                + (f" (last error: {last_error})" if last_error else "")
                + f".\n--- tail of {log_path} ---\n{_log_tail(log_path)}"
            )
        time.sleep(_POLL_S)


@contextlib.contextmanager
def _serve(
    name: str,
    make_cmd: Callable[[int], list[str]],
    log_path: Path,
    ready_path: str,
    deadline: float,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``make_cmd(port)`` until it answers 200 on ``ready_path``; yield (url, process).

    Retries on another port if the chosen one was taken between :func:`free_port` and bind.
    """
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            log.write(f"=== {name}: attempt {attempt}, port {port} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                make_cmd(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            try:
                _poll_until(
                    f"{name} {ready_path}",
                    functools.partial(_http_ok, base_url + ready_path),
                    proc,
                    log_path,
                    deadline,
                )
            except RuntimeError:
                in_use = "address already in use" in _log_tail(log_path).lower()
                if proc.poll() is not None and in_use and attempt < _PORT_ATTEMPTS:
                    continue
                raise
            yield base_url, proc
            return
        finally:
            _stop(proc)
    raise AssertionError("unreachable")  # pragma: no cover


def _http_ok(url: str) -> bool:
    return requests.get(url, timeout=2).status_code == 200


def _has_result(base_url: str, query: str, at: float | None) -> bool:
    """True if a short query_range starting at ``at`` (default: now) returns any series.

    A range query, not an instant one: VictoriaMetrics 1.79 answers an instant query (or a
    query_range with start == end) at exactly a series' first timestamp with nothing.
    """
    start = time.time() - 60 if at is None else at
    params = {"query": query, "start": repr(start), "end": repr(start + 60), "step": "60"}
    resp = requests.get(f"{base_url}/api/v1/query_range", params=params, timeout=10)
    if resp.status_code != 200:
        return False
    body = resp.json()
    return body.get("status") == "success" and bool(body["data"]["result"])


def _fresh_dir(path: Path) -> Path:
    """``path``, which must not exist yet or be empty: never mix in data from an earlier run."""
    if path.exists() and any(path.iterdir()):
        raise ValueError(f"{path} already holds data; give each server a fresh workdir")
    return path


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{what} failed with exit code {proc.returncode}: {cmd!r}\n"
            f"--- stdout ---\n{proc.stdout[-_LOG_TAIL_CHARS:]}\n"
            f"--- stderr ---\n{proc.stderr[-_LOG_TAIL_CHARS:]}"
        )
    return proc


# --------------------------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def prometheus_from_openmetrics(openmetrics_file: Path, workdir: Path) -> Iterator[str]:
    """Backfill ``openmetrics_file`` with promtool, serve it with Prometheus, yield its URL.

    The file must be OpenMetrics text with timestamps in seconds ending in ``# EOF`` (see the
    module docstring). Blocks go to ``<workdir>/data``; the config is
    ``<workdir>/prometheus.yml``, the server log ``<workdir>/prometheus.log``.
    """
    promtool = require_binary("promtool")
    prometheus = require_binary("prometheus")
    openmetrics_file = Path(openmetrics_file).resolve()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    info = _scan(openmetrics_file)
    if info.first_timestamp is None:
        raise ValueError(f"{openmetrics_file}: the first sample has no (valid) timestamp")
    if abs(info.first_timestamp) >= _SECONDS_LIMIT:
        raise ValueError(
            f"{openmetrics_file}: first timestamp {info.first_timestamp!r} looks like "
            "milliseconds; OpenMetrics (and promtool) want seconds"
        )

    data_dir = _fresh_dir(workdir / "data")
    _run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            f"--max-block-duration={PROMTOOL_MAX_BLOCK_DURATION}",
            str(openmetrics_file),
            str(data_dir),
        ],
        "promtool backfill",
    )
    config = workdir / "prometheus.yml"
    config.write_text(_PROMETHEUS_CONFIG, encoding="utf-8")
    log_path = workdir / "prometheus.log"

    def make_cmd(port: int) -> list[str]:
        return [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            # The data is from 2025: the default 15d retention would delete it at once.
            "--storage.tsdb.retention.time=100y",
            "--log.level=info",
        ]

    deadline = time.monotonic() + READY_TIMEOUT_S
    with _serve("prometheus", make_cmd, log_path, "/-/ready", deadline) as (base_url, proc):
        _poll_until(
            "backfilled data to be queryable",
            lambda: _has_result(base_url, 'count({__name__=~".+"})', info.first_timestamp),
            proc,
            log_path,
            deadline,
        )
        yield base_url


# --------------------------------------------------------------------------------------------
# VictoriaMetrics
# --------------------------------------------------------------------------------------------


def _vm_counters(base_url: str) -> dict[str, float]:
    resp = requests.get(f"{base_url}/metrics", timeout=10)
    resp.raise_for_status()
    found = dict.fromkeys(_VM_SAMPLE_METRICS, 0.0)
    for line in resp.text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in found:
            found[name] = float(value)
    return found


@contextlib.contextmanager
def victoria_metrics_from_text(exposition_file: Path, workdir: Path) -> Iterator[str]:
    """Serve ``exposition_file`` from a fresh VictoriaMetrics and yield its URL.

    The file may be Prometheus text or OpenMetrics (``# EOF`` is skipped as a comment);
    timestamps in seconds or milliseconds (see the module docstring). Any line that
    VictoriaMetrics rejects makes this raise RuntimeError. Data goes to ``<workdir>/vm-data``,
    the server log to ``<workdir>/victoria-metrics.log``.
    """
    binary = require_binary("victoria-metrics")
    exposition_file = Path(exposition_file).resolve()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    info = _scan(exposition_file)
    if info.sample_lines == 0:
        raise ValueError(f"{exposition_file}: no samples")
    probe_at: float | None = None
    if info.first_timestamp is not None:
        ts = info.first_timestamp
        probe_at = ts if abs(ts) < _SECONDS_LIMIT else ts / 1000.0
    data_dir = _fresh_dir(workdir / "vm-data")
    log_path = workdir / "victoria-metrics.log"

    def make_cmd(port: int) -> list[str]:
        return [
            binary,
            f"-storageDataPath={data_dir}",
            f"-httpListenAddr=127.0.0.1:{port}",
            # The data is from 2025: the default retention (1 month) would drop it on import.
            "-retentionPeriod=100y",
            # Never cache query results: an early empty answer must not stick.
            "-search.disableCache",
            "-search.latencyOffset=0s",
            "-loggerLevel=INFO",
        ]

    deadline = time.monotonic() + READY_TIMEOUT_S
    with _serve("victoria-metrics", make_cmd, log_path, "/health", deadline) as (base_url, proc):
        before = _vm_counters(base_url)
        with exposition_file.open("rb") as body:
            resp = requests.post(
                f"{base_url}/api/v1/import/prometheus",
                data=body,  # streamed, with Content-Length from the file size
                headers={"Content-Type": "text/plain"},
                timeout=600,
            )
        if resp.status_code != 204:
            raise RuntimeError(
                f"import of {exposition_file} failed: HTTP {resp.status_code}: {resp.text[:2000]}"
            )

        inserted, invalid = _VM_SAMPLE_METRICS

        def all_rows_counted() -> bool:
            now = _vm_counters(base_url)
            done = (now[inserted] - before[inserted]) + (now[invalid] - before[invalid])
            return done >= info.sample_lines

        _poll_until(
            f"{info.sample_lines} imported rows to be counted",
            all_rows_counted,
            proc,
            log_path,
            deadline,
        )
        rejected = _vm_counters(base_url)[invalid] - before[invalid]
        if rejected:
            raise RuntimeError(
                f"VictoriaMetrics rejected {rejected:.0f} line(s) of {exposition_file}.\n"
                f"--- tail of {log_path} ---\n{_log_tail(log_path)}"
            )
        flush = requests.get(f"{base_url}/internal/force_flush", timeout=60)
        flush.raise_for_status()
        _poll_until(
            "imported data to be queryable",
            lambda: _has_result(base_url, 'count({__name__=~".+"})', probe_at),
            proc,
            log_path,
            deadline,
        )
        yield base_url
