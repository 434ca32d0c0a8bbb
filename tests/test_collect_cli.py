"""tars ga-kpi and tars stability as a user runs them: files, messages, exit statuses."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from .conftest import SCENARIO
from .conftest import run_tars as run

CANARY = "canary-token-7f3a9e"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_scenario_week_end_to_end(tmp_path: Path) -> None:
    ga = run("ga-kpi", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path)
    assert ga.returncode == 0, ga.stderr
    assert "with the pre-GA week baseline" in ga.stdout
    day = run("stability", "--scenario", str(SCENARIO), "--day-number", "2", cwd=tmp_path)
    assert day.returncode == 0, day.stderr
    assert "SLO breached: P99 Latency" in day.stdout
    data = json.loads((tmp_path / "stability" / "day_02_summary.json").read_text())
    assert data["day_number"] == 2 and data["slos"]["p99_latency"]["bad_fraction"] > 0.01
    first = (tmp_path / "stability" / "day_02_summary.json").read_text()
    again = run("stability", "--scenario", str(SCENARIO), "--day-number", "2", cwd=tmp_path)
    assert again.returncode == 0
    second = (tmp_path / "stability" / "day_02_summary.json").read_text()
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "generated_at"}  # noqa: E731
    assert strip(first) == strip(second)
    assert not [p for p in (tmp_path / "stability").iterdir() if p.name.startswith(".")]


def test_no_source_says_what_to_pass(tmp_path: Path) -> None:
    result = run("ga-kpi", cwd=tmp_path)
    assert result.returncode == 2
    assert "--prometheus-url" in result.stderr and "--scenario" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_backend_down_exits_3_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "ga_kpis"
    out.mkdir()
    (out / "ga_kpi_summary.json").write_text("earlier run\n")
    port = closed_port()
    flags = ("--ga-timestamp", "2025-11-18T00:00:00Z", "--retries", "1", "--timeout", "2")
    # credentials in the URL, then from the environment (both together are refused)
    for url, env in (
        (f"http://alice:s3cret@127.0.0.1:{port}", None),
        (f"http://127.0.0.1:{port}", {"TARS_PROMETHEUS_TOKEN": CANARY}),
    ):
        result = run("ga-kpi", "--prometheus-url", url, *flags, cwd=tmp_path, env=env)
        assert result.returncode == 3
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "connection refused (is the backend running?)" in lines[0]
        assert ("http://***@127.0.0.1:" if "@" in url else url) in lines[0]
        assert "query " in lines[0] and "increase(" in lines[0]
        assert "s3cret" not in result.stderr + result.stdout
        assert CANARY not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert (out / "ga_kpi_summary.json").read_text() == "earlier run\n"
    assert sorted(p.name for p in out.iterdir()) == ["ga_kpi_summary.json"]


def test_prometheus_needs_a_ga_timestamp(tmp_path: Path) -> None:
    result = run("ga-kpi", "--prometheus-url", "http://127.0.0.1:9", cwd=tmp_path)
    assert result.returncode == 2 and "--ga-timestamp is required" in result.stderr
    bad = run(
        "ga-kpi",
        "--prometheus-url",
        "http://127.0.0.1:9",
        "--ga-timestamp",
        "2025-11-18T00:00:00",
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "needs a time zone" in bad.stderr


def test_stability_without_baseline_names_the_file(tmp_path: Path) -> None:
    result = run("stability", "--scenario", str(SCENARIO), "--day-number", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "ga_kpis/ga_kpi_summary.json: file not found" in result.stderr


def test_scenario_export_writes_openmetrics(tmp_path: Path) -> None:
    out = tmp_path / "week.om"
    result = run(
        "scenario", "export", "--scenario", str(SCENARIO), "--output", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.endswith("# EOF\n")
    assert "# TYPE http_requests counter\n" in text
    series = {line.rsplit(" ", 2)[0] for line in text.splitlines() if not line.startswith("#")}
    assert len(series) == int(result.stdout.split(": ")[1].split()[0])
