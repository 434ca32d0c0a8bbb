"""Known changes: the changes file, which finding a change explains, and the explained
changes of the retrospective (library and ``tars retro --changes``)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.changes import TOLERANCE, explaining_change, load_changes
from tars_lib.core.errors import InputError
from tars_lib.core.models import Change
from tars_lib.phases import run_ga_kpi, run_stability
from tars_lib.retro.drift import analyze_drifts, explained_changes
from tars_lib.retro.retrospective import build_retrospective
from tars_lib.sources.spec import SourceSpec

from .conftest import DAY, GA, ROOT, SCENARIO, TEST_DATA, WeekBuilder, run_tars

CHANGES = ROOT / "data" / "scenarios" / "ga_week_changes.yaml"
ENTRY = '  - at: "2025-11-20T10:00:00Z"\n    kind: deploy\n    description: v1.0.1-hotfix\n'


def write(tmp_path: Path, text: str, name: str = "changes.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def change(hours: float, kpis: list[str] | None = None, text: str = "deploy") -> Change:
    return Change(
        at=GA + 2 * DAY + timedelta(hours=hours), kind="deploy", description=text, kpis=kpis or []
    )


# --------------------------------------------------------------------------- the file


def test_the_scenario_changes_file_loads() -> None:
    (scaling,) = load_changes(CHANGES)
    assert scaling.at == GA + 5 * DAY and scaling.kind == "scaling"
    assert scaling.kpis == ["daily_cost_usd"] and "28 replicas" in scaling.description
    assert load_changes(None) == []


def test_changes_come_oldest_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "changes:\n"
        '  - {at: "2025-11-22T00:00:00Z", kind: config, description: later}\n'
        '  - {at: "2025-11-20T00:00:00+02:00", kind: feature_flag, description: earlier,'
        " kpis: [p99_latency_ms]}\n",
    )
    loaded = load_changes(path)
    assert [c.description for c in loaded] == ["earlier", "later"]
    assert loaded[0].at == GA + 2 * DAY - timedelta(hours=2)  # converted to UTC
    assert load_changes(write(tmp_path, "changes: []\n", "none.yaml")) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ENTRY.replace("deploy", "reboot"),
            "changes[0].kind: Input should be 'deploy', 'scaling', 'config', 'feature_flag', "
            "'rollback' or 'other'",
        ),
        (
            ENTRY.replace("    description: v1.0.1-hotfix\n", ""),
            "changes[0].description: Field required",
        ),
        (
            ENTRY.replace("v1.0.1-hotfix", '""'),
            "changes[0].description: String should have at least 1 character",
        ),
        (
            ENTRY.replace('"2025-11-20T10:00:00Z"', "yesterday"),
            "changes[0].at: Input should be a valid datetime",
        ),
        (
            ENTRY.replace('"2025-11-20T10:00:00Z"', '"2025-11-20T10:00:00"'),
            "changes[0].at: timestamp needs a time zone, e.g. 2025-11-18T00:00:00Z",
        ),
        (ENTRY + "    kpis: p99_latency_ms\n", "changes[0].kpis: Input should be a valid list"),
        (ENTRY + "    owner: sre\n", "changes[0].owner: Extra inputs are not permitted"),
    ],
    ids=["kind", "no-description", "empty-description", "timestamp", "naive", "kpis", "extra"],
)
def test_bad_entries_are_one_line_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "changes:\n" + ENTRY + text)  # the second entry is the bad one
    with pytest.raises(InputError) as caught:
        load_changes(path)
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: {message.replace('changes[0]', 'changes[1]')}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("changes: [\n", "not valid YAML"),
        ("- at: 2025-11-20\n", "(top level): Input should be a valid dictionary"),
        ("", "(top level): Input should be a valid dictionary"),
    ],
)
def test_bad_files_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_changes(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: changes file not found$"):
        load_changes(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- matching


def test_explaining_change_tolerance_edges() -> None:
    step = GA + 2 * DAY + timedelta(hours=10)
    assert timedelta(hours=1) == TOLERANCE
    for offset in (0.0, 1.0, -1.0):
        made = change(10 + offset, ["p99_latency_ms"])
        assert explaining_change("p99_latency_ms", step, [made]) == made, offset
    for offset in (1.0 + 1 / 3600, -1.0 - 1 / 3600, 24.0):
        made = change(10 + offset, ["p99_latency_ms"])
        assert explaining_change("p99_latency_ms", step, [made]) is None, offset
    # a wider tolerance, if asked for
    far = change(12, ["p99_latency_ms"])
    assert explaining_change("p99_latency_ms", step, [far], timedelta(hours=2)) == far


def test_explaining_change_needs_the_kpi_named_or_none_named() -> None:
    step = GA + 2 * DAY + timedelta(hours=10)
    named = change(10, ["daily_cost_usd", "avg_cpu_percent"])
    assert explaining_change("avg_cpu_percent", step, [named]) == named
    assert explaining_change("p99_latency_ms", step, [named]) is None
    anything = change(10.5, [])
    for kpi in ("p99_latency_ms", "error_rate", "not_in_the_catalogue"):
        assert explaining_change(kpi, step, [anything]) == anything
    assert explaining_change("p99_latency_ms", step, []) is None


def test_the_closest_change_explains() -> None:
    step = GA + 2 * DAY + timedelta(hours=10)
    before, after = change(9.2, text="before"), change(10.5, text="after")
    assert explaining_change("error_rate", step, [before, after]) == after
    assert explaining_change("error_rate", step, [after, before]) == after
    other = change(10.0, ["daily_cost_usd"], text="other kpi")
    assert explaining_change("error_rate", step, [other, before]) == before


# --------------------------------------------------------------------------- the retrospective

WEEK = {
    "availability": [99.95] * 8,
    "error_rate": [0.05] * 8,
    "p99_latency_ms": [300.0] * 8,
    # +22% by day 7 (the 10-30% drift band): an unexpected drift, unless a change explains it
    "redis_memory_mb": [1000.0, 1030, 1060, 1100, 1130, 1160, 1190, 1220],
    # +15.6%: stays unexpected (no change names it)
    "avg_cpu_percent": [45.0, 46, 47, 48, 49, 50, 51, 52],
    "daily_cost_usd": [300.0] * 5 + [336.0] * 3,
}


def test_retrospective_moves_an_explained_drift_out_of_the_unexpected(
    make_week: WeekBuilder, tmp_path: Path
) -> None:
    week = make_week(WEEK)
    before = {d.metric_name: d.drift_percent for d in analyze_drifts(week)}
    assert before == {"redis_memory_mb": 22.0, "avg_cpu_percent": 15.6, "daily_cost_usd": 12.0}
    assert explained_changes(week) == []
    path = write(
        tmp_path,
        "changes:\n"
        '  - at: "2025-11-21T00:00:00Z"\n'
        "    kind: deploy\n"
        "    description: v1.0.1-hotfix\n"  # names no KPI: explains no drift
        '  - at: "2025-11-20T09:00:00Z"\n'
        "    kind: config\n"
        "    description: Redis maxmemory raised to 2 GiB (bigger session cache)\n"
        "    kpis: [redis_memory_mb]\n",
    )
    resize, _ = changes = load_changes(path)
    week = dataclasses.replace(week, changes=tuple(changes))
    result = build_retrospective(week, GA + 9 * DAY).retrospective
    assert [d.metric_name for d in result.unexpected_drifts] == [
        "avg_cpu_percent",
        "daily_cost_usd",
    ]
    (explained,) = result.explained_changes
    assert explained.metric_name == "redis_memory_mb"
    assert explained.drift_percent == pytest.approx((1220 - 1000) / 1000 * 100)
    assert explained.change == resize
    assert explained.text == (
        "Redis memory +22.0% from day 2: Redis maxmemory raised to 2 GiB (bigger session cache)"
    )


def test_a_change_outside_the_week_explains_nothing(make_week: WeekBuilder) -> None:
    week = make_week(WEEK)
    before_ga = Change(
        at=GA - timedelta(hours=1), kind="config", description="x", kpis=["redis_memory_mb"]
    )
    after_week = Change(at=GA + 8 * DAY, kind="config", description="y", kpis=["redis_memory_mb"])
    week = dataclasses.replace(week, changes=(before_ga, after_week))
    assert explained_changes(week) == []
    assert "redis_memory_mb" in {d.metric_name for d in analyze_drifts(week)}


def test_a_recorded_cost_change_replaces_the_cost_advice(make_week: WeekBuilder) -> None:
    week = make_week(WEEK)
    scaled = Change(
        at=GA + 5 * DAY,
        kind="scaling",
        description="api 25 -> 28 replicas",
        kpis=["daily_cost_usd"],
    )
    plain = build_retrospective(week, GA + 9 * DAY).retrospective.recommendations_v1_0_2
    assert not [r for r in plain if "Confirm the cost step" in r]
    explained = build_retrospective(
        dataclasses.replace(week, changes=(scaled,)), GA + 9 * DAY
    ).retrospective.recommendations_v1_0_2
    (confirm,) = [r for r in explained if "Confirm the cost step" in r]
    assert "api 25 -> 28 replicas" in confirm
    # and the +12% cost is an explained change, not an unexpected drift
    week = dataclasses.replace(week, changes=(scaled,))
    assert [e.metric_name for e in explained_changes(week)] == ["daily_cost_usd"]
    assert "daily_cost_usd" not in {d.metric_name for d in analyze_drifts(week)}


def test_stability_records_the_day_s_changes(tmp_path: Path, catalogue: Catalogue) -> None:
    source = SourceSpec(scenario=SCENARIO).open()
    now = GA + 30 * DAY
    _, ga_path = run_ga_kpi(source, catalogue, tmp_path, None, now)
    changes = load_changes(CHANGES)  # one change, at 00:00 on day 5
    day4, _ = run_stability(source, catalogue, ga_path, tmp_path, 4, now, changes=changes)
    day5, path = run_stability(source, catalogue, ga_path, tmp_path, 5, now, changes=changes)
    assert day4.changes == [] and day5.changes == changes
    assert json.loads(path.read_text(encoding="utf-8"))["changes"][0]["kind"] == "scaling"


# --------------------------------------------------------------------------- tars retro --changes


def retro_flags() -> list[str]:
    return [
        "--ga-data",
        str(TEST_DATA / "ga_kpis"),
        "--7day-data",
        str(TEST_DATA / "stability"),
        "--regression",
        str(TEST_DATA / "regression" / "regression_summary.json"),
        "--anomalies",
        str(TEST_DATA / "anomalies" / "anomaly_events.json"),
        "--output",
        "out/retro.md",
    ]


def test_cli_retro_with_changes(tmp_path: Path) -> None:
    plain = run_tars("retro", *retro_flags(), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    before = json.loads((tmp_path / "out" / "retro.json").read_text(encoding="utf-8"))
    drifts = {d["metric_name"]: d["drift_percent"] for d in before["unexpected_drifts"]}
    assert "redis_memory_mb" in drifts and before["explained_changes"] == []

    path = write(
        tmp_path,
        "changes:\n"
        '  - at: "2025-11-20T09:00:00Z"\n'
        "    kind: config\n"
        "    description: Redis maxmemory raised to 2 GiB\n"
        "    kpis: [redis_memory_mb]\n",
    )
    result = run_tars("retro", *retro_flags(), "--changes", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = json.loads((tmp_path / "out" / "retro.json").read_text(encoding="utf-8"))
    assert "redis_memory_mb" not in {d["metric_name"] for d in after["unexpected_drifts"]}
    assert len(after["unexpected_drifts"]) == len(before["unexpected_drifts"]) - 1
    (explained,) = after["explained_changes"]
    assert explained["metric_name"] == "redis_memory_mb"
    assert explained["drift_percent"] == drifts["redis_memory_mb"]
    assert explained["change"]["description"] == "Redis maxmemory raised to 2 GiB"
    assert explained["text"].endswith("from day 2: Redis maxmemory raised to 2 GiB")
    markdown = (tmp_path / "out" / "retro.md").read_text(encoding="utf-8")
    assert "Explained by recorded changes" in markdown
    assert explained["text"] in markdown


def test_cli_retro_bad_changes_file_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "changes:\n" + ENTRY.replace("deploy", "reboot"))
    result = run_tars("retro", *retro_flags(), "--changes", str(path), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"tars retro: error: {path}: changes[0].kind: Input should be")
    assert not (tmp_path / "out").exists()
