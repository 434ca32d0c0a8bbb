"""tars retro and tars schema as a user runs them: the installed command, in a fresh directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from .conftest import TEST_DATA

TARS = str(Path(sys.executable).with_name("tars"))
DEFAULT_MD = Path("docs/final/GA_7DAY_RETROSPECTIVE.md")
DEFAULT_JSON = Path("docs/final/GA_7DAY_RETROSPECTIVE.json")

# The keys of the seed guide's "JSON Retrospective Structure" example, in its order.
SEED_TOP = [
    "generation_timestamp",
    "ga_day_timestamp",
    "seven_day_end_timestamp",
    "successes",
    "degradations",
    "unexpected_drifts",
    "cost_analysis",
    "slo_burn_downs",
    "recommendations_v1_0_2",
    "process_improvements",
    "action_items",
]
EXTENSIONS = [
    "incidents",
    "explained_changes",
    "timeline",
    "partial_days",
    "release",
    "recommendations_next",
]
"""Keys this project adds after the seed's (issue 11), never between them."""
SEED_SUCCESS = [
    "category",
    "description",
    "metric_name",
    "target_value",
    "actual_value",
    "achievement_percent",
]
SEED_DEGRADATION = [
    "day_occurred",
    "category",
    "description",
    "severity",
    "impact",
    "resolution_status",
    "resolution_details",
]
SEED_DRIFT = [
    "metric_name",
    "baseline_value",
    "final_value",
    "drift_percent",
    "trend",
    "potential_causes",
    "investigation_needed",
]
SEED_COST = [
    "ga_day_cost",
    "seven_day_total_cost",
    "daily_average_cost",
    "cost_trend",
    "cost_breakdown",
    "cost_optimization_recommendations",
]
SEED_BREAKDOWN = ["compute", "storage", "network", "other"]
SEED_SLO = [
    "slo_name",
    "target",
    "budget",
    "budget_consumed_percent",
    "days_to_exhaustion",
    "compliance_by_day",
]
SEED_DAY = ["day", "value", "compliant", "budget_consumed"]
SEED_ACTION = ["priority", "description", "status"]
SCHEMA_NAMES = [
    "anomaly_events",
    "day_summary",
    "ga_kpi_summary",
    "health_report",
    "regression_summary",
    "retrospective",
]


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TARS_DEBUG"}
    return subprocess.run(
        [TARS, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        check=False,
        env=env,
        timeout=120,
    )


def copy_data(dest: Path) -> Path:
    shutil.copytree(TEST_DATA, dest)
    return dest


def explicit_flags(data: Path) -> list[str | Path]:
    return [
        "--ga-data",
        data / "ga_kpis",
        "--7day-data",
        data / "stability",
        "--regression",
        data / "regression" / "regression_summary.json",
        "--anomalies",
        data / "anomalies" / "anomaly_events.json",
    ]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = load(path)
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def without_generation_timestamp(text: str) -> list[str]:
    lines = text.splitlines()
    kept = [line for line in lines if not line.startswith('  "generation_timestamp": ')]
    assert len(kept) == len(lines) - 1
    return kept


# --------------------------------------------------------------------------- tars retro


def test_retro_with_flags_writes_markdown_and_json(tmp_path: Path) -> None:
    out_dir = Path("reports") / "2025" / "week 47"
    before = datetime.now(UTC).replace(microsecond=0)
    result = run(
        "retro", *explicit_flags(TEST_DATA), "--output", out_dir / "retro.md", cwd=tmp_path
    )
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    md, js = tmp_path / out_dir / "retro.md", tmp_path / out_dir / "retro.json"
    assert sorted(p.name for p in md.parent.iterdir()) == ["retro.json", "retro.md"]
    data = load(js)
    assert result.stdout.startswith(f"Wrote {out_dir / 'retro.md'} and {out_dir / 'retro.json'}: ")
    assert f"{len(data['successes'])} successes" in result.stdout
    assert f"{len(data['degradations'])} degradations" in result.stdout
    assert md.read_text(encoding="utf-8").startswith("#")
    generated = datetime.fromisoformat(data["generation_timestamp"].replace("Z", "+00:00"))
    assert before <= generated <= after
    assert data["ga_day_timestamp"] == "2025-11-18T00:00:00Z"


def test_retro_json_matches_schema_and_seed_keys(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    assert run("schema", "--output-dir", schemas, cwd=tmp_path).returncode == 0
    result = run("retro", *explicit_flags(TEST_DATA), "--output", "out/retro.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = load(tmp_path / "out" / "retro.json")
    validator = Draft202012Validator(load(schemas / "retrospective.schema.json"))
    assert list(validator.iter_errors(data)) == []
    assert not validator.is_valid({**data, "extra": 1})
    assert not validator.is_valid({k: v for k, v in data.items() if k != "successes"})

    assert list(data) == SEED_TOP + EXTENSIONS
    for key, expected in [
        ("successes", SEED_SUCCESS),
        ("degradations", SEED_DEGRADATION),
        ("unexpected_drifts", SEED_DRIFT),
        ("slo_burn_downs", SEED_SLO),
        ("action_items", SEED_ACTION),
    ]:
        assert data[key], f"the test week should give some {key}"
        assert [list(item) for item in data[key]] == [expected] * len(data[key])
    assert list(data["cost_analysis"]) == SEED_COST
    assert list(data["cost_analysis"]["cost_breakdown"]) == SEED_BREAKDOWN
    for slo in data["slo_burn_downs"]:
        assert [list(day) for day in slo["compliance_by_day"]] == [SEED_DAY] * 8
        assert [day["day"] for day in slo["compliance_by_day"]] == list(range(8))
    assert all(isinstance(text, str) for text in data["recommendations_v1_0_2"])
    assert all(isinstance(text, str) for text in data["process_improvements"])
    assert {slo["slo_name"] for slo in data["slo_burn_downs"]} == {
        "Availability",
        "P99 Latency",
        "Error Rate",
    }


def test_retro_auto_uses_the_seed_layout(tmp_path: Path) -> None:
    work = tmp_path / "release"
    work.mkdir()
    shutil.copytree(TEST_DATA / "ga_kpis", work / "ga_kpis")
    shutil.copytree(TEST_DATA / "stability", work / "stability")
    shutil.copy(TEST_DATA / "regression" / "regression_summary.json", work)
    shutil.copy(TEST_DATA / "anomalies" / "anomaly_events.json", work)
    result = run("retro", "--auto", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Wrote {DEFAULT_MD} and {DEFAULT_JSON}: ")
    assert sorted(p.name for p in (work / "docs" / "final").iterdir()) == [
        "GA_7DAY_RETROSPECTIVE.json",
        "GA_7DAY_RETROSPECTIVE.md",
    ]
    auto_json = (work / DEFAULT_JSON).read_text(encoding="utf-8")
    explicit = run("retro", *explicit_flags(TEST_DATA), "--output", "x/r.md", cwd=tmp_path)
    assert explicit.returncode == 0, explicit.stderr
    # the regression summary and anomaly events were found: same result as naming them
    assert without_generation_timestamp(auto_json) == without_generation_timestamp(
        (tmp_path / "x" / "r.json").read_text(encoding="utf-8")
    )


@pytest.mark.parametrize("how", ["flags", "auto"])
def test_missing_ga_summary_says_run_phase_1(tmp_path: Path, how: str) -> None:
    data = copy_data(tmp_path / "data")
    (data / "ga_kpis" / "ga_kpi_summary.json").unlink()
    if how == "auto":
        shutil.move(data / "ga_kpis", tmp_path / "ga_kpis")
        shutil.move(data / "stability", tmp_path / "stability")
        result = run("retro", "--auto", cwd=tmp_path)
        looked = Path("ga_kpis") / "ga_kpi_summary.json"
    else:
        result = run("retro", *explicit_flags(data), cwd=tmp_path)
        looked = data / "ga_kpis" / "ga_kpi_summary.json"
    line = one_error_line(result)
    assert line.startswith("tars retro: error: ga_kpi_summary.json not found")
    assert f"looked for {looked}" in line
    assert "tars ga-kpi" in line
    assert not (tmp_path / "docs").exists()


def _string_for_number(data: Path) -> tuple[list[str | Path], list[str]]:
    day = data / "stability" / "day_02_summary.json"
    edit_json(day, lambda d: d["kpis"]["availability"].update(value="n/a"))
    return explicit_flags(data), [f"{day}: kpis.availability.value: ", "valid number"]


def _truncated_json(data: Path) -> tuple[list[str | Path], list[str]]:
    day = data / "stability" / "day_04_summary.json"
    day.write_text(day.read_text(encoding="utf-8")[:500], encoding="utf-8")
    return explicit_flags(data), [f"{day}: invalid JSON at line ", " column "]


def _day_number_mismatch(data: Path) -> tuple[list[str | Path], list[str]]:
    day = data / "stability" / "day_03_summary.json"
    shutil.copy(data / "stability" / "day_04_summary.json", day)
    return explicit_flags(data), [f"{day}: day_number: is 4 but the file name says day 3"]


def _day_nine(data: Path) -> tuple[list[str | Path], list[str]]:
    day = data / "stability" / "day_09_summary.json"
    shutil.copy(data / "stability" / "day_07_summary.json", day)
    return explicit_flags(data), [f"{day}: day 9 is outside the release week (days 1..7)"]


def _other_release(data: Path) -> tuple[list[str | Path], list[str]]:
    ga = data / "ga_kpis" / "ga_kpi_summary.json"

    def earlier(d: dict[str, Any]) -> None:
        d["ga_timestamp"] = "2025-11-17T00:00:00Z"
        d["window"] = {"start": "2025-11-17T00:00:00Z", "end": "2025-11-18T00:00:00Z"}

    edit_json(ga, earlier)
    day = data / "stability" / "day_01_summary.json"
    return explicit_flags(data), [
        f"{day}: ga_timestamp: 2025-11-18T00:00:00Z differs from 2025-11-17T00:00:00Z in {ga}"
    ]


def _unknown_kpi(data: Path) -> tuple[list[str | Path], list[str]]:
    day = data / "stability" / "day_06_summary.json"
    edit_json(day, lambda d: d["kpis"].update(queue_depth={"value": 3.0, "unit": "jobs"}))
    return explicit_flags(data), [f"{day}: kpis.queue_depth: unknown KPI"]


def _bad_regression_field(data: Path) -> tuple[list[str | Path], list[str]]:
    path = data / "regression" / "regression_summary.json"
    edit_json(path, lambda d: d.update(regressions="none"))
    return explicit_flags(data), [f"{path}: regressions: "]


def _regression_missing(data: Path) -> tuple[list[str | Path], list[str]]:
    flags = explicit_flags(data)
    missing = data / "regression" / "nope.json"
    flags[5] = missing
    return flags, [f"{missing}: file not found (given as --regression)"]


def _regression_directory(data: Path) -> tuple[list[str | Path], list[str]]:
    flags = explicit_flags(data)
    flags[5] = data / "regression"
    return flags, [f"{data / 'regression'}: is a directory (given as --regression)"]


def _no_flags(data: Path) -> tuple[list[str | Path], list[str]]:
    return [], ["tars retro: error: ", "--auto", "--ga-data DIR and --7day-data DIR"]


def _unknown_flag(data: Path) -> tuple[list[str | Path], list[str]]:
    return ["--auto", "--bogus"], ["tars: error: unrecognized arguments: --bogus"]


@pytest.mark.parametrize(
    "case",
    [
        _string_for_number,
        _truncated_json,
        _day_number_mismatch,
        _day_nine,
        _other_release,
        _unknown_kpi,
        _bad_regression_field,
        _regression_missing,
        _regression_directory,
        _no_flags,
        _unknown_flag,
    ],
    ids=lambda case: case.__name__.strip("_"),
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, case: Callable[[Path], tuple[list[str | Path], list[str]]]
) -> None:
    data = copy_data(tmp_path / "data")
    flags, expected = case(data)
    old_md, old_json = b"# last week's retro\n", b'{"old": true}\n'
    (tmp_path / DEFAULT_MD).parent.mkdir(parents=True)
    (tmp_path / DEFAULT_MD).write_bytes(old_md)
    (tmp_path / DEFAULT_JSON).write_bytes(old_json)
    line = one_error_line(run("retro", *flags, cwd=tmp_path))
    for fragment in expected:
        assert fragment in line
    assert (tmp_path / DEFAULT_MD).read_bytes() == old_md
    assert (tmp_path / DEFAULT_JSON).read_bytes() == old_json
    assert sorted(p.name for p in (tmp_path / "docs" / "final").iterdir()) == [
        "GA_7DAY_RETROSPECTIVE.json",
        "GA_7DAY_RETROSPECTIVE.md",
    ]


def test_missing_days_are_named_and_null(tmp_path: Path) -> None:
    data = copy_data(tmp_path / "data")
    (data / "stability" / "day_05_summary.json").unlink()
    (data / "stability" / "day_06_summary.json").unlink()
    result = run("retro", *explicit_flags(data), "--output", "out/retro.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / "out" / "retro.md").read_text(encoding="utf-8")
    assert "no daily summary for Day(s) 5, 6" in markdown
    retro = load(tmp_path / "out" / "retro.json")
    assert len(retro["slo_burn_downs"]) == 3
    for slo in retro["slo_burn_downs"]:
        by_day = {entry["day"]: entry for entry in slo["compliance_by_day"]}
        assert sorted(by_day) == list(range(8))
        assert [by_day[d]["value"] for d in (5, 6)] == [None, None]
        assert [by_day[d]["compliant"] for d in (5, 6)] == [None, None]
        assert all(by_day[d]["value"] is not None for d in (0, 1, 2, 3, 4, 7))


def test_paths_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    data = copy_data(tmp_path / "release wëek" / "données 2025")
    output = tmp_path / "sortie wëek" / "rétro 47 — final.md"
    result = run("retro", *explicit_flags(data), "--output", output, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Wrote {output} and {output.with_suffix('.json')}: ")
    assert load(output.with_suffix(".json"))["ga_day_timestamp"] == "2025-11-18T00:00:00Z"
    assert output.read_text(encoding="utf-8").startswith("#")

    (data / "ga_kpis" / "ga_kpi_summary.json").unlink()
    line = one_error_line(run("retro", *explicit_flags(data), cwd=tmp_path))
    assert f"looked for {data / 'ga_kpis' / 'ga_kpi_summary.json'}" in line


def test_output_with_json_suffix_does_not_lose_the_markdown(tmp_path: Path) -> None:
    result = run("retro", *explicit_flags(TEST_DATA), "--output", "out/r.json", cwd=tmp_path)
    if result.returncode == 2:
        assert "--output" in one_error_line(result)
    else:
        assert len(list((tmp_path / "out").iterdir())) == 2


def test_retro_twice_is_identical_but_for_the_timestamp(tmp_path: Path) -> None:
    texts = []
    for _ in range(2):
        result = run("retro", *explicit_flags(TEST_DATA), "--output", "o/r.md", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        texts.append((tmp_path / "o" / "r.json").read_text(encoding="utf-8"))
    first, second = texts
    assert without_generation_timestamp(first) == without_generation_timestamp(second)
    assert re.search(r'^  "generation_timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",$', first, re.M)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["r.json", "r.md"]


# --------------------------------------------------------------------------- tars schema


def test_schema_writes_six_json_schemas(tmp_path: Path) -> None:
    out = tmp_path / "new" / "schemas"
    result = run("schema", "--output-dir", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Wrote 6 JSON Schemas to {out}\n"
    assert sorted(p.name for p in out.iterdir()) == [f"{n}.schema.json" for n in SCHEMA_NAMES]
    for name in SCHEMA_NAMES:
        schema = load(out / f"{name}.schema.json")
        assert isinstance(schema["properties"], dict) and schema["properties"]
        assert schema["type"] == "object"
        Draft202012Validator.check_schema(schema)
    assert list(load(out / "retrospective.schema.json")["properties"]) == SEED_TOP + EXTENSIONS


def test_bundled_inputs_match_their_schemas(tmp_path: Path) -> None:
    assert run("schema", "--output-dir", tmp_path, cwd=tmp_path).returncode == 0
    pairs = [
        ("ga_kpi_summary", TEST_DATA / "ga_kpis" / "ga_kpi_summary.json"),
        ("regression_summary", TEST_DATA / "regression" / "regression_summary.json"),
        ("anomaly_events", TEST_DATA / "anomalies" / "anomaly_events.json"),
        *[("day_summary", p) for p in sorted((TEST_DATA / "stability").glob("day_*.json"))],
    ]
    assert len(pairs) == 10
    for name, path in pairs:
        validator = Draft202012Validator(load(tmp_path / f"{name}.schema.json"))
        assert list(validator.iter_errors(load(path))) == [], path
