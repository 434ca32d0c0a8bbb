"""The literate report: notebooks run by papermill, the site in a real headless
Chromium, the PDF through pdftotext and pdfimages, the Quarto project as staged,
the rules that keep rendering from deleting what it did not make, and data that
must stay text."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from bs4 import BeautifulSoup
from matplotlib.image import imread

from tars_lib.core.catalogue import Catalogue
from tars_lib.core.errors import SettingError
from tars_lib.core.models import HealthComponent, HealthReport
from tars_lib.core.workspace import PROJECT, SiteLayout, Workspace
from tars_lib.report import pdf as report_pdf
from tars_lib.report import site as report_site
from tars_lib.report.runner import phase_title
from tars_lib.report.site import (
    check_output_dir,
    navbar,
    quarto_project,
    render_site,
    site_context,
)
from tars_lib.retro.markdown import SECTION_HEADINGS
from testsupport.servers import require_binary

from .conftest import DAY, GA, SCENARIO, TEST_DATA, build_week, quiet
from .conftest import run_tars as tars

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHANGES = SCENARIO.with_name("ga_week_changes.yaml")
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
DAYS = ("0", "2", "7")
"""GA day, the day of the latency incident, and day 7 (which runs every phase left)."""
INCIDENT_LINE = "Day 2, 14:00-16:30 UTC:"
"""The timeline line of the simulated week's latency incident (see the scenario)."""
SCIENTIFIC = re.compile(r"\d(?:\.\d+)?e[-+]\d")


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("chromium")
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def dom(page: Path, profile: Path) -> BeautifulSoup:
    """The page's DOM as the browser built it."""
    dumped = chromium("--dump-dom", page.as_uri(), profile=profile)
    assert "<html" in dumped.stdout, dumped.stderr[-500:]
    return BeautifulSoup(dumped.stdout, "html.parser")


def text_of(soup: BeautifulSoup) -> str:
    return " ".join(soup.get_text(" ").split())


@pytest.fixture(scope="module")
def week_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Days 0, 2 and 7 run by `tars run-day` on the simulated week, then `tars report`."""
    ws = tmp_path_factory.mktemp("site-week")
    for day in DAYS:
        result = tars(
            "run-day",
            day,
            "--scenario",
            str(SCENARIO),
            "--changes",
            str(CHANGES),
            "--quiet",
            cwd=ws,
        )
        assert result.returncode == 0, result.stderr
    report = tars("report", "--renderer", "fallback", cwd=ws)
    assert report.returncode == 0, report.stderr
    assert "_site/index.html" in report.stdout and SiteLayout.PDF_NAME in report.stdout
    return ws


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chromium-profile")


# --------------------------------------------------------------------------- the site's files


def test_site_has_every_days_pages_the_latest_phases_and_downloads(week_site: Path) -> None:
    site = week_site / "_site"
    names = sorted(p.name for p in site.iterdir())
    phases = {0: ["ga_day"], 2: ["stability", "anomalies", "health"]}
    phases[7] = ["stability", "anomalies", "health", "regression", "retrospective"]
    day_pages = [f"day_{d:02d}.html" for d in phases]
    day_pages += [f"day_{d:02d}_{p}.html" for d, ps in phases.items() for p in ps]
    latest = [
        "01_ga_day.html",
        "02_stability.html",
        "03_anomalies.html",
        "04_health.html",
        "05_regression.html",
        "06_retrospective.html",
    ]
    expected = [
        SiteLayout.MARKER,
        SiteLayout.PDF_NAME,
        SiteLayout.DOWNLOADS,
        SiteLayout.FIGURES,
        "index.html",
        *day_pages,
        *latest,
    ]
    assert names == sorted(expected)
    downloads = site / SiteLayout.DOWNLOADS
    retro = week_site / "docs/final"
    for name in ("GA_7DAY_RETROSPECTIVE.md", "GA_7DAY_RETROSPECTIVE.json"):
        assert (downloads / name).read_bytes() == (retro / name).read_bytes()
    for day, run in ((0, "01_ga_day"), (2, "04_health"), (7, "06_retrospective")):
        copy = downloads / f"day_{day:02d}" / f"{run}.ipynb"
        assert copy.read_bytes() == (week_site / f"runs/day_{day:02d}/{run}.ipynb").read_bytes()
    figures = sorted(p.name for p in (site / SiteLayout.FIGURES).iterdir())
    assert "heat-map.png" in figures and "incident-1.png" in figures
    retro_html = (site / "06_retrospective.html").read_text()
    assert "mathjax" not in retro_html.lower() and "cdnjs" not in retro_html  # self-contained


def _not_blank(png: Path) -> float:
    pixels = imread(png)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    return float(np.std(pixels[..., :3]))


def test_pages_in_a_real_browser(week_site: Path, tmp_path: Path, profile: Path) -> None:
    site = week_site / "_site"
    for page in ("index.html", "day_02.html", "06_retrospective.html"):
        shot = tmp_path / f"{page}.png"
        result = chromium(
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            (site / page).as_uri(),
            profile=profile,
        )
        assert shot.is_file(), result.stderr[-500:]
        assert _not_blank(shot) > 0.05
    retro = dom(site / "06_retrospective.html", profile)
    html = str(retro)
    for heading in SECTION_HEADINGS:
        assert f">{heading}" in html, heading
    burn = html.index("Figure: SLO error-budget burn-down")
    assert "<img" in html[burn : burn + 2000] and "data:image/png;base64," in html[burn:]


def test_index_tells_the_weeks_story(week_site: Path, profile: Path) -> None:
    soup = dom(week_site / "_site" / "index.html", profile)
    text = text_of(soup)
    title = (week_site / "docs/final/GA_7DAY_RETROSPECTIVE.md").read_text().splitlines()[0]
    assert " ".join(soup.find("h1").get_text().split()) == title.removeprefix("# ")
    assert "Overall status:" in text
    timeline = [li for li in soup.find_all("li") if re.match(r"Day \d+[,:]", li.get_text())]
    assert any(INCIDENT_LINE in " ".join(li.get_text().split()) for li in timeline)
    for li in timeline:  # every timeline line of a day with pages links it
        day = int(li.get_text().split()[1].rstrip(",:"))
        link = li.find("a", href=re.compile(r"^day_\d\d\.html$"))
        assert (link is not None) == (str(day) in DAYS), li
    heat = soup.find("img", src=f"{SiteLayout.FIGURES}/heat-map.png")
    assert heat is not None and "each KPI" in heat["alt"]
    assert (week_site / "_site" / SiteLayout.FIGURES / "heat-map.png").is_file()
    links = {a["href"] for a in soup.find_all("a", href=True)}
    for page in ("day_00.html", "day_02.html", "day_07.html", "day_02_health.html"):
        assert page in links, page
    for target in (
        SiteLayout.PDF_NAME,
        "downloads/GA_7DAY_RETROSPECTIVE.md",
        "downloads/GA_7DAY_RETROSPECTIVE.json",
        "downloads/day_02/04_health.ipynb",
    ):
        assert target in links, target


def test_navigation_reaches_every_day_and_phase(week_site: Path, profile: Path) -> None:
    site = week_site / "_site"
    nav = [a.get_text() for a in dom(site / "index.html", profile).find("nav").find_all("a")]
    assert nav == ["Overview", "Day 0", "Day 2", "Day 7", "Regression", "Retrospective", "PDF"]
    day = dom(site / "day_02.html", profile)
    links = {a["href"] for a in day.find_all("a", href=True)}
    assert {"day_02_stability.html", "day_02_anomalies.html", "day_02_health.html"} <= links
    assert {"day_00.html", "day_07.html"} <= links  # the days either side
    assert INCIDENT_LINE in text_of(day)
    assert day.find("img", src=f"{SiteLayout.FIGURES}/incident-1.png") is not None
    health = dom(site / "day_02_health.html", profile)
    current = health.find("nav").find("a", class_="current")
    assert current is not None and current.get_text() == "Day 2"
    sub = {a["href"] for a in health.find("div", class_="subnav").find_all("a", href=True)}
    assert {"day_02.html", "day_02_anomalies.html", "day_07.html"} <= sub
    assert "Day 2: health" in text_of(health)  # the day-2 run, not the latest


PAGES = (
    "index.html",
    "day_02.html",
    "day_02_stability.html",
    "day_02_anomalies.html",
    "day_02_health.html",
    "03_anomalies.html",
    "05_regression.html",
    "06_retrospective.html",
)


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_for_people(week_site: Path, profile: Path, page: str) -> None:
    """Tables without an index column, no NaN or scientific numbers, real alt texts."""
    soup = dom(week_site / "_site" / page, profile)
    for table in soup.find_all("table"):
        body = table.find("tbody") or table
        assert not body.find("th"), f"{page}: index column in {str(table)[:200]}"
    text = text_of(soup)
    assert "NaN" not in text.split(), page
    assert not SCIENTIFIC.search(text), SCIENTIFIC.search(text)
    assert "Traceback" not in text
    for img in soup.find_all("img"):
        alt = img.get("alt", "").strip()
        assert alt and "No description has been provided" not in alt, (page, alt)
        assert alt.lower() not in ("png", "image", "chart"), (page, alt)


# --------------------------------------------------------------------------- the PDF


def _pdftotext(path: Path) -> str:
    require_binary("pdftotext")
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_pdf_starts_with_the_title_and_tells_the_story(week_site: Path) -> None:
    text = _pdftotext(week_site / "_site" / SiteLayout.PDF_NAME)
    title = (week_site / "docs/final/GA_7DAY_RETROSPECTIVE.md").read_text().splitlines()[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == title.removeprefix("# ")
    flat = " ".join(text.split())
    assert INCIDENT_LINE in flat
    assert "Phase 6" not in flat and "Built by" not in flat  # no developer text
    assert "png" not in flat.lower()  # no caption made of a file name
    captions = re.findall(r"Figure \d+: (\w+ \w+)", flat)
    assert len(captions) >= 5 and "png" not in captions


def test_pdf_sections_in_presenting_order(week_site: Path) -> None:
    flat = " ".join(_pdftotext(week_site / "_site" / SiteLayout.PDF_NAME).split())
    order = [
        "Executive Summary",
        "What Could Be Improved",
        "SLO Compliance Summary",
        "KPI Trends",
        "Health by Day",
        "What Went Well",
        "Unexpected Drifts",
        "Cost Analysis",
        "Recommendations for v1.0.2",
        "Process Improvements",
        "Action Items",
    ]
    assert all(h.split(" ")[0] in " ".join(SECTION_HEADINGS) for h in order[:3])
    positions = [flat.find(h) for h in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)


def test_pdf_holds_the_charts(week_site: Path) -> None:
    """pdfimages lists the heat map, burn-down, trends and health chart at their pixel sizes."""
    require_binary("pdfimages")
    listing = subprocess.run(
        ["pdfimages", "-list", str(week_site / "_site" / SiteLayout.PDF_NAME)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sizes = {
        (int(cols[3]), int(cols[4]))
        for cols in (line.split() for line in listing.splitlines()[2:])
        if cols[2] == "image"
    }
    ws = Workspace.at(week_site)
    view = report_pdf.load_week_view(ws, changes=str(CHANGES))
    assert view is not None
    document = report_pdf.build_document(ws.retro_path.read_text(), view)
    by_name = {f.name: f for f in document.figures}
    wanted = ["heat-map", "slo-burn-down", "health-score", "incident-1"]
    wanted += [n for n in by_name if n.startswith("trend-")][:1]
    assert len(wanted) == 5
    for name in wanted:
        width, height = by_name[name].figure.get_size_inches() * report_pdf.FIGURE_DPI
        assert (round(width), round(height)) in sizes, (name, sizes)


# --------------------------------------------------------------------------- skipped notebooks


def test_failed_and_corrupt_notebooks_are_skipped_with_a_warning(
    week_site: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(week_site, ws, ignore=shutil.ignore_patterns("_site"))
    (ws / "runs/day_02/03_anomalies.ipynb").write_text('{"cells": [', encoding="utf-8")
    failed = ws / "runs/day_02/02_stability.ipynb"
    book = json.loads(failed.read_text())
    code = next(c for c in book["cells"] if c["cell_type"] == "code")
    code["outputs"].append(
        {
            "output_type": "error",
            "ename": "ValueError",
            "evalue": "boom",
            "traceback": ["Traceback (most recent call last):", "ValueError: boom"],
        }
    )
    failed.write_text(json.dumps(book), encoding="utf-8")
    result = tars("report", "--renderer", "fallback", cwd=ws)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert any("03_anomalies.ipynb" in w and "cannot be read" in w for w in warnings)
    assert any("02_stability.ipynb" in w and "ValueError" in w for w in warnings)
    site = ws / "_site"
    assert not (site / "day_02_anomalies.html").exists()
    assert not (site / "day_02_stability.html").exists()
    assert not (site / "downloads/day_02/02_stability.ipynb").exists()
    assert (site / "day_02_health.html").is_file()
    for page in site.glob("*.html"):
        assert "Traceback" not in page.read_text(), page.name
        assert "boom" not in page.read_text(), page.name


# --------------------------------------------------------------------------- never deletes


def _stub_renderer(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
    """The fallback renderer replaced by one that writes a page (or fails): only the
    safety and swap logic around it run."""

    def render(ctx: object, folder: Path) -> None:
        (folder / SiteLayout.INDEX).write_text("new", encoding="utf-8")
        if fail:
            raise RuntimeError("renderer broke")

    monkeypatch.setattr(report_site, "_render_fallback", render)


def test_refuses_to_replace_what_it_did_not_make(week_site: Path, tmp_path: Path) -> None:
    ws = Workspace.at(week_site)
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine", encoding="utf-8")
    refused = [foreign, week_site, week_site.parent, week_site / "stability", week_site / "runs"]
    for target in refused:
        with pytest.raises(SettingError):
            check_output_dir(target, ws)
    holding = tmp_path / "holding"
    (holding / "ga_kpis").mkdir(parents=True)
    (holding / SiteLayout.MARKER).write_text("", encoding="utf-8")
    with pytest.raises(SettingError, match="artifacts"):
        check_output_dir(holding, ws)  # even with a marker
    result = tars("report", "--renderer", "fallback", "--output-dir", str(foreign), cwd=week_site)
    assert result.returncode == 2 and SiteLayout.MARKER in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]
    assert (foreign / "keep.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output_dir(empty, ws) == empty.resolve()
    assert check_output_dir(tmp_path / "new", ws) == (tmp_path / "new").resolve()


def test_replaces_a_previous_site_by_swapping(
    week_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    shutil.copytree(week_site / "_site", out)  # a site the fixture's `tars report` made
    (out / "stale.html").write_text("old", encoding="utf-8")
    _stub_renderer(monkeypatch)
    render_site(Workspace(week_site), out, "fallback")
    assert sorted(p.name for p in out.iterdir()) == sorted([SiteLayout.INDEX, SiteLayout.MARKER])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # nothing left beside it


def test_a_failed_render_leaves_the_previous_site(
    week_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    shutil.copytree(week_site / "_site", out)
    before = sorted(p.name for p in out.iterdir())
    _stub_renderer(monkeypatch, fail=True)
    with pytest.raises(RuntimeError):
        render_site(Workspace(week_site), out, "fallback")
    assert sorted(p.name for p in out.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


# --------------------------------------------------------------------------- Quarto


@pytest.fixture(scope="module")
def quarto_stage(week_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    stage = tmp_path_factory.mktemp("quarto-stage")
    quarto_project(site_context(Workspace.at(week_site)), stage)
    return stage


def _front_matter(text: str) -> dict[str, object]:
    assert text.startswith("---\n")
    data = yaml.safe_load(text.split("---\n", 2)[1])
    assert isinstance(data, dict)
    return data


def test_quarto_project_has_the_fallbacks_pages(week_site: Path, quarto_stage: Path) -> None:
    """Quarto is not installed here: the staged project is checked, not Quarto's output."""
    config = yaml.safe_load((quarto_stage / SiteLayout.QUARTO_CONFIG).read_text())
    rendered = {SiteLayout.page_of_source(s) for s in config["project"]["render"]}
    fallback = {p.name for p in (week_site / "_site").glob("*.html")}
    assert rendered == fallback | {SiteLayout.page_of_source(SiteLayout.pdf_source())}
    for source in config["project"]["render"]:
        assert (quarto_stage / source).is_file(), source
    assert config["project"]["output-dir"] == str(SiteLayout.DEFAULT_DIR)
    assert config["execute"] == {"enabled": False}
    assert f"{SiteLayout.DOWNLOADS}/**" in config["project"]["resources"]
    title = (week_site / "docs/final/GA_7DAY_RETROSPECTIVE.md").read_text().splitlines()[0]
    assert config["website"]["title"] == title.removeprefix("# ")
    # the same navigation as the fallback, pointing at the staged sources
    ctx = site_context(Workspace.at(week_site))
    staged = [
        (e["text"], SiteLayout.page_of_source(e["href"]))
        for e in config["website"]["navbar"]["left"]
    ]
    assert staged == navbar(ctx)
    assert [t for t, _ in staged][:3] == ["Overview", "Day 0", "Day 2"]
    for _, page in staged:
        assert page == SiteLayout.PDF_NAME or page in rendered


def test_quarto_pages_html_and_the_pdf_typst(week_site: Path, quarto_stage: Path) -> None:
    config = yaml.safe_load((quarto_stage / SiteLayout.QUARTO_CONFIG).read_text())
    typst = config["format"]["typst"]
    assert typst["include-before-body"] == SiteLayout.PDF_STYLE
    assert (quarto_stage / SiteLayout.PDF_STYLE).read_text() == report_pdf.TYPST_STYLE
    assert report_pdf.pdf_options()["papersize"] == typst["papersize"]  # the fallback's too
    for source in config["project"]["render"]:
        path = quarto_stage / source
        if path.suffix == ".ipynb":
            book = json.loads(path.read_text())
            head = "".join(book["cells"][0]["source"])
            assert book["cells"][0]["cell_type"] == "raw"
            assert _front_matter(head + "\n")["format"] == "html"
            outputs = [o for c in book["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
            assert not [o for o in outputs if o["output_type"] == "error"]
            for output in outputs:
                if "image/png" in output.get("data", {}):
                    alt = output["metadata"]["image/png"]["alt"]
                    assert alt and "No description" not in alt
            continue
        front = _front_matter(path.read_text())
        expected = "typst" if source == SiteLayout.pdf_source() else "html"
        assert front["format"] == expected, source
    report = (quarto_stage / SiteLayout.pdf_source()).read_text()
    title = (week_site / "docs/final/GA_7DAY_RETROSPECTIVE.md").read_text().splitlines()[0]
    assert _front_matter(report)["title"] == title.removeprefix("# ")
    images = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", report)
    assert len(images) >= 8
    for image in images:
        assert (quarto_stage / image).is_file(), image
    # the same figures on the pages as the fallback's
    pages = "".join((quarto_stage / s).read_text() for s in ("index.qmd", "day_02.qmd"))
    shown = set(re.findall(r"\((figures/[^)]+\.png)\)", pages))
    fallback = {f"{SiteLayout.FIGURES}/{p.name}" for p in (week_site / "_site/figures").iterdir()}
    assert shown == fallback
    assert (quarto_stage / "downloads/day_02/04_health.ipynb").is_file()


def _fake_quarto(folder: Path, script: str) -> None:
    quarto = folder / "quarto"
    quarto.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    quarto.chmod(quarto.stat().st_mode | stat.S_IEXEC)


def test_quarto_path_swaps_in_its_output_with_the_marker(
    week_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in `quarto` (it writes two files into the stage's _site) drives the Quarto path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_quarto(
        bin_dir,
        'test "$1" = render || exit 3\n'
        'mkdir -p "$2/_site" && echo page > "$2/_site/index.html"'
        ' && echo pdf > "$2/_site/GA_7DAY_RETROSPECTIVE.pdf"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    shutil.copytree(week_site / "_site", out)  # a previous (fallback) site: replaced whole
    site = render_site(Workspace(week_site), out, "quarto")
    assert site.renderer == "quarto" and site.pdf == out / SiteLayout.PDF_NAME
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [SiteLayout.INDEX, SiteLayout.PDF_NAME, SiteLayout.MARKER]
    )
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SettingError):
        render_site(Workspace(week_site), foreign, "quarto")
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]
    _fake_quarto(bin_dir, "echo 'ERROR: something broke' >&2; exit 1\n")
    with pytest.raises(Exception, match="quarto render failed: ERROR: something broke"):
        render_site(Workspace(week_site), out, "quarto")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [SiteLayout.INDEX, SiteLayout.PDF_NAME, SiteLayout.MARKER]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "foreign", "out"]


def test_quarto_config_shipped_is_the_one_staged() -> None:
    shipped = yaml.safe_load(PROJECT.quarto_config.read_text())
    assert shipped["format"]["typst"]["include-before-body"] == SiteLayout.PDF_STYLE
    hrefs = [e["href"] for e in shipped["website"]["navbar"]["left"]]
    assert hrefs[0] == SiteLayout.QUARTO_INDEX
    assert hrefs[1:9] == [SiteLayout.source_of(SiteLayout.day_page_name(d)) for d in range(8)]
    assert hrefs[-1] == SiteLayout.PDF_NAME
    assert shipped["format"]["html"]["echo"] is False


# --------------------------------------------------------------------------- other workspaces


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
    assert f"{phase_title('06_retrospective')}: not run yet" in index
    assert 'href="day_03.html"' in index and (tmp_path / "_site" / "day_03_health.html").is_file()
    assert not (tmp_path / "_site" / SiteLayout.PDF_NAME).exists()
    again = tars("report", "--renderer", "fallback", cwd=tmp_path)  # replaces its own site
    assert again.returncode == 0, again.stderr


def test_failing_cell_names_notebook_and_keeps_it(tmp_path: Path) -> None:
    result = tars("run-day", "1", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path)
    assert result.returncode == 2  # the notebook failed on an InputError: no GA baseline
    line = result.stderr.strip().splitlines()[-1]
    assert "notebook 02_stability failed in cell" in line
    assert "ga_kpi_summary.json: file not found" in line
    failed = tmp_path / "runs" / "day_01" / "02_stability.failed.ipynb"
    assert f"kept at {failed}" in line and failed.is_file()
    assert not (tmp_path / "runs" / "day_01" / "02_stability.ipynb").exists()
    assert "Traceback" not in result.stderr
    report = tars("report", "--renderer", "fallback", cwd=tmp_path)  # kept, never published
    assert report.returncode == 2, report.stderr
    assert f"warning: skipped {failed}: a failed run kept for inspection" in report.stderr
    assert not (tmp_path / SiteLayout.DEFAULT_DIR).exists()


def test_report_without_runs_says_what_to_do(tmp_path: Path) -> None:
    result = tars("report", cwd=tmp_path)
    assert result.returncode == 2 and "run `tars run-day N` first" in result.stderr


def test_label_with_script_is_shown_as_text(tmp_path: Path, profile: Path) -> None:
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
    retro_dom = str(dom(site.pages["06_retrospective"], profile))
    assert "<script>alert" not in retro_dom and "pod=&lt;script&gt;alert" in retro_dom


# --------------------------------------------------------------------------- the document, alone


RETRO_MD = """# Acme Shop v2.3.0: GA 7-Day Retrospective

*Generated by tars retro.*

## Executive Summary

What happened, day by day (UTC):

- Day 2, 14:00-16:30 UTC: Latency spike (critical)

## What Went Well ✅

| Category | Metric | Target | Actual | Achievement |
|---|---|---|---|---|
| performance | p99_latency_ms | 500 ms | 482.4 ms, a note that makes the line long | 103.65% |

## What Could Be Improved ⚠️

### Incidents

- Day 2 latency spike

## Action Items

- [ ] Review the Day 2 incident
"""


def test_document_takes_the_title_from_the_markdown_and_reorders(tmp_path: Path) -> None:
    document = report_pdf.build_document(RETRO_MD, None)
    assert document.title == "Acme Shop v2.3.0: GA 7-Day Retrospective"
    body = document.body
    assert "Acme Shop" not in body  # the title is the document's, not a heading
    order = [body.find(h) for h in ("# Executive", "# What Could", "# What Went", "# Action")]
    assert -1 not in order and order == sorted(order)
    assert "\n## Incidents" in body  # one level up: sections are level 1 under the title
    separator = next(line for line in body.splitlines() if line.startswith("|-"))
    widths = [len(cell) for cell in separator.strip("|").split("|")]
    assert widths[3] > widths[0] and min(widths) >= 7  # by content, not equal shares
    output = tmp_path / "r.pdf"
    report_pdf.render_pdf(document, output)
    lines = [line.strip() for line in _pdftotext(output).splitlines() if line.strip()]
    assert lines[0] == document.title


def test_day_links_only_where_a_day_has_a_page() -> None:
    linked = report_site.link_days("Day 2, 14:00 UTC; Day 3: quiet; (Day 2); day 2", [2])
    assert linked == (
        "[Day 2](day_02.html), 14:00 UTC; Day 3: quiet; ([Day 2](day_02.html)); day 2"
    )
    assert report_site.link_days("[Day 2](day_02.html)", [2]) == "[Day 2](day_02.html)"


# --------------------------------------------------------------------------- statuses in words


def _status_view(catalogue: Catalogue) -> report_pdf.WeekView:
    """A week whose day 3 had no traffic (scored 95 on the rest) and day 4 is degraded."""
    from tars_lib.retro.cost import analyze_cost

    week = build_week(catalogue, quiet())

    def report(day: int, score: float, status: str) -> HealthReport:
        return HealthReport(
            day_number=day,
            generated_at=GA + (day + 1) * DAY,
            health_score=score,
            status=status,  # type: ignore[arg-type]
            components={"slo_compliance": HealthComponent(score=score, weight=1.0, detail="-")},
            mitigation_plan=[],
        )

    health = {1: report(1, 95.0, "healthy"), 3: report(3, 95.0, "no_data")}
    health[4] = report(4, 92.1, "degraded")
    return report_pdf.WeekView(week=week, health=health, burns=[], cost=analyze_cost(week))


def test_day_table_and_day_pages_write_statuses_as_words(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    view = _status_view(catalogue)
    ctx = report_site.SiteContext(
        workspace=Workspace(tmp_path),
        runs={d: {} for d in (1, 3, 4)},
        latest={},
        warnings=[],
        view=view,
    )
    index = report_site.index_markdown(ctx)
    rows = {
        line.split("|")[1].strip(): line.split("|")[3].strip()
        for line in index.splitlines()
        if line.startswith("| [Day")
    }
    assert rows == {
        "[Day 1](day_01.html)": "95.0 (healthy)",
        "[Day 3](day_03.html)": "– (no data)",
        "[Day 4](day_04.html)": "92.1 (degraded)",
    }
    assert "no_data" not in index
    day3 = report_site.day_markdown(ctx, 3)
    assert "**No health score: no data (the day had no traffic to judge).**" in day3
    assert "95" not in day3 and "no_data" not in day3
    assert "**Health score 92.1 of 100: degraded.**" in report_site.day_markdown(ctx, 4)
    table = report_pdf._health_table(view)
    cells = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[3:5]]
        for line in table.splitlines()[2:]
    }
    assert cells["1"] == ["95.0", "healthy"]
    assert cells["2"] == ["n/a", "no report"]
    assert cells["3"] == ["–", "no data"]
    assert cells["4"] == ["92.1", "degraded"]
