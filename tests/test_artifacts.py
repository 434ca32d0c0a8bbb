"""tars_lib.core.artifacts: every bad file is one InputError line; every write is atomic."""

from __future__ import annotations

import copy
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tars_lib.core import artifacts
from tars_lib.core.artifacts import (
    dump_json,
    field_path,
    read_artifact,
    write_text_atomic,
    write_texts_atomic,
)
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.errors import InputError
from tars_lib.core.models import (
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    HealthComponent,
    HealthReport,
    MitigationAction,
    RegressionSummary,
    Retrospective,
)
from tars_lib.core.week import load_release_week
from tars_lib.core.workspace import RetroInputs
from tars_lib.retro.retrospective import build_retrospective

from .conftest import TEST_DATA

DAY_03 = TEST_DATA / "stability" / "day_03_summary.json"
GA_FILE = TEST_DATA / "ga_kpis" / "ga_kpi_summary.json"


def day_03() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DAY_03.read_text(encoding="utf-8"))
    return data


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def read_error(path: Path, model: type[BaseModel] = DaySummary) -> str:
    """The InputError message read_artifact gives for ``path``; it must be one line."""
    with pytest.raises(InputError) as info:
        read_artifact(path, model)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- reading


def test_valid_day_summary_is_read() -> None:
    summary = read_artifact(DAY_03, DaySummary)
    assert summary.day_number == 3
    assert summary.ga_timestamp == datetime(2025, 11, 18, tzinfo=UTC)
    assert summary.kpis["availability"].value == 99.96
    assert summary.kpis["availability"].unit == "%"


def test_wrong_type_names_file_and_field(tmp_path: Path) -> None:
    data = day_03()
    data["kpis"]["availability"]["value"] = "n/a"
    path = write_json(tmp_path / "day_03_summary.json", data)
    message = read_error(path)
    assert message == (f"{path}: kpis.availability.value: Input should be a valid number")


def test_missing_required_field_names_file_and_field(tmp_path: Path) -> None:
    data = day_03()
    del data["kpis"]["p99_latency_ms"]["unit"]
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path) == f"{path}: kpis.p99_latency_ms.unit: Field required"


def test_missing_top_level_field_names_it(tmp_path: Path) -> None:
    data = day_03()
    del data["window"]
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path) == f"{path}: window: Field required"


def test_extra_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    data = day_03()
    data["kpis"]["availability"]["colour"] = "green"
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path) == f"{path}: kpis.availability.colour: Extra inputs are not permitted"


def test_several_problems_are_counted_on_the_one_line(tmp_path: Path) -> None:
    data = day_03()
    data["kpis"]["availability"]["value"] = "n/a"
    data["kpis"]["error_rate"]["value"] = "n/a"
    data["surprise"] = 1
    path = write_json(tmp_path / "day.json", data)
    message = read_error(path)
    assert message.startswith(f"{path}: kpis.availability.value: Input should be a valid number")
    assert message.endswith(" (and 2 more problems)")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused(tmp_path: Path, literal: str) -> None:
    text = DAY_03.read_text(encoding="utf-8").replace('"value": 99.96', f'"value": {literal}', 1)
    assert literal in text
    path = tmp_path / "day.json"
    path.write_text(text, encoding="utf-8")
    message = read_error(path)
    assert message == f"{path}: kpis.availability.value: Input should be a finite number"


def test_nan_literal_message_names_the_field(tmp_path: Path) -> None:
    text = DAY_03.read_text(encoding="utf-8").replace('"value": 99.96', '"value": NaN', 1)
    path = tmp_path / "day.json"
    path.write_text(text, encoding="utf-8")
    assert "kpis.availability.value" in read_error(path)


def test_overflowing_number_is_not_finite(tmp_path: Path) -> None:
    text = DAY_03.read_text(encoding="utf-8").replace('"value": 99.96', '"value": 1e400', 1)
    path = tmp_path / "day.json"
    path.write_text(text, encoding="utf-8")
    assert read_error(path) == f"{path}: kpis.availability.value: Input should be a finite number"


def test_truncated_json_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    path.write_text(DAY_03.read_text(encoding="utf-8")[:300], encoding="utf-8")
    message = read_error(path)
    assert message == (f"{path}: invalid JSON at line 14 column 5: Unterminated string starting at")


def test_empty_file_is_invalid_json_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    path.write_bytes(b"")
    assert read_error(path) == f"{path}: invalid JSON at line 1 column 1: Expecting value"


def test_non_utf8_bytes_give_the_byte_and_offset(tmp_path: Path) -> None:
    raw = DAY_03.read_text(encoding="utf-8").replace("scripts/make_test_data.py", "caf\xe9", 1)
    path = tmp_path / "day.json"
    path.write_bytes(raw.encode("latin-1"))
    offset = raw.index("\xe9")
    assert read_error(path) == f"{path}: not UTF-8 text (byte 0xe9 at offset {offset})"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "day_03_summary.json"
    path.mkdir()
    assert read_error(path) == f"{path}: is a directory, expected a JSON file"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "day_03_summary.json"
    assert read_error(path) == f"{path}: file not found"


def test_file_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "MAX_ARTIFACT_BYTES", 2 * 2**20)
    path = tmp_path / "day.json"
    path.write_bytes(b" " * (3 * 10**6))
    assert read_error(path) == (
        f"{path}: 3.0 MB is over the 2 MiB limit for an artifact; is this the right file?"
    )


def test_file_at_the_size_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    size = DAY_03.stat().st_size
    monkeypatch.setattr(artifacts, "MAX_ARTIFACT_BYTES", size)
    assert read_artifact(DAY_03, DaySummary).day_number == 3
    monkeypatch.setattr(artifacts, "MAX_ARTIFACT_BYTES", size - 1)
    assert "limit for an artifact" in read_error(DAY_03)


def test_timestamp_without_time_zone(tmp_path: Path) -> None:
    data = day_03()
    data["generated_at"] = "2025-11-22T00:05:00"
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path) == (
        f"{path}: generated_at: timestamp needs a time zone, e.g. 2025-11-18T00:00:00Z"
    )


def test_nested_timestamp_without_time_zone_names_the_nested_field(tmp_path: Path) -> None:
    data = day_03()
    data["window"]["start"] = "2025-11-21T00:00:00"
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path).startswith(f"{path}: window.start: timestamp needs")


def test_other_time_zones_are_converted_to_utc(tmp_path: Path) -> None:
    data = day_03()
    data["generated_at"] = "2025-11-22T01:05:00+01:00"
    path = write_json(tmp_path / "day.json", data)
    summary = read_artifact(path, DaySummary)
    assert summary.generated_at == datetime(2025, 11, 22, 0, 5, tzinfo=UTC)
    assert json.loads(dump_json(summary))["generated_at"] == "2025-11-22T00:05:00Z"


def test_day_summary_window_must_match_day_number(tmp_path: Path) -> None:
    data = day_03()
    data["day_number"] = 4
    path = write_json(tmp_path / "day.json", data)
    message = read_error(path)
    assert message.endswith(
        "window: must be [2025-11-22T00:00:00Z, 2025-11-23T00:00:00Z) for day 4"
    )


def test_day_summary_window_mismatch_names_the_window_field(tmp_path: Path) -> None:
    data = day_03()
    data["day_number"] = 4
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path).startswith(f"{path}: window: ")


def test_day_number_outside_the_week(tmp_path: Path) -> None:
    data = day_03()
    data["day_number"] = 8
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path).startswith(f"{path}: day_number: Input should be less than or equal")


def test_top_level_list_is_refused_at_top_level(tmp_path: Path) -> None:
    path = write_json(tmp_path / "day.json", [])
    assert read_error(path) == (f"{path}: (top level): Input should be an object")


def test_numeric_string_where_a_number_is_expected_is_refused(tmp_path: Path) -> None:
    data = day_03()
    data["kpis"]["availability"]["value"] = "99.5"
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path).startswith(f"{path}: kpis.availability.value: ")


def test_string_where_a_boolean_is_expected_is_refused(tmp_path: Path) -> None:
    data = day_03()
    data["rollback_recommended"] = "no"
    path = write_json(tmp_path / "day.json", data)
    assert read_error(path).startswith(f"{path}: rollback_recommended: ")


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("kpis", "availability", "value"), "kpis.availability.value"),
        (("events", 0, "peak_z"), "events[0].peak_z"),
        ((0,), "[0]"),
        ((), "(top level)"),
    ],
)
def test_field_path(loc: tuple[int | str, ...], expected: str) -> None:
    assert field_path(loc) == expected


# --------------------------------------------------------------------------- writing


def test_write_text_atomic_writes_exact_bytes(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "out.md"
    text = "héllo wörld\r\nline two\nno newline at end ✓"
    write_text_atomic(target, text)
    assert target.read_bytes() == text.encode("utf-8")
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.md"]


def test_write_text_atomic_replaces_old_content(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old content that is longer than the new one\n", encoding="utf-8")
    write_text_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_texts_atomic_writes_all_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.md", tmp_path / "sub" / "b.json"
    write_texts_atomic([(a, "# A\n"), (b, '{"b": 1}\n')])
    assert a.read_text(encoding="utf-8") == "# A\n"
    assert b.read_text(encoding="utf-8") == '{"b": 1}\n'
    assert temp_files(tmp_path) == []


def test_second_target_a_directory_leaves_first_file_old(tmp_path: Path) -> None:
    first = tmp_path / "retro.md"
    first.write_text("old markdown\n", encoding="utf-8")
    second = tmp_path / "retro.json"
    second.mkdir()
    with pytest.raises(InputError) as info:
        write_texts_atomic([(first, "new markdown\n"), (second, "{}\n")])
    assert str(info.value) == f"{second}: is a directory, cannot write a file there"
    assert first.read_text(encoding="utf-8") == "old markdown\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retro.json", "retro.md"]
    assert list(second.iterdir()) == []


def test_failure_producing_second_file_leaves_first_file_old(tmp_path: Path) -> None:
    first = tmp_path / "retro.md"
    first.write_text("old markdown\n", encoding="utf-8")

    def files() -> Iterator[tuple[Path, str]]:
        yield first, "new markdown\n"
        raise RuntimeError("rendering the JSON failed")

    with pytest.raises(RuntimeError, match="rendering the JSON failed"):
        write_texts_atomic(files())
    assert first.read_text(encoding="utf-8") == "old markdown\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retro.md"]


def test_unencodable_second_text_leaves_first_file_old(tmp_path: Path) -> None:
    first, second = tmp_path / "a.md", tmp_path / "b.json"
    first.write_text("old a\n", encoding="utf-8")
    second.write_text("old b\n", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_texts_atomic([(first, "new a\n"), (second, "lone surrogate \udc80\n")])
    assert first.read_text(encoding="utf-8") == "old a\n"
    assert second.read_text(encoding="utf-8") == "old b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.json"]


def test_rename_failure_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls: list[str] = []

    def replace_once(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(str(dst))
        if len(calls) > 1:
            raise PermissionError(13, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_once)
    with pytest.raises(PermissionError):
        write_texts_atomic([(tmp_path / "a.md", "a\n"), (tmp_path / "b.json", "b\n")])
    monkeypatch.undo()
    assert temp_files(tmp_path) == []


def test_written_file_mode_follows_umask(tmp_path: Path) -> None:
    """mkstemp makes 0600; a shared retrospective must get the usual 0666 & ~umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    write_text_atomic(tmp_path / "retro.md", "# Retro\n")
    assert stat.S_IMODE((tmp_path / "retro.md").stat().st_mode) == 0o666 & ~umask


# --------------------------------------------------------------------------- round trips


def health_report() -> HealthReport:
    return HealthReport(
        day_number=2,
        generated_at=datetime(2025, 11, 21, 0, 10, tzinfo=UTC),
        health_score=81.5,
        status="degraded",
        components={
            "latency": HealthComponent(score=70.0, weight=0.4, detail="p99 over SLO 10% of day"),
            "availability": HealthComponent(score=99.0, weight=0.6, detail="ok"),
        },
        mitigation_plan=[
            MitigationAction(
                priority="P1", kpi="p99_latency_ms", finding="p99 +12%", action="scale out"
            )
        ],
    )


def retrospective(catalogue: Catalogue, inputs: RetroInputs) -> Retrospective:
    week = load_release_week(inputs, catalogue)
    return build_retrospective(week, datetime(2025, 11, 26, 9, 0, tzinfo=UTC)).retrospective


@pytest.mark.parametrize(
    "name",
    ["ga", "day", "anomalies", "regression", "health", "retrospective"],
)
def test_dump_json_round_trips_through_read_artifact(
    tmp_path: Path, catalogue: Catalogue, test_data_inputs: RetroInputs, name: str
) -> None:
    models: dict[str, tuple[type[BaseModel], Any]] = {
        "ga": (GaKpiSummary, lambda: read_artifact(GA_FILE, GaKpiSummary)),
        "day": (DaySummary, lambda: read_artifact(DAY_03, DaySummary)),
        "anomalies": (
            AnomalyEvents,
            lambda: read_artifact(TEST_DATA / "anomalies" / "anomaly_events.json", AnomalyEvents),
        ),
        "regression": (
            RegressionSummary,
            lambda: read_artifact(
                TEST_DATA / "regression" / "regression_summary.json", RegressionSummary
            ),
        ),
        "health": (HealthReport, health_report),
        "retrospective": (Retrospective, lambda: retrospective(catalogue, test_data_inputs)),
    }
    model_type, make = models[name]
    original = make()
    path = tmp_path / f"{name}.json"
    text = dump_json(original)
    assert text.endswith("}\n")
    write_text_atomic(path, text)
    again = read_artifact(path, model_type)
    assert again == original
    assert dump_json(again) == text
    assert path.read_text(encoding="utf-8") == text


def test_dump_json_keeps_non_ascii_and_null(tmp_path: Path) -> None:
    data = day_03()
    data["source"]["location"] = "release wëek/日本"
    data["kpis"]["availability"]["value"] = None
    path = write_json(tmp_path / "day.json", copy.deepcopy(data))
    text = dump_json(read_artifact(path, DaySummary))
    assert '"location": "release wëek/日本"' in text
    availability = json.loads(text)["kpis"]["availability"]
    assert (availability["value"], availability["unit"]) == (None, "%")


# --------------------------------------------------------------------------- crash safety

CRASH_WRITER = """
import sys
from pathlib import Path
from tars_lib.core.artifacts import write_text_atomic

target, size = Path(sys.argv[1]), int(sys.argv[2])
i = 0
while True:
    write_text_atomic(target, "ab"[i % 2] * size)
    i += 1
    if i == 2:
        print("ready", flush=True)
"""


def test_sigkill_mid_write_leaves_old_or_new_file(tmp_path: Path) -> None:
    """Kill a writer of 8 MB files; the target is always one whole version."""
    size = 8_000_000
    target = tmp_path / "retro.json"
    killed_mid_write = False
    for attempt in range(25):  # until one kill lands while a temporary file exists
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASH_WRITER, str(target), str(size)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.005 + 0.007 * (attempt % 7))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        proc.stdout.close()
        content = target.read_bytes()
        assert len(content) == size
        assert content in (b"a" * size, b"b" * size)
        leftovers = temp_files(tmp_path)
        killed_mid_write = killed_mid_write or bool(leftovers)
        for name in leftovers:
            assert name.startswith(".retro.json.")
            (tmp_path / name).unlink()
        if killed_mid_write:
            break
    assert killed_mid_write, "the writer was never killed while a temporary file existed"
