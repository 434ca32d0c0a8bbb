"""A week's anomaly evidence survives reruns, and one workspace takes one run at a time.

Phase 3 keeps each day's events in their own file and rebuilds the week's
``anomaly_events.json`` from them; the reference it is checked against is the
single detection over days 1..7 that used to be that file. The lock is checked
with real ``tars run-day`` processes and a holder killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tars_lib import phases
from tars_lib.core.artifacts import read_artifact, write_artifact
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import BusyError
from tars_lib.core.models import AnomalyEvents, AnomalyParameters, Retrospective, Window
from tars_lib.core.workspace import Workspace
from tars_lib.judge.anomaly import SeriesMatrix, combine_days, detect, detect_days
from tars_lib.sources.spec import SourceSpec

from .conftest import DAY, GA, ROOT, SCENARIO
from .conftest import run_tars as tars

CHANGES = ROOT / "data" / "scenarios" / "ga_week_changes.yaml"
NOW = GA + timedelta(days=8, hours=1)
DETECTOR = AnomalyParameters()
WEEK = Window(start=GA + DAY, end=GA + 8 * DAY)


def without_time(text: str) -> Any:
    """An artifact's JSON without its ``generated_at`` stamps, at any depth."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "generated_at"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(text))


def build_week(ws: Workspace, catalogue: Catalogue) -> None:
    """Days 0..7 through the phases, as the notebooks of `tars run-day` call them."""
    source = SourceSpec(scenario=SCENARIO).open()
    changes = load_changes(CHANGES)
    phases.run_ga_kpi(source, catalogue, ws.ga_dir, None, NOW)
    for day in range(1, 8):
        phases.run_stability(
            source, catalogue, ws.ga_path, ws.stability_dir, day, NOW, changes=changes
        )
        phases.run_day_anomalies(
            source, catalogue, ws, [day], detector=DETECTOR, now=NOW, changes=changes
        )
        phases.run_day_health(ws, day, catalogue, NOW)
    phases.run_regression(ws.ga_path, ws.stability_dir, ws.regression_path, catalogue, NOW)
    phases.run_retro(ws.retro_inputs(CHANGES), ws.retro_path, catalogue, NOW)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Workspace:
    """The simulated week, days 0..7 in order (not to be changed: tests copy it)."""
    ws = Workspace(tmp_path_factory.mktemp("evidence-week"))
    build_week(ws, catalogue)
    return ws


@pytest.fixture(scope="module")
def reference(week: Workspace, catalogue: Catalogue) -> AnomalyEvents:
    """One detection over days 1..7: what the week's events file held before per-day evidence."""
    source = SourceSpec(scenario=SCENARIO).open()
    return phases.run_anomalies(
        source,
        catalogue,
        week.ga_path,
        None,
        window=WEEK,
        detector=DETECTOR,
        now=NOW,
        changes=load_changes(CHANGES),
    ).events


def copy_of(week: Workspace, tmp_path: Path) -> Workspace:
    shutil.copytree(week.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def run_day(ws: Workspace, day: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("tars")),
            "run-day",
            str(day),
            "--workspace",
            str(ws.root),
            "--scenario",
            str(SCENARIO),
            "--changes",
            str(CHANGES),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_week_view_is_the_single_detection(week: Workspace, reference: AnomalyEvents) -> None:
    view = week.anomalies()
    assert view is not None
    assert without_time(view.model_dump_json()) == without_time(reference.model_dump_json())
    assert len(view.events) >= 6 and view.incidents
    # each day holds exactly the events that start on it
    for day, evidence in week.anomaly_days().items():
        assert evidence.complete
        assert evidence.events == [e for e in reference.events if (e.start - GA) // DAY == day]
    assert sorted(week.anomaly_days()) == list(range(1, 8))


def test_rerunning_day_2_keeps_the_other_days(
    week: Workspace, reference: AnomalyEvents, catalogue: Catalogue, tmp_path: Path
) -> None:
    ws = copy_of(week, tmp_path)
    before = {d: ws.day_anomalies_path(d).read_bytes() for d in range(1, 8)}
    day4_events = [e for e in reference.events if (e.start - GA) // DAY == 4]
    assert {e.metric_name for e in day4_events} >= {"error_rate", "availability"}

    rerun = run_day(ws, 2)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err

    view = ws.anomalies()
    assert view is not None
    assert len(view.events) == len(reference.events)  # 6 before the change: 3 after this rerun
    assert without_time(view.model_dump_json()) == without_time(reference.model_dump_json())
    assert view.window == WEEK
    # day 2 was redone (same data, same events), every other day's file is untouched
    assert ws.day_anomalies_path(2).read_bytes() != before[2]
    assert ws.day_anomalies(2) is not None
    assert ws.day_anomalies(2).events == week.day_anomalies(2).events  # type: ignore[union-attr]
    assert all(ws.day_anomalies_path(d).read_bytes() == before[d] for d in (1, 3, 4, 5, 6, 7))
    # day 4's health still sees day 4's degradation
    assert ws.health()[4] == week.health()[4]

    phases.run_retro(ws.retro_inputs(CHANGES), ws.retro_path, catalogue, NOW)
    after = read_artifact(ws.retro_json_path, Retrospective)
    first = read_artifact(week.retro_json_path, Retrospective)
    assert (4, "reliability") in {(d.day_occurred, d.category) for d in after.degradations}
    assert after.degradations == first.degradations
    assert ws.retro_path.read_text() == week.retro_path.read_text()


def test_an_open_event_is_redone_by_the_next_day(
    week: Workspace, catalogue: Catalogue, tmp_path: Path
) -> None:
    """A day whose event was still open when written is rewritten by a later day's run;
    a complete day is left as it is."""
    ws = copy_of(week, tmp_path)
    held = ws.day_anomalies(3)
    assert held is not None
    write_artifact(
        ws.day_anomalies_path(3), held.model_copy(update={"complete": False, "events": []})
    )
    day2 = ws.day_anomalies_path(2).read_bytes()
    source = SourceSpec(scenario=SCENARIO).open()
    run = phases.run_day_anomalies(
        source, catalogue, ws, [4], detector=DETECTOR, now=NOW, changes=load_changes(CHANGES)
    )
    assert [d.day_number for d in run.written] == [3, 4]
    redone, first = ws.day_anomalies(3), week.day_anomalies(3)
    assert redone is not None and first is not None
    assert redone.complete and redone.detected_through == GA + 5 * DAY
    assert (redone.events, redone.suppressed, redone.slo_series) == (
        first.events,
        first.suppressed,
        first.slo_series,
    )
    assert ws.day_anomalies_path(2).read_bytes() == day2


def test_a_week_from_before_per_day_evidence_keeps_its_days(
    week: Workspace, reference: AnomalyEvents, catalogue: Catalogue, tmp_path: Path
) -> None:
    """Only the week's file (the layout before): rerunning day 2 makes every day's evidence."""
    ws = copy_of(week, tmp_path)
    write_artifact(ws.anomalies_path, reference)
    for day in range(1, 8):
        ws.day_anomalies_path(day).unlink()
    source = SourceSpec(scenario=SCENARIO).open()
    run = phases.run_day_anomalies(
        source, catalogue, ws, [2], detector=DETECTOR, now=NOW, changes=load_changes(CHANGES)
    )
    assert [d.day_number for d in run.written] == list(range(1, 8))
    view = ws.anomalies()
    assert view is not None
    assert without_time(view.model_dump_json()) == without_time(reference.model_dump_json())


def test_an_event_across_midnight(catalogue: Catalogue) -> None:
    """Detected through day 1 the event is open and the day incomplete; through day 2 it
    ends on day 2, and the view of both days equals one detection over both."""
    points, step = 288, 300
    rng = np.random.default_rng(7)
    values = 400.0 + rng.normal(0.0, 5.0, (1, 3 * points))
    values[0, 2 * points - 24 : 2 * points + 12] += 600.0  # day 1 22:00 .. day 2 01:00
    stamps = np.arange(1, 3 * points + 1, dtype=np.int64) * step + int(GA.timestamp())

    def matrix(columns: int) -> SeriesMatrix:
        return SeriesMatrix(
            stamps[:columns], ("p99_latency_ms",), ({},), values[:, :columns], points, step
        )

    early = detect_days(matrix(2 * points), catalogue, GA, [1], DETECTOR, NOW)
    assert not early[0].complete and early[0].events[0].end == GA + 2 * DAY
    days = detect_days(matrix(3 * points), catalogue, GA, [1, 2], DETECTOR, NOW)
    assert days[0].complete and days[0].events[0].end > GA + 2 * DAY
    assert len(days[0].slo_series["p99_latency_ms"]) == points
    one = detect(matrix(3 * points), catalogue, Window(start=GA + DAY, end=GA + 3 * DAY),
                 DETECTOR, NOW)  # fmt: skip
    assert without_time(combine_days(days, catalogue, NOW).model_dump_json()) == without_time(
        one.model_dump_json()
    )
    assert one.incidents and one.incidents[0].budget_burned


def test_two_runs_at_once_one_is_refused(
    week: Workspace, catalogue: Catalogue, tmp_path: Path
) -> None:
    ws = copy_of(week, tmp_path)
    ws.health_path(4).unlink()  # made again by whichever run wins
    ws.day_anomalies_path(4).unlink()
    runs = [run_day(ws, 4), run_day(ws, 4)]
    outputs = [p.communicate(timeout=300) for p in runs]
    results = [(p.pid, p.returncode, out, err) for p, (out, err) in zip(runs, outputs, strict=True)]
    codes = sorted(code for _, code, _, _ in results)
    assert codes == [0, 6], results
    (winner, *_), (_, _, _, refused) = sorted(results, key=lambda r: r[1])
    lines = refused.strip().splitlines()
    assert len(lines) == 1, refused
    assert lines[0].startswith(f"tars run-day: error: {ws.root}: the workspace is busy")
    assert f"(pid {winner} since " in lines[0] and "wait for it to finish" in lines[0]
    # the day's artifacts are those of the complete run
    assert ws.health()[4] == week.health()[4].model_copy(
        update={"generated_at": ws.health()[4].generated_at}
    )
    assert ws.day_anomalies(4).events == week.day_anomalies(4).events  # type: ignore[union-attr]
    view = ws.anomalies()
    assert view is not None and view.events == week.anomalies().events  # type: ignore[union-attr]


HOLD = """
import sys, time
from tars_lib.core.workspace import Workspace
with Workspace.at(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_killed_holder_does_not_block(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ws.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(BusyError, match=rf"\(pid {holder.pid} since "), ws.lock():
            pass
        refused = tars("report", "--workspace", str(ws.root), cwd=tmp_path)
        assert refused.returncode == 6 and "the workspace is busy" in refused.stderr
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    started = time.monotonic()
    with ws.lock():  # the kernel released the dead holder's lock
        assert ws.lock_path.read_text().startswith(f"pid {os.getpid()} since ")
    assert time.monotonic() - started < 1.0
