"""`tars report` when things go wrong: a full disk (a real, small tmpfs), output
directories that are or hold the week, and notebooks that are corrupt, failed, kept
after a failure, half-written, or full of warnings.

What must hold: a full disk is exit 5 naming the published file that could not be
written, with the previous site untouched and nothing left beside it; a refused
output directory is exit 2 and nothing is deleted; a bad notebook is named on one
warning line and never published; stderr never reaches a page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tars_lib.core.workspace import SiteLayout

from .conftest import SCENARIO
from .conftest import run_tars as tars

CANARY = "canary-4f1d2c"
"""Text that only ever appears in the stderr outputs planted in a notebook."""
WARNING_TEXT = (
    "/venv/lib/python3.11/site-packages/urllib3/connectionpool.py:1100: "
    "InsecureRequestWarning: Unverified HTTPS request is being made to host "
    f"'prometheus.internal' ({CANARY}). Adding certificate verification is strongly advised.\n"
    "  warnings.warn(\n"
)
BLOCK = 4096


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> contents); a workspace's lock file is
    the running command's, not the week's, and comes and goes with it."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".lock"
    }


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GA day and day 7 (every phase, the retrospective) of the simulated week."""
    ws = tmp_path_factory.mktemp("faults-week")
    for day in ("0", "7"):
        result = tars(
            "run-day",
            day,
            "--scenario",
            str(SCENARIO),
            "--changes",
            str(SCENARIO.with_name("ga_week_changes.yaml")),
            "--quiet",
            cwd=ws,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    return ws


@pytest.fixture(scope="module")
def reference_site(week: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site the week makes when there is room: what a full disk's report would be."""
    out = tmp_path_factory.mktemp("reference") / "site"
    result = tars("report", "--renderer", "fallback", "--output-dir", str(out), cwd=week)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


# --------------------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A mount point for a tmpfs of the size the test asks for (root only)."""
    point = tmp_path / "disk"
    point.mkdir()
    yield point
    subprocess.run(["umount", str(point)], capture_output=True, check=False)


def _mount(point: Path, kib: int) -> None:
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {result.stderr.strip()}")


def _size(files: list[Path]) -> int:
    """KiB the files take on a tmpfs (whole pages each)."""
    return sum(-(-p.stat().st_size // BLOCK) * BLOCK for p in files) // 1024


@pytest.mark.parametrize("fails_at", ["pages", "downloads", "pdf"])
def test_full_disk_names_the_published_file_and_keeps_the_previous_site(
    week: Path, reference_site: Path, small_disk: Path, fails_at: str
) -> None:
    files = [p for p in reference_site.rglob("*") if p.is_file()]
    pdf = reference_site / SiteLayout.PDF_NAME
    downloads = [p for p in files if SiteLayout.DOWNLOADS in p.relative_to(reference_site).parts]
    before_downloads = [p for p in files if p not in downloads and p != pdf]
    room = {
        "pages": 64,  # the previous site and a figure or two
        "downloads": _size(before_downloads) + 64,  # the pages fit, the notebooks do not
        "pdf": _size(files) - _size([pdf]) // 2,  # all but half the PDF
    }[fails_at]
    _mount(small_disk, room)
    out = small_disk / "site"
    out.mkdir()
    (out / SiteLayout.INDEX).write_text("the previous site", encoding="utf-8")
    (out / SiteLayout.MARKER).write_text("made by tars report", encoding="utf-8")
    previous = _tree(out)

    result = tars("report", "--renderer", "fallback", "--output-dir", str(out), cwd=week)

    assert result.returncode == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], lines
    match = re.match(r"tars report: error: (\S+): cannot write", lines[0])
    assert match is not None, lines[0]
    named = Path(match.group(1))
    assert named.is_relative_to(out), named  # the final file, not a temporary one
    assert (reference_site / named.relative_to(out)).is_file(), named  # one a site has
    if fails_at == "pdf":
        assert named == out / SiteLayout.PDF_NAME
    if fails_at == "downloads":
        assert SiteLayout.DOWNLOADS in named.relative_to(out).parts
    assert _tree(out) == previous  # untouched
    assert sorted(p.name for p in small_disk.iterdir()) == ["site"]  # no staging, no .tmp
    assert "Traceback" not in result.stderr


def test_a_report_that_fits_replaces_the_previous_site(
    week: Path, reference_site: Path, small_disk: Path
) -> None:
    """The same tmpfs with room: the new site is swapped in whole, nothing beside it."""
    # room for the site, the PDF's work files beside it, and the previous site
    _mount(small_disk, 2 * _size([p for p in reference_site.rglob("*") if p.is_file()]))
    out = small_disk / "site"
    out.mkdir()
    (out / "stale.html").write_text("old", encoding="utf-8")
    (out / SiteLayout.MARKER).write_text("", encoding="utf-8")
    result = tars("report", "--renderer", "fallback", "--output-dir", str(out), cwd=week)
    assert result.returncode == 0, result.stderr
    assert not (out / "stale.html").exists()
    assert sorted(_tree(out)) == sorted(_tree(reference_site))
    assert sorted(p.name for p in small_disk.iterdir()) == ["site"]


# --------------------------------------------------------------------------- output directories


def test_refuses_the_workspace_and_its_artifacts_and_deletes_nothing(
    week: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "week"
    shutil.copytree(week, ws)
    # a marker planted where a site never goes must not make it replaceable
    for folder in ("runs", "runs/day_07", "stability", "docs/final", "docs", "ga_kpis"):
        (ws / folder / SiteLayout.MARKER).write_text("", encoding="utf-8")
    before = _tree(ws)
    targets = [
        ".",
        str(ws),
        str(ws.parent),
        "runs",
        "runs/day_07",
        "runs/day_99",  # not there yet, but inside the runs
        "stability",
        "docs",
        "docs/final",
        "ga_kpis",
        "anomaly_events.json",
    ]
    for target in targets:
        result = tars("report", "--renderer", "fallback", "--output-dir", target, cwd=ws)
        assert result.returncode == 2, (target, result.stderr)
        assert result.stderr.startswith("tars report: error: --output-dir"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert _tree(ws) == before, target
    assert not (ws / "runs" / "day_99").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["week"]  # no staging dir beside it


def test_a_site_inside_the_workspace_is_fine(week: Path, tmp_path: Path) -> None:
    """``week/_site`` (the README's layout) holds no artifact: it is made and remade."""
    ws = tmp_path / "week"
    shutil.copytree(week, ws, ignore=shutil.ignore_patterns(SiteLayout.DEFAULT_DIR.name))
    artifacts = _tree(ws)
    for _ in range(2):
        result = tars("report", "--renderer", "fallback", cwd=ws)
        assert result.returncode == 0, result.stderr
    site = ws / SiteLayout.DEFAULT_DIR
    assert (site / SiteLayout.MARKER).is_file() and (site / SiteLayout.INDEX).is_file()
    assert {
        k: v for k, v in _tree(ws).items() if not k.startswith(str(SiteLayout.DEFAULT_DIR))
    } == artifacts


# --------------------------------------------------------------------------- notebooks


def _notebook(path: Path) -> dict[str, Any]:
    book = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(book, dict)
    return book


def _first_code(book: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in book["cells"] if c["cell_type"] == "code")


def test_bad_notebooks_are_named_once_and_never_published(week: Path, tmp_path: Path) -> None:
    ws = tmp_path / "week"
    shutil.copytree(week, ws, ignore=shutil.ignore_patterns(SiteLayout.DEFAULT_DIR.name))
    day7 = ws / "runs" / "day_07"
    good = _notebook(day7 / "02_stability.ipynb")
    # truncated by a full disk: the first report to read it crashed (NotJSONError)
    text = (day7 / "03_anomalies.ipynb").read_text(encoding="utf-8")
    (day7 / "03_anomalies.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    # papermill recorded the run's exception
    failed = _notebook(day7 / "05_regression.ipynb")
    failed["metadata"].setdefault("papermill", {})["exception"] = True
    (day7 / "05_regression.ipynb").write_text(json.dumps(failed), encoding="utf-8")
    # a cell's error output, its traceback carrying the canary
    errored = _notebook(day7 / "06_retrospective.ipynb")
    _first_code(errored)["outputs"].append(
        {
            "output_type": "error",
            "ename": "SourceError",
            "evalue": CANARY,
            "traceback": ["Traceback (most recent call last):", f"SourceError: {CANARY}"],
        }
    )
    (day7 / "06_retrospective.ipynb").write_text(json.dumps(errored), encoding="utf-8")
    # warnings on stderr in a notebook that is otherwise fine
    noisy = _notebook(day7 / "04_health.ipynb")
    for cell in [c for c in noisy["cells"] if c["cell_type"] == "code"][:5]:
        cell["outputs"][:0] = [
            {"output_type": "stream", "name": "stderr", "text": WARNING_TEXT}
        ] * 4
    (day7 / "04_health.ipynb").write_text(json.dumps(noisy), encoding="utf-8")
    # kept by run-day after a failure, and a run's temporary file: neither is a phase page
    failed_copy = {**good, "cells": [*good["cells"]]}
    _first_code(failed_copy)["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": f"kept failed run {CANARY}\n"}
    ]
    (day7 / "02_stability.failed.ipynb").write_text(json.dumps(failed_copy), encoding="utf-8")
    (day7 / ".02_stability.ipynb.running").write_text('{"cells": [', encoding="utf-8")

    result = tars("report", "--renderer", "fallback", cwd=ws)

    assert result.returncode == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    assert all(w.startswith("warning: ") for w in warnings), warnings
    by_file = {m.group(1): w for w in warnings if (m := re.search(r"(\S+\.ipynb)", w))}
    assert len(by_file) == len(warnings) == 5, warnings  # one line each
    expected = {
        "03_anomalies.ipynb": "cannot be read",
        "05_regression.ipynb": "its run failed",
        "06_retrospective.ipynb": "SourceError",
        "02_stability.failed.ipynb": "a failed run",
        "04_health.ipynb": "20 stderr outputs (InsecureRequestWarning) left out of its page",
    }
    for name, why in expected.items():
        line = by_file[str(day7 / name)]
        assert why in line, line
    assert CANARY not in result.stderr and "Traceback" not in result.stderr
    site = ws / SiteLayout.DEFAULT_DIR
    published = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    for page in ("day_07_anomalies.html", "day_07_regression.html", "day_07_retrospective.html"):
        assert page not in published
    assert "day_07_stability.html" in published and "day_07_health.html" in published
    downloads = {p for p in published if p.startswith(SiteLayout.DOWNLOADS)}
    assert not any("failed" in p or ".running" in p or "03_anomalies" in p for p in downloads)
    for path in site.rglob("*.html"):
        page = path.read_text(encoding="utf-8")
        for leak in (CANARY, "Traceback", "InsecureRequestWarning", "warnings.warn"):
            assert leak not in page, (path.name, leak)
    # the phase whose latest run is bad is shown from no other day: day 7 was its only run
    assert "04_health.html" in published and "03_anomalies.html" not in published
    assert os.path.getsize(site / "04_health.html") > 10_000


def test_a_run_dir_of_only_bad_notebooks_is_an_input_error(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "day_02"
    run.mkdir(parents=True)
    (run / "02_stability.ipynb").write_text("", encoding="utf-8")
    (run / "03_anomalies.ipynb").write_text("[]", encoding="utf-8")
    result = tars("report", "--renderer", "fallback", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    for line, name in zip(lines, ("02_stability.ipynb", "03_anomalies.ipynb"), strict=False):
        assert line.startswith(f"warning: skipped {run / name}: cannot be read ("), line
        assert line.endswith("; not published"), line
    assert "run `tars run-day N` first" in lines[2] and len(lines) == 3
