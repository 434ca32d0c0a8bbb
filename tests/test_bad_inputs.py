"""The bad-input corpus: every case is a clear one-line error (exit 2, file and
field named) or a documented degradation, never a traceback, never a partial file.

Each case mutates a copy of the bundled week and runs `tars retro` in process.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tars_lib.cli import main

from .conftest import TEST_DATA

Mutation = Callable[[Path], None]


def edit_json(relative: str, change: Callable[[dict], None]) -> Mutation:  # type: ignore[type-arg]
    def run(ws: Path) -> None:
        path = ws / relative
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return run


def write(relative: str, content: bytes) -> Mutation:
    def run(ws: Path) -> None:
        (ws / relative).write_bytes(content)

    return run


def day3(change: Callable[[dict], None]) -> Mutation:  # type: ignore[type-arg]
    return edit_json("stability/day_03_summary.json", change)


def setter(*keys: str, value: object) -> Callable[[dict], None]:  # type: ignore[type-arg]
    def run(data: dict) -> None:  # type: ignore[type-arg]
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return run


DAY3 = "day_03_summary.json"
GA = "ga_kpi_summary.json"
ERRORS: list[tuple[str, Mutation, str, str]] = [
    (
        "truncated JSON",
        write(f"stability/{DAY3}", b'{"day_number": 3, "kpis": {'),
        DAY3,
        "invalid JSON at line 1",
    ),
    ("empty file", write(f"stability/{DAY3}", b""), DAY3, "invalid JSON"),
    (
        "string for a number",
        day3(setter("kpis", "availability", "value", value="99.9")),
        DAY3,
        "kpis.availability.value: Input should be a valid number",
    ),
    (
        "bool for a number",
        day3(setter("kpis", "availability", "value", value=True)),
        DAY3,
        "kpis.availability.value",
    ),
    ("list for an object", day3(setter("kpis", value=[])), DAY3, "kpis: "),
    (
        "NaN",
        write(
            f"stability/{DAY3}",
            (TEST_DATA / "stability" / DAY3)
            .read_bytes()
            .replace(b'"value": 99.96', b'"value": NaN', 1),
        ),
        DAY3,
        "kpis.availability.value: Input should be a finite number",
    ),
    (
        "Infinity",
        write(
            f"stability/{DAY3}",
            (TEST_DATA / "stability" / DAY3)
            .read_bytes()
            .replace(b'"value": 99.96', b'"value": Infinity', 1),
        ),
        DAY3,
        "finite number",
    ),
    (
        "negative count",
        day3(
            setter("kpis", "availability", "counts", value={"numerator": -5.0, "denominator": 10.0})
        ),
        DAY3,
        "kpis.availability.counts.numerator: Input should be greater than or equal to 0",
    ),
    (
        "negative stats samples",
        day3(
            setter(
                "kpis",
                "availability",
                "stats",
                value={"mean": 1, "std": 0, "p5": 1, "p95": 1, "min": 1, "max": 1, "samples": -1},
            )
        ),
        DAY3,
        "kpis.availability.stats.samples",
    ),
    (
        "bad fraction over 1",
        day3(setter("slos", "availability", "bad_fraction", value=1.5)),
        DAY3,
        "slos.availability.bad_fraction",
    ),
    ("day number 0", day3(setter("day_number", value=0)), DAY3, "day_number"),
    ("day number 8 in a day file", day3(setter("day_number", value=8)), DAY3, "day_number"),
    (
        "day number disagrees with file name",
        day3(setter("day_number", value=4)),
        DAY3,
        "window: must be",
    ),
    (
        "day file out of range",
        lambda ws: shutil.copy(ws / "stability" / DAY3, ws / "stability" / "day_09_summary.json"),
        "day_09_summary.json",
        "outside the release week",
    ),
    (
        "duplicate day",
        lambda ws: shutil.copy(ws / "stability" / DAY3, ws / "stability" / "day_3_summary.json"),
        "day_3_summary.json",
        "day 3 is also in",
    ),
    (
        "unknown KPI",
        day3(lambda d: d["kpis"].update({"queue_depth": {"value": 3.0, "unit": "jobs"}})),
        DAY3,
        "kpis.queue_depth: unknown KPI",
    ),
    (
        "unknown field",
        day3(setter("surprise", value=1)),
        DAY3,
        "surprise: Extra inputs are not permitted",
    ),
    ("missing field", day3(lambda d: d.pop("window")), DAY3, "window: Field required"),
    (
        "naive timestamp",
        day3(setter("generated_at", value="2025-11-22T00:05:00")),
        DAY3,
        "generated_at: timestamp needs a time zone",
    ),
    ("not a timestamp", day3(setter("generated_at", value="yesterday")), DAY3, "generated_at"),
    (
        "different release",
        day3(setter("ga_timestamp", value="2025-11-11T00:00:00Z")),
        DAY3,
        "window: must be [2025-11-14",
    ),
    (
        "rollback without reasons",
        day3(setter("rollback_recommended", value=True)),
        DAY3,
        "rollback_reasons is empty",
    ),
    (
        "non-UTF-8 bytes",
        write(f"stability/{DAY3}", b'{"day_number": 3, "x": "\xff\xfe"}'),
        DAY3,
        "not UTF-8 text (byte 0xff",
    ),
    (
        "directory instead of a file",
        lambda ws: ((ws / "stability" / DAY3).unlink(), (ws / "stability" / DAY3).mkdir()),
        DAY3,
        "is a directory",
    ),
    (
        "100 MB file",
        lambda ws: (ws / "stability" / DAY3).write_bytes(b" " * (100 * 2**20)),
        DAY3,
        "over the 64 MiB limit",
    ),
    (
        "GA summary missing",
        lambda ws: (ws / "ga_kpis" / GA).unlink(),
        GA,
        "ga_kpi_summary.json not found",
    ),
    (
        "GA summary truncated",
        write(f"ga_kpis/{GA}", b'{"ga_timestamp": "2025-'),
        GA,
        "invalid JSON",
    ),
    (
        "GA window not starting at GA",
        edit_json(f"ga_kpis/{GA}", setter("window", "start", value="2025-11-17T00:00:00Z")),
        GA,
        "window.start must equal",
    ),
    (
        "no day summaries",
        lambda ws: [p.unlink() for p in (ws / "stability").iterdir()],
        "stability",
        "no daily summaries",
    ),
    (
        "anomaly severity unknown",
        edit_json(
            "anomalies/anomaly_events.json",
            lambda d: d["events"][0].update({"severity": "apocalyptic"}),
        ),
        "anomaly_events.json",
        "events[0].severity",
    ),
    (
        "anomaly alpha out of range",
        edit_json("anomalies/anomaly_events.json", setter("parameters", "ewma_alpha", value=1.5)),
        "anomaly_events.json",
        "parameters.ewma_alpha",
    ),
    (
        "regression verdict unknown",
        edit_json(
            "regression/regression_summary.json",
            setter("rollback_recommendation", "verdict", value="maybe"),
        ),
        "regression_summary.json",
        "rollback_recommendation.verdict",
    ),
    (
        "regression from another release",
        edit_json(
            "regression/regression_summary.json",
            setter("ga_timestamp", value="2025-11-11T00:00:00Z"),
        ),
        "regression_summary.json",
        "ga_timestamp",
    ),
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A copy of the bundled week under a path with a space and non-ASCII letters."""
    target = tmp_path / "release wëek"
    shutil.copytree(TEST_DATA, target)
    return target


def retro(ws: Path) -> list[str]:
    return [
        "retro",
        "--ga-data",
        str(ws / "ga_kpis"),
        "--7day-data",
        str(ws / "stability"),
        "--regression",
        str(ws / "regression" / "regression_summary.json"),
        "--anomalies",
        str(ws / "anomalies" / "anomaly_events.json"),
        "--output",
        str(ws / "out" / "retro.md"),
    ]


@pytest.mark.parametrize(
    ("name", "mutate", "file", "words"), ERRORS, ids=[case[0] for case in ERRORS]
)
def test_bad_input_is_one_clear_line(
    ws: Path, capsys: pytest.CaptureFixture[str], name: str, mutate: Mutation, file: str, words: str
) -> None:
    (ws / "out").mkdir()
    (ws / "out" / "retro.md").write_text("earlier report\n")
    mutate(ws)
    assert main(retro(ws)) == 2, name
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tars retro: error: ")
    assert file in lines[0] and words in lines[0], lines[0]
    assert (ws / "out" / "retro.md").read_text() == "earlier report\n"
    assert sorted(p.name for p in (ws / "out").iterdir()) == ["retro.md"]


def test_missing_days_are_a_documented_degradation(ws: Path) -> None:
    for day in (2, 5):
        (ws / "stability" / f"day_0{day}_summary.json").unlink()
    assert main(retro(ws)) == 0
    text = (ws / "out" / "retro.md").read_text()
    assert "no daily summary for Day(s) 2, 5" in text
    data = json.loads((ws / "out" / "retro.json").read_text())
    assert data["slo_burn_downs"][0]["compliance_by_day"][2]["value"] is None


def test_missing_kpi_value_is_a_documented_degradation(ws: Path) -> None:
    day3(setter("kpis", "p99_latency_ms", "value", value=None))(ws)
    assert main(retro(ws)) == 0
    data = json.loads((ws / "out" / "retro.json").read_text())
    assert len(data["successes"]) == 8  # the week's other days still decide


def test_corpus_is_large_enough() -> None:
    assert len(ERRORS) >= 30
