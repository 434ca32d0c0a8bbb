"""Tests for tests/servers.py: real Prometheus / VictoriaMetrics on loopback, exact answers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from testsupport.servers import (
    free_port,
    prometheus_from_openmetrics,
    require_binary,
    victoria_metrics_from_text,
)

T0 = 1762819200  # 2025-11-11T00:00:00Z, a multiple of 300
SAMPLE_STEP = 60
N_SAMPLES = 2 * 24 * 60  # two days, one sample a minute
QUERY_STEP = 300
T_LAST = T0 + (N_SAMPLES - 1) * SAMPLE_STEP

Backend = Callable[[Path, Path], contextlib.AbstractContextManager[str]]
BACKENDS: dict[str, Backend] = {
    "prometheus": prometheus_from_openmetrics,
    "victoria-metrics": victoria_metrics_from_text,
}


def _counters() -> dict[str, list[int]]:
    """Cumulative counters per ``code`` label, one value per sample."""
    values: dict[str, list[int]] = {"200": [], "500": []}
    ok = err = 0
    for i in range(N_SAMPLES):
        ok += 10 + i % 7
        err += i % 3
        values["200"].append(ok)
        values["500"].append(err)
    return values


def _gauge(i: int) -> int:
    return 8 * 1024**3 + (i % 10) * 4096


def _write_openmetrics(path: Path) -> None:
    """Three series, OpenMetrics text, timestamps in seconds, as tests/servers.py documents."""
    lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter"]
    for code, values in _counters().items():
        labels = f'{{job="api",code="{code}"}}'
        lines += [
            f"http_requests_total{labels} {v} {T0 + i * SAMPLE_STEP}" for i, v in enumerate(values)
        ]
    lines.append("# TYPE node_memory_MemTotal_bytes gauge")
    lines += [
        f'node_memory_MemTotal_bytes{{job="api"}} {_gauge(i)} {T0 + i * SAMPLE_STEP}'
        for i in range(N_SAMPLES)
    ]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _query_range(base_url: str, query: str, start: int, end: int) -> list[tuple[int, float]]:
    params: dict[str, str | int] = {"query": query, "start": start, "end": end, "step": QUERY_STEP}
    resp = requests.get(f"{base_url}/api/v1/query_range", params=params, timeout=30)
    resp.raise_for_status()
    body: dict[str, Any] = resp.json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    assert len(result) == 1, result
    return [(int(float(ts)), float(value)) for ts, value in result[0]["values"]]


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    name: str = request.param
    workdir = tmp_path_factory.mktemp(name)
    data_file = workdir / "metrics.om"
    _write_openmetrics(data_file)
    with BACKENDS[name](data_file, workdir) as base_url:
        yield base_url


def test_increase_over_5m_is_the_exact_counter_difference(server: str) -> None:
    # Starts one step in: at T0 Prometheus has no point and VictoriaMetrics a made-up one.
    got = _query_range(
        server, 'sum(increase(http_requests_total{job="api"}[5m]))', T0 + 300, T_LAST
    )
    counters = _counters()
    expected = []
    for t in range(T0 + 300, T_LAST + 1, QUERY_STEP):
        i = (t - T0) // SAMPLE_STEP
        j = i - QUERY_STEP // SAMPLE_STEP
        expected.append((t, float(sum(v[i] - v[j] for v in counters.values()))))
    assert len(expected) == 575
    assert got == expected


def test_raw_gauge_values_come_back_unchanged(server: str) -> None:
    got = _query_range(server, 'node_memory_MemTotal_bytes{job="api"}', T0, T_LAST)
    expected = [
        (t, float(_gauge((t - T0) // SAMPLE_STEP))) for t in range(T0, T_LAST + 1, QUERY_STEP)
    ]
    assert got == expected


def test_victoria_metrics_import_fails_loudly_on_an_invalid_line(tmp_path: Path) -> None:
    data_file = tmp_path / "bad.prom"
    data_file.write_text(f'ok{{job="api"}} 1 {T0}\nbad{{job=api}} 2 {T0}\n', encoding="utf-8")
    with (
        pytest.raises(RuntimeError, match="rejected 1 line"),
        victoria_metrics_from_text(data_file, tmp_path / "vm"),
    ):
        pass  # pragma: no cover - the import must fail before the server is yielded


def test_prometheus_refuses_millisecond_timestamps(tmp_path: Path) -> None:
    data_file = tmp_path / "ms.om"
    data_file.write_text(f'up{{job="api"}} 1 {T0 * 1000}\n# EOF\n', encoding="utf-8")
    with (
        pytest.raises(ValueError, match="milliseconds"),
        prometheus_from_openmetrics(data_file, tmp_path / "prom"),
    ):
        pass  # pragma: no cover


def test_require_binary_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = f"no-such-binary-{free_port()}"
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require_binary(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_binary(missing)
    assert Path(require_binary("sh")).is_file()
