"""Phases 3 to 6 from the command line on the simulated week: anomalies, health,
regression, then the retrospective that consumes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import SCENARIO
from .conftest import run_tars as tars


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace the CLI alone filled with the simulated week: GA day, days 1..7."""
    ws = tmp_path_factory.mktemp("week")
    assert tars("ga-kpi", "--scenario", str(SCENARIO), cwd=ws).returncode == 0
    for day in range(1, 8):
        result = tars("stability", "--scenario", str(SCENARIO), "--day-number", str(day), cwd=ws)
        assert result.returncode == 0, result.stderr
    return ws


def test_anomalies_then_retro(week: Path) -> None:
    result = tars(
        "anomalies",
        "--scenario",
        str(SCENARIO),
        "--z-threshold",
        "3.0",
        "--ewma-alpha",
        "0.3",
        cwd=week,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((week / "anomaly_events.json").read_text())
    assert data["parameters"] == {
        "z_threshold": 3.0,
        "ewma_alpha": 0.3,
        "variance_alpha": 0.0003,
        "level_shift_hours": 4.0,
        "max_events_per_day": 20,
    }
    kinds = {(e["metric_name"], e["impact"]) for e in data["events"]}
    assert ("p99_latency_ms", "adverse") in kinds and ("error_rate", "adverse") in kinds
    # the return to baseline ends the event: it is never an "improvement" of its own
    assert not any(impact == "improvement" for _, impact in kinds)
    # the week's file is the union of the days' evidence, each day holding what starts on it
    days = [
        json.loads((week / f"stability/day_0{d}_anomalies.json").read_text()) for d in range(1, 8)
    ]
    assert [e for d in days for e in d["events"]] == data["events"]
    assert all(e["start"][:10] == d["window"]["start"][:10] for d in days for e in d["events"])
    spans = {(i["start"], i["end"]) for i in data["incidents"]}
    assert ("2025-11-20T14:00:00Z", "2025-11-20T16:30:00Z") in spans
    assert "incident(s)" in result.stdout and "Latency spike: P99 latency" in result.stdout
    one_day = tars(
        "anomalies",
        "--scenario",
        str(SCENARIO),
        "--day-number",
        "4",
        "--output-file",
        "day4.json",
        cwd=week,
    )
    assert one_day.returncode == 0, one_day.stderr
    day4 = json.loads((week / "day4.json").read_text())
    assert day4["window"] == {"start": "2025-11-22T00:00:00Z", "end": "2025-11-23T00:00:00Z"}
    assert {e["metric_name"] for e in day4["events"]} >= {"error_rate", "availability"}


def test_regression_then_retro(week: Path) -> None:
    result = tars(
        "regression",
        "--ga-baseline",
        "ga_kpis/ga_kpi_summary.json",
        "--7day-summaries",
        "stability",
        "--output",
        "regression_summary.json",
        cwd=week,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((week / "regression_summary.json").read_text())
    assert data["baselines"] == ["ga_day", "pre_ga_week", "slo_target"]
    assert data["rollback_recommendation"]["verdict"] in ("not_needed", "consider")
    assert "rollback" in result.stdout
    retro = tars("retro", "--auto", cwd=week)
    assert retro.returncode == 0, retro.stderr
    report = json.loads((week / "docs/final/GA_7DAY_RETROSPECTIVE.json").read_text())
    degradations = {(d["day_occurred"], d["category"]) for d in report["degradations"]}
    assert (2, "performance") in degradations and (4, "reliability") in degradations


def test_bad_parameters_are_one_line_errors(week: Path) -> None:
    for args, words in [
        (("--z-threshold", "0"), "--z-threshold 0: must be a positive number (default 3)"),
        (("--ewma-alpha", "1.5"), "--ewma-alpha 1.5: must be in (0, 1]"),
        (("--day-number", "9"), "--day-number 9: the release week has days 1..7"),
        (
            ("--day-number", "2", "--start", "2025-11-20T00:00:00Z"),
            "give --day-number or --start/--end, not both",
        ),
        (
            ("--start", "2025-11-19T06:00:00Z", "--end", "2025-11-20T00:00:00Z"),
            "the workspace keeps anomaly evidence per day (GA + N x 24 h); give whole days, "
            "or --output-file FILE for another span",
        ),
    ]:
        result = tars("anomalies", "--scenario", str(SCENARIO), *args, cwd=week)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    missing = tars("regression", "--ga-baseline", "nope.json", cwd=week)
    assert missing.returncode == 2 and "nope.json: file not found" in missing.stderr
