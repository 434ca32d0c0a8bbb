"""The retrospective as a document people can present: Markdown with figures, then PDF.

The document is built from the workspace's artifacts and the retrospective
Markdown (``Workspace.retro_path``), never from a notebook's developer cells:
the release's title (the Markdown's first heading), the executive summary with
the week's timeline and the day-by-KPI heat map, the incidents with an intraday
chart each, the SLO burn-downs, KPI trends, health by day, what went well,
drifts, cost, recommendations and action items.

Both renderers use the same document: the fallback converts it with pandoc to
typst and compiles it with the ``typst`` package; Quarto renders it with its
typst format. Page size, margins and font size come from ``_quarto.yml``
(``format.typst``) in both cases, and ``TYPST_STYLE`` (included before the
body) turns justification and hyphenation off and aligns tables left. Charts
are drawn at print size (``charts.PRINT_WIDTH``) and placed at their own width,
so their text prints at the size it was drawn, 8 pt or more.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from matplotlib.figure import Figure

from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.errors import NotebookError, TarsError
from tars_lib.core.models import CostAnalysis, HealthReport, Incident
from tars_lib.core.policy import INVESTIGATE_ABOVE
from tars_lib.core.week import ReleaseWeek, load_release_week
from tars_lib.core.workspace import PROJECT, SiteLayout, Workspace
from tars_lib.report import charts
from tars_lib.retro.cost import analyze_cost
from tars_lib.retro.markdown import md_escape
from tars_lib.retro.slo import BurnDown, analyze_slos

__all__ = [
    "FIGURE_DPI",
    "TYPST_STYLE",
    "DocFigure",
    "RetroDocument",
    "WeekView",
    "build_document",
    "heat_map_figure",
    "load_week_view",
    "pdf_options",
    "release_title",
    "render_pdf",
    "write_figures",
]

FIGURE_DPI = 200
"""Pixels per inch of the charts written for the site and the PDF (crisp in print)."""

TYPST_STYLE = """\
// T.A.R.S. report style, included before the body so it overrides the template.
#set par(justify: false)
#set text(hyphenate: false)
#show heading: set block(above: 1.4em, below: 0.7em)
#set table(
  inset: (x: 4pt, y: 3pt),
  stroke: (x, y) => (bottom: if y == 0 { 0.7pt } else { 0.3pt + luma(190) }),
)
#show table: set align(left)
#show table: set text(size: 8.5pt)
#show table: t => block(width: 100%, t)
#show table.cell.where(y: 0): set text(weight: "bold")
#show figure.where(kind: table): set block(breakable: true)
#show figure.caption: set text(size: 9pt)
#set figure(gap: 0.6em)
#show figure.where(kind: image): set figure(placement: auto)
// Figures float to the top or bottom of a page (no half-empty pages), but not past the
// next section, except into the KPI trends, which are figures only.
#show heading.where(level: 1): it => {
  if it.at("label", default: none) != <kpi-trends> { place.flush() }
  it
}
"""

_DEFAULT_PDF = {"papersize": "a4", "margin": {"x": "1.8cm", "y": "2cm"}, "fontsize": "10pt"}
_PDF_KEYS = ("papersize", "margin", "fontsize", "mainfont")
_HEADING = re.compile(r"^(#{2,6}) ", re.MULTILINE)
_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_PANDOC_COLUMNS = 72
"""Pandoc gives a pipe table relative column widths when a line is longer than this."""

# The retrospective's sections in the PDF's order (matched by the start of the
# heading); the document's own sections go in between. Unknown sections keep
# their order after the cost analysis.
_ORDER = (
    "Executive Summary",
    "What Could Be Improved",
    "SLO Compliance",
    "#trends",
    "#health",
    "What Went Well",
    "Unexpected Drifts",
    "Cost Analysis",
    "#other",
    "Recommendations",
    "Process Improvements",
    "Action Items",
)


@dataclass(frozen=True)
class WeekView:
    """What the document's figures are drawn from: the week and its judgements."""

    week: ReleaseWeek
    health: dict[int, HealthReport]
    burns: list[BurnDown]
    cost: CostAnalysis
    healthy_at: float = 80.0
    degraded_at: float = 60.0


@dataclass(frozen=True)
class DocFigure:
    name: str
    caption: str
    figure: Figure

    @property
    def href(self) -> str:
        return f"{SiteLayout.FIGURES}/{self.name}.png"

    def markdown(self, width: str = "") -> str:
        """``![caption](figures/x.png){width=6.5in}``: by default at its drawn width, so
        print shows it at scale 1; a page on screen may give another (``"80%"``)."""
        width = width or f"{float(self.figure.get_size_inches()[0]):g}in"
        return f"![{md_escape(self.caption)}]({self.href}){{width={width}}}"


@dataclass(frozen=True)
class RetroDocument:
    title: str
    subtitle: str
    body: str
    figures: list[DocFigure] = field(default_factory=list)

    def front_matter(self, **extra: Any) -> str:
        data: dict[str, Any] = {"title": self.title}
        if self.subtitle:
            data["subtitle"] = self.subtitle
        data.update(extra)
        return "---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False) + "---\n\n"


def load_week_view(workspace: Workspace, *, config: str = "", changes: str = "") -> WeekView | None:
    """The week as the retrospective saw it (its catalogue and changes file); None if unreadable."""
    try:
        catalogue = load_catalogue(Path(config) if config else None)
        change_file = Path(changes) if changes and Path(changes).is_file() else None
        week = load_release_week(workspace.retro_inputs(change_file), catalogue)
        health = workspace.health()
    except TarsError:
        return None
    return WeekView(
        week=week,
        health=health,
        burns=analyze_slos(week),
        cost=analyze_cost(week),
        healthy_at=catalogue.health.healthy_at,
        degraded_at=catalogue.health.degraded_at,
    )


def release_title(markdown: str) -> str | None:
    """The retrospective Markdown's first ``# `` heading: the release's title."""
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


def heat_map_figure(view: WeekView) -> DocFigure:
    from tars_lib.retro.timeline import heat_map

    heat = heat_map(view.week, view.health)
    fig = charts.heat_map_chart(heat, ga_timestamp=view.week.ga.ga_timestamp)
    return DocFigure(
        "heat-map",
        "The week at a glance: each KPI's status by day (incident, SLO breach, moved by a "
        "recorded change, adverse drift, partial data, OK, no data), the daily health score "
        "on top",
        fig,
    )


def _incident_figure(view: WeekView, index: int, incident: Incident) -> DocFigure:
    week = view.week
    day = week.day_of(incident.start)
    names = ", ".join(k.label for k in incident.kpis[:4])
    caption = (
        f"Incident on day {day}, {incident.start:%H:%M}-{incident.end:%H:%M} UTC "
        f"({incident.severity}): {incident.title.rsplit(', ', 1)[0]}. 5-minute values of "
        f"{names} three hours either side, against the baseline the detector held; "
        "the incident is shaded, its peak marked"
    )
    return DocFigure(f"incident-{index}", caption, charts.incident_chart(week, incident))


def _trend_kpis(view: WeekView) -> list[str]:
    """The KPIs worth a trend chart: the incidents', the SLOs', the drifts to investigate."""
    week = view.week
    picked: list[str] = [i.kpis[0].kpi for i in week.incidents if i.kpis]
    picked += [b.kpi for b in view.burns]
    picked += [
        k for k, (_, drift) in charts.drift_values(week).items() if abs(drift) >= INVESTIGATE_ABOVE
    ]
    out: list[str] = []
    for kpi in picked:
        if kpi in week.catalogue.kpis and kpi not in out:
            out.append(kpi)
    return out[:6]


def _trend_figure(view: WeekView, kpi: str) -> DocFigure:
    spec = view.week.catalogue.kpis[kpi]
    target = " and target" if spec.target is not None else ""
    caption = (
        f"{spec.label} by day against its GA-day baseline{target}; adverse high or critical "
        "anomalies marked, days of incidents that moved it shaded"
    )
    return DocFigure(f"trend-{kpi}", caption, charts.kpi_trend_chart(view.week, kpi))


def _health_table(view: WeekView) -> str:
    week = view.week
    rows = ["| Day | Date (UTC) | Score | Status | Top mitigation |", "|---|---|--:|---|---|"]
    for day in range(1, 8):
        date = f"{week.ga.ga_timestamp + timedelta(days=day):%Y-%m-%d}"
        report = view.health.get(day)
        if report is None:
            rows.append(f"| {day} | {date} | n/a | no report | |")
            continue
        plan = report.mitigation_plan
        top = f"{plan[0].priority}: {md_escape(plan[0].action)}" if plan else "none needed"
        score = "–" if report.status == "no_data" else f"{report.health_score:.1f}"
        status = charts.health_status_text(report.status)
        rows.append(f"| {day} | {date} | {score} | {status} | {top} |")
    return "\n".join(rows) + "\n"


def _sections(markdown: str) -> tuple[str, list[tuple[str, str]]]:
    """The Markdown split at its ``## `` headings: (text before, [(heading, section)])."""
    head, *parts = ("\n" + markdown).split("\n## ")
    sections = []
    for part in parts:
        heading = part.split("\n", 1)[0].strip()
        sections.append((heading, "## " + part.rstrip() + "\n"))
    return head.strip(), sections


def _rank(heading: str) -> int:
    for i, prefix in enumerate(_ORDER):
        if heading.startswith(prefix):
            return i
    return _ORDER.index("#other")


def _with_incidents(section: str, figures: list[DocFigure]) -> str:
    """Insert the incident charts after the section's ``### Incidents`` list."""
    if not figures:
        return section
    block = "\n" + "\n\n".join(f.markdown() for f in figures) + "\n"
    parts = section.split("\n### ")
    for i, part in enumerate(parts):
        if i and part.startswith("Incidents"):
            parts[i] = part.rstrip() + "\n" + block
            return "\n### ".join(parts)
    first, _, rest = section.partition("\n")
    return f"{first}\n{block}\n{rest}"


def _balance_tables(markdown: str) -> str:
    """Give wide pipe tables column widths by content, not equal shares.

    Pandoc (and Quarto) turn a pipe table with a line longer than 72 characters
    into relative column widths taken from the dashes of its separator line;
    ``|---|---|`` would give every column the same width, so a long description
    wraps in a narrow column beside a wide "Day" column. The dashes are set in
    proportion to each column's longest cell (kept within 7..48).
    """
    lines = markdown.split("\n")
    i = 0
    while i < len(lines) - 1:
        if not (lines[i].startswith("|") and _SEPARATOR.match(lines[i + 1])):
            i += 1
            continue
        end = i + 2
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        table = [lines[i], *lines[i + 2 : end]]
        if max(len(line) for line in table) > _PANDOC_COLUMNS:
            cells = [[c.strip() for c in _CELL_SPLIT.split(row.strip())[1:-1]] for row in table]
            specs = [c.strip() for c in lines[i + 1].strip().strip("|").split("|")]
            widths = [
                min(max(max((len(r[n]) for r in cells if n < len(r)), default=3), 7), 48)
                for n in range(len(specs))
            ]
            rebuilt = []
            for spec, width in zip(specs, widths, strict=True):
                left, right = spec.startswith(":"), spec.endswith(":")
                dashes = "-" * max(width - left - right, 1)
                rebuilt.append((":" if left else "") + dashes + (":" if right else ""))
            lines[i + 1] = "|" + "|".join(rebuilt) + "|"
        i = end
    return "\n".join(lines)


def _lower_headings(markdown: str) -> str:
    """``## Section`` -> ``# Section``: the release title is the document's title."""
    return _HEADING.sub(lambda m: m.group(1)[1:] + " ", markdown)


def build_document(retro_markdown: str, view: WeekView | None) -> RetroDocument:
    """The PDF's Markdown: the retrospective reordered for presenting, with its figures."""
    title = release_title(retro_markdown) or "Release week retrospective"
    text = retro_markdown
    first = text.find("# " + title)
    if first >= 0:
        text = text[first + len("# " + title) :]
    head, sections = _sections(text)
    figures: list[DocFigure] = []
    extra: list[tuple[str, str]] = []
    subtitle = ""
    if view is not None:
        week = view.week
        ga = week.ga.ga_timestamp
        subtitle = f"Release week {ga:%Y-%m-%d} to {week.end:%Y-%m-%d} (UTC)"
        heat = heat_map_figure(view)
        incident_figs = [_incident_figure(view, n, i) for n, i in enumerate(week.incidents, 1)]
        burn = DocFigure(
            "slo-burn-down",
            "Cumulative error-budget use of each SLO by day against the linear pace that "
            "spends the budget over its period; days of the incidents that spent it shaded",
            charts.burn_down_grid(view.burns, ga_timestamp=ga, incidents=week.incidents),
        )
        trends = [_trend_figure(view, k) for k in _trend_kpis(view)]
        health = DocFigure(
            "health-score",
            f"Daily health score (0-100) and status for days 1 to 7 against the healthy "
            f"({view.healthy_at:g} and above) and degraded ({view.degraded_at:g}) bands",
            charts.health_chart(view.health, view.healthy_at, view.degraded_at, ga_timestamp=ga),
        )
        drift = DocFigure(
            "kpi-drift",
            "Drift of every KPI on its last day with data from the GA day, against the "
            "drift, investigation and regression bands",
            charts.drift_chart(week),
        )
        cost = DocFigure(
            "cost",
            "Daily cost over the release week, and the daily average broken down by resource",
            charts.cost_chart(week, view.cost),
        )
        figures = [heat, *incident_figs, burn, *trends, health, drift, cost]
        placed = {
            "Executive Summary": [heat],
            "SLO Compliance": [burn],
            "Unexpected Drifts": [drift],
            "Cost Analysis": [cost],
        }
        updated = []
        for heading, section in sections:
            if heading.startswith("What Could Be Improved"):
                section = _with_incidents(section, incident_figs)
            for prefix, figs in placed.items():
                if heading.startswith(prefix):
                    section += "\n" + "\n\n".join(f.markdown() for f in figs) + "\n"
            updated.append((heading, section))
        sections = updated
        if trends:
            extra.append(
                (
                    "#trends",
                    "## KPI Trends\n\nThe KPIs the incidents, SLOs and larger drifts concern, "
                    "day by day.\n\n" + "\n\n".join(f.markdown() for f in trends) + "\n",
                )
            )
        extra.append(
            (
                "#health",
                "## Health by Day\n\n" + _health_table(view) + "\n" + health.markdown() + "\n",
            )
        )
    ordered = sorted(
        [(h, s) for h, s in sections] + extra,
        key=lambda item: _rank(item[0]),
    )
    body = "\n".join([head, "", *(s for _, s in ordered)])
    return RetroDocument(title, subtitle, _balance_tables(_lower_headings(body)), figures)


def write_figures(figures: list[DocFigure], folder: Path) -> None:
    for fig in figures:
        charts.save_png(fig.figure, folder / fig.href, dpi=FIGURE_DPI)


def pdf_options(config: Path | None = None) -> dict[str, Any]:
    """Page size, margins and font size of the PDF: ``format.typst`` of ``_quarto.yml``."""
    path = PROJECT.quarto_config if config is None else config
    options: dict[str, Any] = dict(_DEFAULT_PDF)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return options
    typst_format = (data.get("format") or {}).get("typst") or {}
    if isinstance(typst_format, dict):
        options.update({k: typst_format[k] for k in _PDF_KEYS if k in typst_format})
    return options


def _iter_pdf_text(document: RetroDocument) -> Iterator[str]:
    yield document.front_matter(**pdf_options())
    yield document.body


def render_pdf(document: RetroDocument, output: Path) -> None:
    """The document -> typst via pandoc -> PDF at ``output``.

    Its work files (figures, typst source) go in a hidden folder beside ``output``,
    not the system's temporary directory: a site is built in a staging directory
    that is swapped in whole, so a full disk is met there and a failed render leaves
    nothing behind. Any failed write is raised as an ``OSError`` naming ``output``,
    the file that could not be made, never a work file that no longer exists; the
    PDF is renamed into place whole, so a previous one survives a failed render.
    """
    import pypandoc
    import typst

    output.parent.mkdir(parents=True, exist_ok=True)
    folder = output.with_name(f".{output.name}.work-{secrets.token_hex(4)}")
    try:
        folder.mkdir()
        write_figures(document.figures, folder)
        style = folder / SiteLayout.PDF_STYLE
        style.write_text(TYPST_STYLE, encoding="utf-8")
        source = pypandoc.convert_text(
            "".join(_iter_pdf_text(document)),
            "typst",
            format=MARKDOWN_FORMAT,
            extra_args=["--standalone", f"--include-before-body={style}"],
        )
        (folder / "report.typ").write_text(source, encoding="utf-8")
        try:
            pdf = typst.compile(str(folder / "report.typ"), root=str(folder))
        except Exception as exc:  # typst reports compile errors as its own exception types
            raise NotebookError(f"the retrospective PDF did not compile: {exc}") from None
        if not isinstance(pdf, bytes):
            raise NotebookError("the retrospective PDF did not compile: typst returned no PDF")
        made = folder / "report.pdf"
        with made.open("wb") as handle:
            handle.write(pdf)
            handle.flush()
            os.fsync(handle.fileno())
        made.replace(output)  # same directory: the PDF appears whole or not at all
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(output)) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


MARKDOWN_FORMAT = (
    "markdown"
    "-raw_html-raw_attribute-raw_tex-latex_macros"
    "-tex_math_dollars-tex_math_single_backslash"
    "-citations-example_lists-inline_notes"
    "-superscript-subscript-strikeout-smart"
)
"""Pandoc's Markdown with every extension that gives meaning to a character data may hold
off: ``@`` (citations), ``^``/``~`` (super-/subscript, strikeout), ``$`` and ``\\`` (maths,
raw TeX), ``<`` (raw HTML), quotes and dashes (smart). A label is printed as written,
whatever escaping the Markdown it came in had or lacked."""
