"""Labels from the catalogue reach every output as written: the retrospective Markdown in
any Markdown reader, the site's pages, the PDF (pandoc -> typst) and the charts.

Each label here broke one dialect: ``@edge`` was a pandoc citation (the PDF failed:
"the document does not contain a bibliography"), ``$\\nope$`` crashed matplotlib's
mathtext in the notebooks' charts, and the third has Markdown, pandoc and HTML syntax.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pypandoc
import pytest
from bs4 import BeautifulSoup
from matplotlib.figure import Figure
from matplotlib.text import Text

from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.workspace import PROJECT, SiteLayout, Workspace
from tars_lib.report import charts
from tars_lib.report.pdf import MARKDOWN_FORMAT
from tars_lib.retro.markdown import md_escape
from testsupport.servers import require_binary

from .conftest import SCENARIO
from .conftest import run_tars as tars

WEIRD = {
    "p99_latency_ms": "P99 latency @edge",
    "p95_latency_ms": "$\\nope$",
    "error_rate": "a^b~c [x](y) <script>*_",
}
"""KPI -> its label in the test catalogue; all three KPIs are in the scenario's incidents."""
LABELS = tuple(WEIRD.values())


def _plain(markdown: str, reader: str) -> str:
    text = pypandoc.convert_text(markdown, "plain", format=reader, extra_args=["--wrap=none"])
    return " ".join(str(text).split())


def _words(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- the Markdown


@pytest.mark.parametrize("reader", ["commonmark", "gfm", "markdown", MARKDOWN_FORMAT])
@pytest.mark.parametrize("label", [*LABELS, "- 5 pods", "1. first", "x^2^ H~2~O", "{#id}"])
def test_escaped_label_reads_as_written_in_every_markdown_reader(label: str, reader: str) -> None:
    assert _plain(md_escape(label), reader) == label
    assert _plain(f"- {md_escape(label)}", reader) == f"- {label}"
    if reader != "commonmark":  # no tables in plain CommonMark
        table = _plain(f"| Name | Day |\n|---|---|\n| {md_escape(label)} | 2 |", reader)
        words = [w for w in table.split() if not re.fullmatch("-{3,}", w)]  # the header rule
        assert words == ["Name", "Day", *label.split(), "2"], table


def test_escaping_keeps_ordinary_values_readable() -> None:
    """Numbers and names stay as people write them in the .md file itself."""
    for text in ("482.4 ms", "-13.8%", "p99_latency_ms", "2025-11-20 14:00"):
        assert md_escape(text) == text


@pytest.mark.parametrize("raw", ["P99 latency @edge", "a^b~c x^2^ H~2~O ~~gone~~", "$\\nope$ $5"])
def test_pdf_reader_gives_no_meaning_to_data_characters(raw: str) -> None:
    """Even unescaped text is text to the PDF's pandoc reader: no citation, super- or
    subscript, strikeout, maths or raw TeX."""
    typst_source = pypandoc.convert_text(raw, "typst", format=MARKDOWN_FORMAT)
    assert "#super" not in typst_source and "#sub" not in typst_source
    assert "#strike" not in typst_source and "$" not in typst_source.replace("\\$", "")
    assert _plain(raw, MARKDOWN_FORMAT) == raw


# --------------------------------------------------------------------------- the charts


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


@pytest.fixture(scope="module")
def weird_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled catalogue with three KPIs relabelled (``--config``)."""
    folder = tmp_path_factory.mktemp("catalogue")
    text = PROJECT.catalogue.read_text(encoding="utf-8")
    for kpi, label in WEIRD.items():
        text, count = re.subn(
            rf"(^  {kpi}:\n    label: )[^\n]*$",
            lambda m, label=label: m.group(1) + '"' + label.replace("\\", "\\\\") + '"',
            text,
            flags=re.M,
        )
        assert count == 1, kpi
    path = folder / "kpis.yaml"
    path.write_text(text, encoding="utf-8")
    shutil.copy(PROJECT.catalogue.with_name("pricing.yaml"), folder / "pricing.yaml")
    labels = {k: s.label for k, s in load_catalogue(path).kpis.items()}
    assert {k: labels[k] for k in WEIRD} == WEIRD
    return path


def test_every_chart_draws_labels_as_text(weird_catalogue: Path, tmp_path: Path) -> None:
    """Mathtext off on every text of every chart; each one saves (parsing would raise)."""
    from tars_lib.judge.incidents import group_incidents
    from tars_lib.retro.cost import analyze_cost
    from tars_lib.retro.slo import analyze_slos
    from tars_lib.retro.timeline import heat_map

    from .conftest import build_week, event, slo_day

    catalogue = load_catalogue(weird_catalogue)
    week = build_week(
        catalogue,
        {
            "p95_latency_ms": [200.0, 210.0, 320.0, 260.0, 250.0, 240.0, 235.0, 290.0],
            "p99_latency_ms": [400.0, 410.0, 620.0, 450.0, 440.0, 430.0, 420.0, 560.0],
            "error_rate": [0.03, 0.03, 0.3, 0.05, 0.04, 0.04, 0.03, 0.09],
        },
        slos={"p99_latency_ms": [slo_day("p99_latency_ms", 0.001, 99.0)] * 8},
        events=[
            event("p95_latency_ms", 2, 9.0, severity="critical"),
            event("error_rate", 2, 9.0, severity="critical"),
        ],
    )
    assert week.anomalies is not None
    grouped = group_incidents(week.anomalies.events, catalogue)
    week = dataclasses.replace(
        week, anomalies=week.anomalies.model_copy(update={"incidents": grouped})
    )
    assert len(week.incidents) == 1
    figures = [
        charts.drift_chart(week),
        charts.kpi_trend_chart(week, "p95_latency_ms"),
        charts.kpi_trend_chart(week, "error_rate"),
        charts.cost_chart(week, analyze_cost(week)),
        charts.burn_down_grid(analyze_slos(week), ga_timestamp=week.ga.ga_timestamp),
        charts.heat_map_chart(heat_map(week, {}), ga_timestamp=week.ga.ga_timestamp),
        *(charts.incident_chart(week, i) for i in week.incidents),
    ]
    shown = ""
    for n, fig in enumerate(figures):
        charts.save_png(fig, tmp_path / f"{n}.png")
        assert (tmp_path / f"{n}.png").stat().st_size > 1000
        texts = _texts(fig)
        assert all(not t.get_parse_math() for t in texts), fig.get_label()
        shown += " ".join(t.get_text() for t in texts) + " "
    for label in LABELS:
        assert label in shown, label


def test_literal_text_reaches_texts_added_after_the_chart(tmp_path: Path) -> None:
    fig = charts.health_chart({}, ga_timestamp=None)
    fig.axes[0].set_title("$\\nope$ added by a notebook")
    charts.save_png(fig, tmp_path / "late.png")  # parsed as mathtext, this would raise
    assert (tmp_path / "late.png").stat().st_size > 1000


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def weird_week(weird_catalogue: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated week run with the relabelled catalogue, then reported: GA day, day 2
    (the latency incident, charted on its day page) and day 7 (every phase left)."""
    ws = tmp_path_factory.mktemp("weird-week")
    changes = SCENARIO.with_name("ga_week_changes.yaml")
    for day in ("0", "2", "7"):
        result = tars(
            "run-day",
            day,
            "--scenario",
            str(SCENARIO),
            "--changes",
            str(changes),
            "--config",
            str(weird_catalogue),
            "--quiet",
            cwd=ws,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    report = tars("report", "--renderer", "fallback", cwd=ws)
    assert report.returncode == 0, report.stderr[-2000:]
    return ws


def test_retrospective_markdown_shows_labels_literally(weird_week: Path) -> None:
    markdown = Workspace(weird_week).retro_path.read_text(encoding="utf-8")
    for label in LABELS:
        assert md_escape(label) in markdown, label
    for reader in ("commonmark", "gfm", "markdown"):
        text = _plain(markdown, reader)
        for label in LABELS:
            assert label in text, (label, reader)


def test_site_pages_show_labels_literally(weird_week: Path) -> None:
    site = weird_week / SiteLayout.DEFAULT_DIR
    seen = {label: [] for label in LABELS}
    for page in sorted(site.glob("*.html")):
        source = page.read_text(encoding="utf-8")
        soup = BeautifulSoup(source, "html.parser")
        assert not soup.find_all(["sup", "sub", "del"]), page.name
        assert "<script>*" not in source and "$\\nope$</span>" not in source
        text = _words(soup.get_text(" "))
        for label in LABELS:
            if label in text:
                seen[label].append(page.name)
    for label, pages in seen.items():
        assert "06_retrospective.html" in pages and "03_anomalies.html" in pages, (label, pages)
    index = _words(BeautifulSoup((site / SiteLayout.INDEX).read_text(), "html.parser").get_text())
    assert "P99 latency @edge" in index  # the executive summary's timeline


def test_pdf_shows_labels_literally(weird_week: Path) -> None:
    pdf = weird_week / SiteLayout.DEFAULT_DIR / SiteLayout.PDF_NAME
    binary = require_binary("pdftotext")
    text = subprocess.run(
        [binary, "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = _words(text.replace("\u2212", "-"))
    for label in LABELS:
        assert label in text, label


def test_charts_of_the_week_render(weird_week: Path) -> None:
    figures = weird_week / SiteLayout.DEFAULT_DIR / SiteLayout.FIGURES
    names = sorted(p.name for p in figures.glob("*.png"))
    assert "heat-map.png" in names and any(n.startswith("incident-") for n in names)
    assert all((figures / n).stat().st_size > 1000 for n in names)
