"""The literate report: notebooks run by papermill, the site in a real headless
Chromium, the PDF through pdftotext, and data that must stay text."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tars_lib.core.workspace import SiteLayout, Workspace
from tars_lib.report.site import render_site
from tars_lib.retro.markdown import SECTION_HEADINGS
from testsupport.servers import require_binary

from .conftest import SCENARIO, TEST_DATA
from .conftest import run_tars as tars

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("chromium")
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def week_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GA day and day 7 run by `tars run-day` on the simulated week, then `tars report`."""
    ws = tmp_path_factory.mktemp("site-week")
    for day in ("0", "7"):
        result = tars("run-day", day, "--scenario", str(SCENARIO), "--quiet", cwd=ws)
        assert result.returncode == 0, result.stderr
    report = tars("report", "--renderer", "fallback", cwd=ws)
    assert report.returncode == 0, report.stderr
    assert "_site/index.html" in report.stdout and SiteLayout.PDF_NAME in report.stdout
    return ws


def test_site_has_a_page_per_phase_and_an_index(week_site: Path) -> None:
    site = week_site / "_site"
    names = sorted(p.name for p in site.iterdir())
    assert names == sorted(
        [
            SiteLayout.PDF_NAME,
            "index.html",
            "01_ga_day.html",
            "02_stability.html",
            "03_anomalies.html",
            "04_health.html",
            "05_regression.html",
            "06_retrospective.html",
        ]
    )
    index = (site / "index.html").read_text()
    for page in ("01_ga_day", "06_retrospective"):
        assert f'href="{page}.html"' in index
    retro = (site / "06_retrospective.html").read_text()
    assert "mathjax" not in retro.lower() and "cdnjs" not in retro  # self-contained, no maths
    assert json.loads((week_site / "docs/final/GA_7DAY_RETROSPECTIVE.json").read_text())


def _not_blank(png: Path) -> float:
    pixels = imread(png)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    return float(np.std(pixels[..., :3]))


def test_pages_in_a_real_browser(week_site: Path, tmp_path: Path) -> None:
    site = week_site / "_site"
    for page in ("index.html", "06_retrospective.html"):
        shot = tmp_path / f"{page}.png"
        result = chromium(
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            (site / page).as_uri(),
            profile=tmp_path / "profile",
        )
        assert shot.is_file(), result.stderr[-500:]
        assert _not_blank(shot) > 0.05
    dom = chromium(
        "--dump-dom", (site / "06_retrospective.html").as_uri(), profile=tmp_path / "profile"
    ).stdout
    for heading in SECTION_HEADINGS:
        assert f">{heading}" in dom, heading
    burn = dom.index("Figure: SLO error-budget burn-down")
    assert "<img" in dom[burn : burn + 2000] and "data:image/png;base64," in dom[burn:]


def test_pdf_has_the_nine_sections(week_site: Path) -> None:
    require_binary("pdftotext")
    text = subprocess.run(
        ["pdftotext", str(week_site / "_site" / SiteLayout.PDF_NAME), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    positions = [
        text.find(h.split(" ")[0] + " " + h.split(" ")[1]) if " " in h else text.find(h)
        for h in SECTION_HEADINGS
    ]
    assert all(p >= 0 for p in positions), dict(zip(SECTION_HEADINGS, positions, strict=True))
    assert positions == sorted(positions)


def test_run_day_then_report_on_a_cli_made_workspace(tmp_path: Path) -> None:
    assert (
        tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path).returncode == 0
    )
    third = tars("run-day", "3", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert sorted(p.name for p in (tmp_path / "runs" / "day_03").iterdir()) == [
        "02_stability.ipynb",
        "03_anomalies.ipynb",
        "04_health.ipynb",
    ]
    assert (tmp_path / "stability" / "day_03_summary.json").is_file()
    assert (tmp_path / "stability" / "day_03_HEALTH.json").is_file()
    report = tars("report", "--renderer", "fallback", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    index = (tmp_path / "_site" / "index.html").read_text()
    assert "Phase 6: GA 7-day retrospective: not run yet" in index
    assert not (tmp_path / "_site" / SiteLayout.PDF_NAME).exists()


def test_failing_cell_names_notebook_and_keeps_it(tmp_path: Path) -> None:
    result = tars("run-day", "1", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path)
    assert result.returncode == 2  # the notebook failed on an InputError: no GA baseline
    line = result.stderr.strip().splitlines()[-1]
    assert "notebook 02_stability failed in cell" in line
    assert "ga_kpi_summary.json: file not found" in line
    assert (tmp_path / "runs" / "day_01" / "02_stability.ipynb").is_file()
    assert "Traceback" not in result.stderr


def test_report_without_runs_says_what_to_do(tmp_path: Path) -> None:
    result = tars("report", cwd=tmp_path)
    assert result.returncode == 2 and "run `tars run-day N` first" in result.stderr


def test_label_with_script_is_shown_as_text(tmp_path: Path) -> None:
    """A hostile label value in the anomaly events reaches the page as text only."""
    import papermill

    ws = tmp_path / "ws"
    shutil.copytree(TEST_DATA, ws)
    events_file = ws / "anomalies" / "anomaly_events.json"
    data = json.loads(events_file.read_text())
    hostile = '<script>alert("x")</script>|`rm`'
    for event in data["events"]:
        event["labels"] = {"pod": hostile}
    events_file.write_text(json.dumps(data))
    run = ws / "runs" / "day_07"
    run.mkdir(parents=True)
    for name in ("03_anomalies", "06_retrospective"):
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"),
            str(run / f"{name}.ipynb"),
            parameters={"workspace": str(ws)},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(NOTEBOOKS),
        )
    site = render_site(Workspace(ws), tmp_path / "site", "fallback")
    for page in ("03_anomalies", "06_retrospective"):
        html = site.pages[page].read_text()
        assert "<script>" not in html, page
        assert "&lt;script&gt;alert(" in html, page
    dom = chromium(
        "--dump-dom", site.pages["06_retrospective"].as_uri(), profile=tmp_path / "profile"
    ).stdout
    assert "<script>alert" not in dom and "pod=&lt;script&gt;alert" in dom
