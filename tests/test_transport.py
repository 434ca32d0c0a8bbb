"""The transport to real backends: extra headers, ``partial_response``, backend warnings,
bounded requests (deadline, Retry-After cap, size cap), TLS failures named, identical
queries sent once, and the orjson parse against the plain one.

Real Prometheus and VictoriaMetrics wherever they can show the behaviour; the loopback
fault proxy (tests/fault_proxy.py) in front of real Prometheus for faults they cannot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import requests

from tars_lib.collect.collector import build_ga_summary, collect_window, window_queries
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.errors import InputError, SettingError, SourceError
from tars_lib.sources.base import RangeQuery, SourceWarning
from tars_lib.sources.prometheus import (
    PrometheusSource,
    credentials_from_env,
    parse_headers,
    parse_matrix,
)
from tars_lib.sources.spec import SourceSpec
from testsupport.servers import require_binary, victoria_metrics_from_text

from .conftest import run_tars
from .fault_proxy import fault_proxy
from .test_prometheus_unit import EMPTY, backend

GA = datetime(2025, 11, 18, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
GA_TEXT = "2025-11-18T00:00:00Z"
TENANT = {"TARS_PROMETHEUS_HEADERS": "X-Scope-OrgID: tenant-a; X-Canary: hdr-7f3e-secret"}


@pytest.fixture(scope="module")
def victoria_url(
    scenario_openmetrics: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    require_binary("victoria-metrics")
    with victoria_metrics_from_text(scenario_openmetrics, tmp_path_factory.mktemp("vm")) as url:
        yield url


def source(url: str, env: dict[str, str] | None = None, **kw: object) -> PrometheusSource:
    return PrometheusSource(url, credentials=credentials_from_env(env or {}), **kw)  # type: ignore[arg-type]


def kpi_values(src: PrometheusSource, catalogue: Catalogue) -> dict[str, float | None]:
    return {k: v.value for k, v in build_ga_summary(src, catalogue, GA, NOW).kpis.items()}


# --------------------------------------------------------------------------- headers


def test_headers_syntax() -> None:
    assert parse_headers("X-Scope-OrgID: tenant-a;X-B:  two words \n\n X-C: c:d") == (
        ("X-Scope-OrgID", "tenant-a"),
        ("X-B", "two words"),
        ("X-C", "c:d"),
    )
    assert parse_headers("") == ()
    for bad in ("X-Scope-OrgID tenant-secret-1", "Bad Name: secret-2", "X-A:", "Host: x"):
        with pytest.raises(InputError) as refused:
            credentials_from_env({"TARS_PROMETHEUS_HEADERS": bad})
        message = str(refused.value)
        assert message.startswith("TARS_PROMETHEUS_HEADERS: entry 1")
        assert "secret" not in message and "\n" not in message
    with pytest.raises(InputError, match="sets Authorization"):
        credentials_from_env(
            {"TARS_PROMETHEUS_HEADERS": "Authorization: x", "TARS_PROMETHEUS_TOKEN": "t"}
        )
    assert "hdr-7f3e" not in repr(credentials_from_env(TENANT))


def test_bad_headers_variable_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_tars(
        "ga-kpi", "--prometheus-url", "http://127.0.0.1:9", "--ga-timestamp", GA_TEXT,
        cwd=tmp_path, env={"TARS_PROMETHEUS_HEADERS": "X-Scope-OrgID tenant-zz9"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "TARS_PROMETHEUS_HEADERS: entry 1" in result.stderr
    assert "tenant-zz9" not in result.stderr


@pytest.mark.parametrize("backend_url", ["prometheus_url", "victoria_url"])
def test_headers_and_partial_response_reach_the_backend_and_change_nothing(
    backend_url: str, request: pytest.FixtureRequest, catalogue: Catalogue
) -> None:
    """Through a recording proxy: every request carries the headers and
    ``partial_response=false``; the numbers equal a direct collection without either."""
    url = request.getfixturevalue(backend_url)
    plain = kpi_values(source(url, partial_response=True), catalogue)
    with fault_proxy(url, "none") as proxy:
        dressed = kpi_values(source(proxy.url, TENANT), catalogue)
    assert proxy.requests > 0
    assert all(h.get("X-Scope-OrgID") == "tenant-a" for h in proxy.headers)
    assert all(h.get("X-Canary") == "hdr-7f3e-secret" for h in proxy.headers)
    assert all("partial_response=false" in path for path in proxy.paths)
    assert plain == dressed
    assert plain["availability"] is not None and plain["p99_latency_ms"] is not None


def test_partial_response_is_not_sent_when_allowed(prometheus_url: str) -> None:
    query = RangeQuery("k/c", "sum(up)", GA, GA + timedelta(hours=1), 300)
    with fault_proxy(prometheus_url, "none") as proxy:
        source(proxy.url, partial_response=True).fetch([query])
    assert proxy.paths and not any("partial_response" in p for p in proxy.paths)


def test_a_header_value_echoed_by_the_backend_is_scrubbed() -> None:
    body = json.dumps({"status": "error", "error": "tenant hdr-7f3e-secret unknown"}).encode()
    with backend(lambda _: (400, body)) as (url, seen), pytest.raises(SourceError) as failure:
        source(url, TENANT, retries=0).fetch(
            [RangeQuery("k/c", "sum(up)", GA, GA + timedelta(hours=1), 300)]
        )
    assert seen[0]["X-Canary"] == "hdr-7f3e-secret"
    assert "hdr-7f3e-secret" not in str(failure.value) and "tenant *** unknown" in str(
        failure.value
    )


# --------------------------------------------------------------------------- warnings


def test_backend_warnings_are_carried_and_warned_once_per_kpi(
    prometheus_url: str, catalogue: Catalogue
) -> None:
    start, end = GA, GA + timedelta(days=1)
    queries = window_queries(catalogue, start, end)
    with fault_proxy(prometheus_url, "warnings") as proxy, pytest.warns(SourceWarning) as caught:
        answers = source(proxy.url).fetch(queries)
    warned = {k: s.warnings for k, s in answers.items() if s.warnings}
    assert set(warned) == {"redis_hit_rate/numerator", "redis_hit_rate/denominator"}
    assert all(w == (proxy.warning,) for w in warned.values())
    ours = [w.message for w in caught.list if isinstance(w.message, SourceWarning)]
    assert len(ours) == 1 and ours[0].kpi == "redis_hit_rate"
    assert "the backend warned about redis_hit_rate" in str(ours[0])
    assert "partial response: store 10.0.0.7:10901 unavailable" in str(ours[0])


def test_backend_warnings_cli_one_line_exit_0(prometheus_url: str, tmp_path: Path) -> None:
    with fault_proxy(prometheus_url, "warnings") as proxy:
        result = run_tars(
            "ga-kpi", "--prometheus-url", proxy.url, "--ga-timestamp", GA_TEXT, "--quiet",
            cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "backend warned" in line]
    assert lines == [
        f"tars: warning: {proxy.url}: the backend warned about redis_hit_rate (query "
        "redis_hit_rate/numerator): partial response: store 10.0.0.7:10901 unavailable"
    ]


# --------------------------------------------------------------------------- bounded requests


def ga_kpi(url: str, cwd: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    result = run_tars(
        "ga-kpi", "--prometheus-url", url, "--ga-timestamp", GA_TEXT, "--quiet", *extra,
        cwd=cwd,
    )  # fmt: skip
    return result, time.monotonic() - t0


@pytest.mark.parametrize("retries", [0, 1])
def test_trickling_backend_is_cut_at_the_deadline(
    prometheus_url: str, tmp_path: Path, retries: int
) -> None:
    """One byte a second: each attempt ends at --timeout, the whole run within
    timeout x (retries + 1) + backoff + slack (it ran past 90 s before)."""
    with fault_proxy(prometheus_url, "trickle") as proxy:
        result, seconds = ga_kpi(
            proxy.url, tmp_path, "--timeout", "2", "--retries", str(retries), "--concurrency", "1"
        )
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no complete answer within 2 s" in lines[0], lines
    assert seconds < 2 * (retries + 1) + 0.5 * retries + 6, seconds
    # the failing request's attempts, and at most the next queued one (cut when it failed)
    assert retries + 1 <= proxy.requests <= retries + 2


def test_retry_after_is_capped(prometheus_url: str, catalogue: Catalogue) -> None:
    """``Retry-After: 86400`` on the first answer: waited ``max_retry_after`` (1 s), not a day."""
    with fault_proxy(prometheus_url, "retry-after") as proxy:
        t0 = time.monotonic()
        capped = kpi_values(source(proxy.url, max_retry_after=1.0, concurrency=1), catalogue)
        seconds = time.monotonic() - t0
    assert 1.0 <= seconds < 15, seconds
    assert capped == kpi_values(source(prometheus_url), catalogue)
    week_before = window_queries(catalogue, GA - timedelta(days=7), GA)
    day = window_queries(catalogue, GA, GA + timedelta(days=1))
    distinct = len({q.promql for q in day}) + len({q.promql for q in week_before})
    assert proxy.requests == 1 + distinct  # the one 429, then each distinct query once


def test_retry_after_cap_from_the_cli(prometheus_url: str, tmp_path: Path) -> None:
    with fault_proxy(prometheus_url, "retry-after") as proxy:
        result, seconds = ga_kpi(proxy.url, tmp_path, "--max-retry-after", "1")
    assert result.returncode == 0, result.stderr
    assert seconds < 30, seconds


@pytest.mark.parametrize("with_length", [True, False])
def test_oversized_answer_is_exit_3_naming_query_and_size(
    prometheus_url: str, tmp_path: Path, with_length: bool
) -> None:
    """A 512 MiB answer with an 8 MiB cap: one line naming the query and the size, and the
    process's peak memory far below the answer (it stops reading at the cap)."""
    cap = 8 * 1024 * 1024
    script = (
        "import sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from tars_lib.core.errors import SourceError\n"
        "from tars_lib.sources.base import RangeQuery\n"
        "from tars_lib.sources.prometheus import PrometheusSource, credentials_from_env\n"
        "t = datetime(2025, 11, 18, tzinfo=UTC)\n"
        "q = RangeQuery('raw/buckets', 'http_request_duration_seconds_bucket', t, "
        "t + timedelta(days=1), 60)\n"
        f"src = PrometheusSource(sys.argv[1], credentials=credentials_from_env({{}}), "
        f"max_response_bytes={cap}, retries=0)\n"
        "try:\n    src.fetch([q])\nexcept SourceError as e:\n    print(e)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent
        # (a pytest process hundreds of MB large after the whole suite), VmHWM is this
        # program's own peak since exec.
        "print(next(line.split()[1] for line in open('/proc/self/status') "
        "if line.startswith('VmHWM:')))\n"
    )
    with fault_proxy(
        prometheus_url, "huge", huge_bytes=512 * 1024 * 1024, huge_length=with_length
    ) as proxy:
        done = subprocess.run(
            [sys.executable, "-c", script, proxy.url],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    message, peak_kib = done.stdout.strip().splitlines()
    assert "query raw/buckets: http_request_duration_seconds_bucket" in message
    assert f"over the {cap:,}-byte cap (--max-response-bytes)" in message
    if with_length:
        assert "answer is 536,870," in message  # the Content-Length, refused before reading
    else:
        assert f"answer is more than {cap:,} bytes" in message
    assert int(peak_kib) < 400 * 1024, peak_kib  # KiB: well under the 512 MiB answer


def test_oversized_answer_cli(prometheus_url: str, tmp_path: Path) -> None:
    with fault_proxy(prometheus_url, "huge", huge_bytes=4 * 1024 * 1024) as proxy:
        result, _ = ga_kpi(proxy.url, tmp_path, "--max-response-bytes", "1048576")
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bytes, over the 1,048,576-byte cap" in lines[0], lines
    assert "(query " in lines[0]


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--max-retry-after", "-1", "--max-retry-after -1: must be 0 or more seconds"),
        ("--max-response-bytes", "10", "--max-response-bytes 10: must be a whole number"),
    ],
)
def test_limit_settings_are_checked(tmp_path: Path, flag: str, value: str, words: str) -> None:
    result = run_tars(
        "ga-kpi", "--prometheus-url", "http://127.0.0.1:9", "--ga-timestamp", GA_TEXT,
        flag, value, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and words in result.stderr, result.stderr
    with pytest.raises(SettingError):
        SourceSpec(prometheus_url="http://x:9", max_retry_after=float("inf"))


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found: cannot make a certificate for the TLS test")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return folder


def test_self_signed_certificate_is_named_not_retried(self_signed: Path, tmp_path: Path) -> None:
    with backend(lambda _: (200, EMPTY), tls=self_signed) as (url, seen):
        result, seconds = ga_kpi(url, tmp_path, "--retries", "3")
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"certificate verify failed for {url}: self-signed certificate; set " in lines[0]
    assert "TARS_PROMETHEUS_CA_BUNDLE" in lines[0] and "not retried" in lines[0]
    assert "dropped" not in lines[0] and seen == []
    assert seconds < 15
    # and with the certificate as the CA bundle, the same server is trusted
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    env = {"TARS_PROMETHEUS_CA_BUNDLE": str(self_signed / "cert.pem")}
    with backend(lambda _: (200, EMPTY), tls=self_signed) as (url, seen):
        ok = run_tars(
            "ga-kpi", "--prometheus-url", url, "--ga-timestamp", GA_TEXT, "--quiet",
            cwd=trusted, env=env,
        )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert len(seen) > 0


# --------------------------------------------------------------------------- duplicates


def test_identical_queries_are_sent_once(prometheus_url: str, catalogue: Catalogue) -> None:
    start, end = GA, GA + timedelta(days=1)
    queries = window_queries(catalogue, start, end)
    distinct = {q.promql for q in queries}
    assert len(distinct) < len(queries)  # the latency buckets, once per quantile
    calls: list[int] = []
    with fault_proxy(prometheus_url, "none") as proxy:
        windows = collect_window(source(proxy.url), catalogue, start, end, calls.append)
    assert proxy.requests == len(distinct)
    assert sum(calls) == len(queries)  # the progress bar still reaches its total
    direct = collect_window(source(prometheus_url), catalogue, start, end)
    assert {k: w.value for k, w in windows.items()} == {k: w.value for k, w in direct.items()}


# --------------------------------------------------------------------------- parsing


def _plain_parse(body: bytes) -> dict[tuple[tuple[str, str], ...], tuple[list[float], ...]]:
    """The parse before orjson: stdlib json, one ``float()`` per value."""
    out: dict[tuple[tuple[str, str], ...], tuple[list[float], ...]] = {}
    for item in json.loads(body)["data"]["result"]:
        key = tuple(sorted(item["metric"].items()))
        out[key] = ([float(v[0]) for v in item["values"]], [float(v[1]) for v in item["values"]])
    return out


@pytest.mark.parametrize("backend_url", ["prometheus_url", "victoria_url"])
def test_orjson_parse_equals_the_plain_parse_on_real_answers(
    backend_url: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(backend_url)
    start = int(GA.timestamp())
    checked = 0
    for promql in (
        'http_request_duration_seconds_bucket{job="api"}',
        'rate(http_requests_total{job="api"}[5m]) / 0',  # +Inf, and NaN where the rate is 0
        '-rate(http_requests_total{job="api"}[5m]) / 0',  # -Inf
        'http_requests_total{job="api"} * 1.000001e-3',
    ):
        params = {"query": promql, "start": start, "end": start + 86400, "step": 60}
        body = requests.get(f"{url}/api/v1/query_range", params=params, timeout=60).content
        plain = _plain_parse(body)
        answer = parse_matrix(body)
        assert len(answer.rows) == len(plain) > 0
        for labels, stamps, numbers in answer.rows:
            want_t, want_v = plain[labels]
            np.testing.assert_array_equal(stamps, np.array(want_t))
            np.testing.assert_array_equal(numbers, np.array(want_v))  # NaN == NaN here
            checked += len(numbers)
    assert checked > 10_000
