"""Faults at the metrics backend: bounded retries, then exit 3 with one line, no
partial artifact, and earlier artifacts untouched. Real Prometheus behind a
loopback fault proxy (tests/fault_proxy.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import run_tars as tars
from .fault_proxy import fault_proxy

GA = "2025-11-18T00:00:00Z"


def ga_kpi(url: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return tars(
        "ga-kpi",
        "--prometheus-url",
        url,
        "--ga-timestamp",
        GA,
        "--retries",
        "2",
        "--timeout",
        "1",
        "--concurrency",
        "2",
        "--quiet",
        *extra,
        cwd=cwd,
        env={"TARS_PROMETHEUS_TOKEN": "canary-fault-7"},
    )


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    """A workspace holding an earlier run's artifact, which a failure must not touch."""
    (tmp_path / "ga_kpis").mkdir()
    (tmp_path / "ga_kpis" / "ga_kpi_summary.json").write_text('{"earlier": true}\n')
    return tmp_path


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("status:500", "HTTP 500"),
        ("status:503", "HTTP 503"),
        ("status:429", "HTTP 429"),
        ("slow", "no answer within 1 s"),
        ("truncate", ""),
        ("error-body", "no data.result"),
        ("drop", "connection dropped or reset by the backend"),
    ],
)
def test_fault_exits_3_with_one_line(
    prometheus_url: str, earlier: Path, fault: str, words: str
) -> None:
    with fault_proxy(prometheus_url, fault) as proxy:
        result = ga_kpi(proxy.url, earlier)
        requests = proxy.requests
    assert result.returncode == 3, (fault, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert proxy.url in lines[0] and "query " in lines[0] and words in lines[0]
    assert "Traceback" not in result.stderr and "canary-fault-7" not in result.stderr
    # bounded: at most (1 + retries) tries for each request that ran
    assert requests <= 3 * 40
    assert (earlier / "ga_kpis" / "ga_kpi_summary.json").read_text() == '{"earlier": true}\n'
    assert sorted(p.name for p in (earlier / "ga_kpis").iterdir()) == ["ga_kpi_summary.json"]


def test_backend_dying_mid_collection(prometheus_url: str, earlier: Path) -> None:
    with fault_proxy(prometheus_url, "drop", after=10) as proxy:
        result = ga_kpi(proxy.url, earlier)
    assert result.returncode == 3 and "connection dropped" in result.stderr
    assert (earlier / "ga_kpis" / "ga_kpi_summary.json").read_text() == '{"earlier": true}\n'


def test_transient_503_is_retried_and_succeeds(prometheus_url: str, tmp_path: Path) -> None:
    direct, flaky = tmp_path / "direct", tmp_path / "flaky"
    direct.mkdir()
    flaky.mkdir()
    assert ga_kpi(prometheus_url, direct).returncode == 0
    with fault_proxy(prometheus_url, "flaky-503") as proxy:
        result = ga_kpi(proxy.url, flaky)
        requests, distinct = proxy.requests, len(proxy.seen)
    assert result.returncode == 0, result.stderr
    assert requests >= 2 * distinct  # each distinct request failed once, then was retried
    first = json.loads((direct / "ga_kpis" / "ga_kpi_summary.json").read_text())
    second = json.loads((flaky / "ga_kpis" / "ga_kpi_summary.json").read_text())
    assert first["kpis"] == second["kpis"]


def test_empty_results_are_missing_data_not_zero(prometheus_url: str, tmp_path: Path) -> None:
    with fault_proxy(prometheus_url, "empty") as proxy:
        result = ga_kpi(proxy.url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: no data for availability" in result.stderr
    data = json.loads((tmp_path / "ga_kpis" / "ga_kpi_summary.json").read_text())
    assert all(v["value"] is None for v in data["kpis"].values())
    assert all(s["bad_fraction"] is None for s in data["slos"].values())
