"""Investigating in a notebook: a re-run with another detector setting recomputes with it
from the week's own series, says so, and never changes the week's artifacts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tars_lib.core.models import AnomalyEvents
from tars_lib.core.workspace import PROJECT, Workspace

from .conftest import SCENARIO
from .conftest import run_tars as tars


def digest(root: Path) -> dict[str, str]:
    """Every file of the week (scratch aside) and its hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "scratch" not in p.parts
    }


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GA day and days 1..4 of the simulated week, with their anomalies, by the CLI."""
    ws = tmp_path_factory.mktemp("investigate")
    steps = [
        ["ga-kpi", "--scenario", str(SCENARIO)],
        *[["stability", "--scenario", str(SCENARIO), "--day-number", str(d)] for d in range(1, 5)],
        ["anomalies", "--scenario", str(SCENARIO), "--start", "2025-11-19T00:00:00Z",
         "--end", "2025-11-23T00:00:00Z"],
    ]  # fmt: skip
    for args in steps:
        result = tars(*args, "--quiet", cwd=ws) if args[0] != "anomalies" else tars(*args, cwd=ws)
        assert result.returncode == 0, (args, result.stderr)
    return ws


def rerun(ws: Path, out: Path, **parameters: object) -> str:
    """The anomalies notebook re-run by hand on the workspace: its printed text."""
    import papermill

    papermill.execute_notebook(
        str(PROJECT.notebook("03_anomalies")),
        str(out),
        parameters={"workspace": str(ws), "day_number": 4, **parameters},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(PROJECT.notebook_dir),
    )
    book = json.loads(out.read_text(encoding="utf-8"))
    return "".join(
        "".join(o.get("text", ""))
        for cell in book["cells"]
        if cell["cell_type"] == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_a_changed_threshold_recomputes_into_scratch_and_leaves_the_week(
    week: Path, tmp_path: Path
) -> None:
    ws = Workspace(week)
    before = digest(week)
    stored = AnomalyEvents.model_validate_json(ws.anomalies_path.read_text(encoding="utf-8"))
    assert stored.parameters.z_threshold == 3.0

    text = rerun(week, tmp_path / "z2.ipynb", z_threshold=2.0)
    scratch = ws.scratch(ws.anomalies_path)
    recomputed = AnomalyEvents.model_validate_json(scratch.read_text(encoding="utf-8"))
    assert recomputed.parameters.z_threshold == 2.0
    assert len(recomputed.events) != len(stored.events)  # the setting took effect
    assert "Recomputed from the week's 5-minute series with z_threshold 2 (was 3)" in text
    assert f"{len(recomputed.events)} events, against {len(stored.events)}" in text
    assert digest(week) == before  # the week's artifacts are byte for byte the same

    text = rerun(week, tmp_path / "z6.ipynb", z_threshold=6.0)
    again = AnomalyEvents.model_validate_json(scratch.read_text(encoding="utf-8"))
    assert again.parameters.z_threshold == 6.0
    assert "with z_threshold 6 (was 3)" in text
    # the incidents of the simulated week are far beyond z = 6: the same ones remain
    assert {i.id for i in again.incidents} == {i.id for i in stored.incidents}
    assert digest(week) == before


def test_collecting_without_publish_writes_scratch_only(week: Path, tmp_path: Path) -> None:
    ws = Workspace(week)
    before = digest(week)
    text = rerun(
        week, tmp_path / "collect.ipynb", collect=True, scenario=str(SCENARIO), z_threshold=2.5
    )
    assert f"Investigation: wrote {ws.scratch(ws.anomalies_path)}" in text
    assert digest(week) == before


def test_unchanged_settings_just_show_the_week(week: Path, tmp_path: Path) -> None:
    text = rerun(week, tmp_path / "same.ipynb")
    assert "Recomputed" not in text and "Investigation" not in text
