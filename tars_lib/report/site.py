"""``tars report``: the week's executed notebooks as a site, and the retrospective as a PDF.

The site has an overview (the week's status, timeline and heat map), a page per
day (what happened, its intraday incident charts, links to its phases), a page
per day and phase (``day_02_health.html``: that day's executed notebook), the
latest page of each phase, the PDF (``pdf``), and downloads: the retrospective's
Markdown and JSON and every executed notebook. A notebook that failed or cannot
be read is skipped with a warning line, so no traceback is ever published.

With ``quarto`` on PATH the site is Quarto's: a staging project is generated
(``_quarto.yml`` from the project's, with the navbar pruned to the pages that
exist, the pages as ``.qmd`` and ``.ipynb``, the PDF's source with ``format:
typst``) and rendered with execution off. Without it, the fallback renders the
same pages: Markdown pages through pandoc, notebooks through nbconvert (inputs
hidden), one self-contained page each with the same navigation (the navbar of
``_quarto.yml``), and the PDF through pandoc and typst.

Rendering never deletes what it did not make: every site gets a marker file;
an existing output directory is replaced only when it is empty or carries the
marker, never when it is, holds or lies inside the workspace's artifacts.
Both renderers build everything (pages, downloads, the PDF and its work files)
in a staging directory beside the output and swap it in only when all is
written, so a full disk leaves the previous site as it was and nothing beside
it; the error (exit 5) names the published file that could not be written.
A notebook's stderr (warnings, logs) and tracebacks never reach a page: each
notebook's are counted on one warning line instead.
"""

from __future__ import annotations

import copy
import html
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tars_lib.core.errors import InputError, NotebookError, SettingError, storage_error
from tars_lib.core.models import WEEK_DAYS, Release
from tars_lib.core.workspace import PROJECT, SiteLayout, Workspace
from tars_lib.report.charts import health_status_text, health_text
from tars_lib.report.pdf import (
    MARKDOWN_FORMAT,
    TYPST_STYLE,
    DocFigure,
    RetroDocument,
    WeekView,
    build_document,
    heat_map_figure,
    load_week_view,
    release_title,
    render_pdf,
    write_figures,
)
from tars_lib.report.runner import PHASE_NOTEBOOKS, phase_title

__all__ = [
    "Site",
    "SiteContext",
    "check_output_dir",
    "collect_runs",
    "day_markdown",
    "day_subnav",
    "index_markdown",
    "latest_notebooks",
    "link_days",
    "navbar",
    "quarto_project",
    "render_site",
    "site_context",
    "site_title",
]

_CSS = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 0;
       color: #1b1b1b; background: #fff; line-height: 1.45; }
nav { background: #1f2a36; padding: 0.6em 1.5em; }
nav a { color: #e8eef3; margin-right: 1.1em; text-decoration: none; font-size: 0.95em;
        display: inline-block; }
nav a.current { font-weight: bold; text-decoration: underline; }
.subnav { background: #eef2f5; padding: 0.45em 1.5em; font-size: 0.92em; }
.subnav a { margin-right: 1em; }
.subnav a.current { font-weight: bold; }
main { max-width: 1100px; margin: 0 auto; padding: 1em 1.5em 3em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #c9d1d9; padding: 0.3em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #eef2f5; }
img { max-width: 100%; height: auto; }
figure { margin: 1.2em 0; }
figcaption { font-size: 0.9em; color: #333; margin-top: 0.3em; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; }
.status { font-size: 1.2em; padding: 0.5em 0.8em; border-left: 6px solid #1f2a36;
          background: #f2f4f6; }
footer { color: #555; font-size: 0.85em; margin-top: 3em; }
"""

_MARKER_TEXT = (
    "This directory is a site made by `tars report`; the next `tars report` replaces it whole.\n"
)
_DAY_WORD = re.compile(r"(?<![\[\w/#-])Day (\d+)\b(?![\]\w(-])")
_ARTIFACT_NAMES = ("ga_dir", "stability_dir", "runs_dir", "scratch_dir")
_FAILED = ".failed"
_QUARTO_STAGE = ".quarto-project"
_WARNING_NAME = re.compile(r"\b([A-Z]\w*Warning)\b")
_DEFAULT_TITLE = "Release week"
_QUARTO_FORMAT = {"format": "html"}
_WEB_WIDTH = "80%"
"""Charts on a page: wider than print (PRINT_WIDTH in CSS inches) but within the column."""


@dataclass(frozen=True)
class Site:
    output_dir: Path
    pages: dict[str, Path]  # the latest page of each phase
    pdf: Path | None
    renderer: str
    # day -> phase notebook -> its page (SiteLayout.day_phase_page_name)
    day_pages: dict[int, dict[str, Path]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- notebooks


def _read_notebook(path: Path) -> tuple[Any | None, str]:
    """The executed notebook, or None and why it is not published."""
    import nbformat

    try:
        node = nbformat.read(path, as_version=4)
    except Exception as exc:  # any unreadable file: truncated JSON, wrong schema, bad bytes
        return None, f"cannot be read ({type(exc).__name__})"
    if not isinstance(node, dict) or not isinstance(node.get("cells"), list):
        return None, "cannot be read (not a notebook)"
    if node.get("metadata", {}).get("papermill", {}).get("exception"):
        return None, "its run failed"
    for cell in node.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return None, f"a cell failed ({output.get('ename', 'error')})"
    return node, ""


def _hidden(output: Any) -> bool:
    """An output no page shows: stderr (warnings, logs) and anything carrying a traceback."""
    kind = output.get("output_type")
    if kind == "error":
        return True
    if kind != "stream":
        return False
    return output.get("name") == "stderr" or "Traceback (most recent" in _text(output.get("text"))


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _hidden_summary(node: Any) -> str:
    """``3 stderr outputs (InsecureRequestWarning)``: what its page leaves out, or ""."""
    hidden = [
        output
        for cell in node.get("cells", [])
        for output in cell.get("outputs", [])
        if _hidden(output)
    ]
    if not hidden:
        return ""
    kinds = sorted({m for o in hidden for m in _WARNING_NAME.findall(_text(o.get("text")))})
    named = f" ({', '.join(kinds[:3])}{', ...' if len(kinds) > 3 else ''})" if kinds else ""
    return f"{len(hidden)} stderr output{'s' if len(hidden) != 1 else ''}{named}"


def collect_runs(workspace: Workspace) -> tuple[dict[int, dict[str, Path]], list[str]]:
    """Every day's good executed notebooks (day -> phase -> path) and a warning line per
    notebook skipped or shown without its stderr. Only a phase's own file name is read:
    a failed run kept as ``NAME.failed.ipynb`` is named, a dot-prefixed temporary ignored."""
    runs: dict[int, dict[str, Path]] = {}
    warnings: list[str] = []
    for day in range(WEEK_DAYS + 1):
        folder = workspace.run_dir(day)
        if not folder.is_dir():
            continue
        for name in PHASE_NOTEBOOKS:
            path = folder / PROJECT.notebook_file(name)
            failed = path.with_name(f"{path.stem}{_FAILED}{path.suffix}")  # run-day keeps it
            if failed.is_file():
                warnings.append(
                    f"warning: skipped {failed}: a failed run kept for inspection; not published"
                )
            if not path.is_file():
                continue
            node, problem = _read_notebook(path)
            if node is None:
                warnings.append(f"warning: skipped {path}: {problem}; not published")
                continue
            hidden = _hidden_summary(node)
            if hidden:
                warnings.append(f"warning: {path}: {hidden} left out of its page")
            runs.setdefault(day, {})[name] = path
    return runs, warnings


def latest_notebooks(workspace: Workspace) -> dict[str, Path]:
    """Each phase's most recent good executed notebook under ``runs/day_NN/``."""
    runs, _ = collect_runs(workspace)
    return _latest(runs)


def _latest(runs: Mapping[int, Mapping[str, Path]]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in PHASE_NOTEBOOKS:
        for day in sorted(runs, reverse=True):
            if name in runs[day]:
                found[name] = runs[day][name]
                break
    return found


def _run_parameters(paths: Iterable[Path]) -> dict[str, Any]:
    """The papermill parameters of the newest notebook that has them (catalogue, changes)."""
    import nbformat

    for path in paths:
        try:
            node = nbformat.read(path, as_version=4)
        except Exception:  # skipped notebooks were reported already
            continue
        params = node.get("metadata", {}).get("papermill", {}).get("parameters")
        if isinstance(params, dict):
            return dict(params)
    return {}


def _image_alt(output: Any, fallback: str) -> str:
    text = output.get("data", {}).get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    text = " ".join(text.split())
    return text if text and not text.startswith("<") else fallback


def link_days(markdown: str, days: Iterable[int]) -> str:
    """Every "Day N" of a day with a page becomes a link to it (Markdown)."""
    pages = set(days)

    def link(match: re.Match[str]) -> str:
        day = int(match.group(1))
        if day not in pages:
            return match.group(0)
        return f"[{match.group(0)}]({SiteLayout.day_page_name(day)})"

    return _DAY_WORD.sub(link, markdown)


def _clean_notebook(
    path: Path, *, title: str, subnav: str, days: Iterable[int], front_matter: bool = False
) -> Any:
    """A copy fit to publish: no stderr or traceback text, alt text on every image,
    "Day N" linked, the day's navigation on top (and Quarto front matter if asked)."""
    import nbformat

    node = copy.deepcopy(nbformat.read(path, as_version=4))
    days = list(days)
    for cell in node.cells:
        if cell.cell_type == "markdown":
            cell.source = link_days(cell.source, days)
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if _hidden(output):
                continue
            data = output.get("data")
            if data is not None and "text/markdown" in data:
                markdown = data["text/markdown"]
                markdown = "".join(markdown) if isinstance(markdown, list) else markdown
                data["text/markdown"] = link_days(markdown, days)
            if data is not None and "image/png" in data:
                meta = output.setdefault("metadata", {}).setdefault("image/png", {})
                meta["alt"] = _image_alt(output, f"Chart: {title}")
            kept.append(output)
        cell.outputs = kept
    cells = [nbformat.v4.new_markdown_cell(subnav)] if subnav else []
    if front_matter:
        head = yaml.safe_dump({"title": title, **_QUARTO_FORMAT}, allow_unicode=True)
        cells.insert(0, nbformat.v4.new_raw_cell(f"---\n{head}---"))
    node.cells = cells + list(node.cells)
    return node


def _notebook_html(node: Any) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(node)
    return str(body).replace('">¶</a>', '"></a>')  # headings' anchors stay, pilcrows go


# --------------------------------------------------------------------------- what the pages say


@dataclass
class SiteContext:
    """Everything the pages are made of, for either renderer."""

    workspace: Workspace
    runs: dict[int, dict[str, Path]]
    latest: dict[str, Path]
    warnings: list[str]
    title: str = _DEFAULT_TITLE
    retro_markdown: str | None = None
    view: WeekView | None = None
    heat: DocFigure | None = None
    incident_figures: dict[int, list[DocFigure]] = field(default_factory=dict)
    timeline: dict[int, list[str]] = field(default_factory=dict)

    @property
    def has_pdf(self) -> bool:
        return self.retro_markdown is not None

    @property
    def figures(self) -> list[DocFigure]:
        figs = [self.heat] if self.heat else []
        return figs + [
            f for day in sorted(self.incident_figures) for f in self.incident_figures[day]
        ]

    def pages(self) -> dict[str, str]:
        """Every page of the site: its file name -> its title (nav and links use these)."""
        out = {SiteLayout.INDEX: self.title}
        for day, phases in sorted(self.runs.items()):
            out[SiteLayout.day_page_name(day)] = _day_title(day)
            for name in phases:
                out[SiteLayout.day_phase_page_name(day, name)] = (
                    f"{_day_title(day)}: {phase_title(name)}"
                )
        for name in self.latest:
            out[SiteLayout.page_name(name)] = phase_title(name)
        return out


def _day_title(day: int) -> str:
    return "Day 0 (GA day)" if day == 0 else f"Day {day}"


def site_title(release: Release) -> str:
    """The site's title before the retrospective names it: "checkout-api 2.3.0 release week"."""
    return f"{release.title} {_DEFAULT_TITLE.lower()}"


def site_context(workspace: Workspace) -> SiteContext:
    """What the pages of ``workspace`` are made of: runs, week, figures, timeline."""
    runs, warnings = collect_runs(workspace)
    latest = _latest(runs)
    ctx = SiteContext(workspace, runs, latest, warnings)
    newest_first = [runs[d][n] for d in sorted(runs, reverse=True) for n in reversed(runs[d])]
    params = _run_parameters(newest_first)
    ctx.view = load_week_view(
        workspace, config=str(params.get("config") or ""), changes=str(params.get("changes") or "")
    )
    ctx.title = site_title(workspace.release())
    if workspace.retro_path.is_file():
        ctx.retro_markdown = workspace.retro_path.read_text(encoding="utf-8")
        ctx.title = release_title(ctx.retro_markdown) or ctx.title
    if ctx.view is not None:
        from tars_lib.report import charts
        from tars_lib.retro.timeline import story

        week = ctx.view.week
        ctx.heat = heat_map_figure(ctx.view)
        for n, incident in enumerate(week.incidents, 1):
            day = week.day_of(incident.start)
            if day not in runs:  # shown on its day's page; this day has none
                continue
            ctx.incident_figures.setdefault(day, []).append(
                DocFigure(
                    f"incident-{n}",
                    f"Day {day}, {incident.start:%H:%M}-{incident.end:%H:%M} UTC: "
                    f"{incident.title.rsplit(', ', 1)[0]}; 5-minute values against the "
                    "baseline the detector held, the incident shaded",
                    charts.incident_chart(week, incident),
                )
            )
        for entry in story(week):
            ctx.timeline.setdefault(entry.day, []).append(entry.text)
    return ctx


def _md_text(text: str) -> str:
    from tars_lib.retro.markdown import md_escape

    return md_escape(text)


def _executive_summary(markdown: str) -> str:
    """The retrospective's executive summary (its heading kept)."""
    marker = "\n## "
    start = markdown.find(marker + "Executive Summary")
    if start < 0:
        return ""
    end = markdown.find(marker, start + 1)
    return markdown[start + 1 : end if end >= 0 else None].strip() + "\n"


def _downloads_md(ctx: SiteContext, days: Iterable[int]) -> list[str]:
    lines = []
    for day in days:
        links = [
            f"[{PROJECT.notebook_file(name)}]({SiteLayout.notebook_download(day, name)})"
            for name in ctx.runs.get(day, {})
        ]
        if links:
            day_link = f"[{_day_title(day)}]({SiteLayout.day_page_name(day)})"
            lines.append(f"- {day_link}: " + ", ".join(links))
    return lines


def index_markdown(ctx: SiteContext) -> str:
    days = sorted(ctx.runs)
    out = [f"# {_md_text(ctx.title)}", ""]
    if ctx.retro_markdown is not None:
        out += [link_days(_executive_summary(ctx.retro_markdown), days), ""]
    else:
        out += [
            "The retrospective has not been run yet: `tars run-day 7` makes it.",
            "",
        ]
        if ctx.timeline:
            out += ["## What happened, day by day (UTC)", ""]
            out += [
                f"- {link_days(_md_text(line), days)}"
                for day in sorted(ctx.timeline)
                for line in ctx.timeline[day]
            ]
            out.append("")
    if ctx.heat is not None:
        out += [ctx.heat.markdown(_WEB_WIDTH), ""]
    out += ["## Every day of the week", ""]
    out += ["| Day | Date (UTC) | Health | Pages |", "|---|---|---|---|"]
    for day in days:
        date = ""
        health = ""
        if ctx.view is not None:
            ga = ctx.view.week.ga.ga_timestamp
            date = f"{ga.date() + _days(day):%Y-%m-%d}"
            report = ctx.view.health.get(day)
            if report is not None:
                health = health_text(report)
        links = " · ".join(
            f"[{_md_text(phase_title(name))}]({SiteLayout.day_phase_page_name(day, name)})"
            for name in ctx.runs[day]
        )
        out.append(
            f"| [{_day_title(day)}]({SiteLayout.day_page_name(day)}) | {date} | {health} | "
            f"{links} |"
        )
    out += ["", "## Latest page of each phase", ""]
    for name in PHASE_NOTEBOOKS:
        if name in ctx.latest:
            day = _day_of_run(ctx, name)
            out.append(
                f"- [{_md_text(phase_title(name))}]({SiteLayout.page_name(name)}) "
                f"(from {_day_title(day)})"
            )
        else:
            out.append(f"- {_md_text(phase_title(name))}: not run yet")
    out += ["", "## Downloads", ""]
    if ctx.has_pdf:
        out.append(f"- The retrospective as [PDF]({SiteLayout.PDF_NAME})")
    retro_files = [p for p in (ctx.workspace.retro_path, ctx.workspace.retro_json_path)]
    present = [p for p in retro_files if p.is_file()]
    if present:
        out.append(
            "- The retrospective's data: "
            + ", ".join(f"[{p.name}]({SiteLayout.retro_download(p.name)})" for p in present)
        )
    out += ["- Executed notebooks:", ""]
    out += ["  " + line for line in _downloads_md(ctx, days)]
    return "\n".join(out) + "\n"


def _days(day: int) -> Any:
    from datetime import timedelta

    return timedelta(days=day)


def _day_of_run(ctx: SiteContext, name: str) -> int:
    return next(
        d for d in sorted(ctx.runs, reverse=True) if ctx.runs[d].get(name) == ctx.latest[name]
    )


def day_subnav(ctx: SiteContext, day: int) -> str:
    """The day's navigation (Markdown): its overview, its phases, the days either side."""
    days = sorted(ctx.runs)
    parts = [f"**{_day_title(day)}:** [Overview]({SiteLayout.day_page_name(day)})"]
    parts += [
        f"[{_md_text(phase_title(name))}]({SiteLayout.day_phase_page_name(day, name)})"
        for name in ctx.runs.get(day, {})
    ]
    before = [d for d in days if d < day]
    after = [d for d in days if d > day]
    if before:
        parts.append(f"[← {_day_title(before[-1])}]({SiteLayout.day_page_name(before[-1])})")
    if after:
        parts.append(f"[{_day_title(after[0])} →]({SiteLayout.day_page_name(after[0])})")
    return " · ".join(parts)


def day_markdown(ctx: SiteContext, day: int) -> str:
    days = sorted(ctx.runs)
    title = _day_title(day)
    if ctx.view is not None:
        ga = ctx.view.week.ga.ga_timestamp
        title += f": {ga.date() + _days(day):%Y-%m-%d} (UTC)"
    out = [f"# {title}", "", day_subnav(ctx, day), ""]
    if ctx.view is not None:
        report = ctx.view.health.get(day)
        if report is not None and report.status == "no_data":
            out += ["**No health score: no data (the day had no traffic to judge).**", ""]
        elif report is not None:
            out += [
                f"**Health score {report.health_score:.1f} of 100: "
                f"{health_status_text(report.status)}.**",
                "",
            ]
            if report.mitigation_plan:
                out += ["Mitigation plan:", ""]
                out += [
                    f"- {a.priority}: {_md_text(a.action)} ({_md_text(a.finding)})"
                    for a in report.mitigation_plan
                ]
                out.append("")
    lines = ctx.timeline.get(day, [])
    if lines:
        out += ["## What happened (UTC)", ""]
        out += [f"- {link_days(_md_text(line), days)}" for line in lines]
        out.append("")
    figures = ctx.incident_figures.get(day, [])
    if figures:
        out += ["## Incidents up close", ""]
        out += [f.markdown(_WEB_WIDTH) + "\n" for f in figures]
    out += ["## The day's phases", ""]
    out += [
        f"- [{_md_text(phase_title(name))}]({SiteLayout.day_phase_page_name(day, name)})"
        for name in ctx.runs.get(day, {})
    ]
    out += ["", "## Executed notebooks", ""]
    out += _downloads_md(ctx, [day])
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- navigation


def _quarto_config() -> dict[str, Any]:
    try:
        data = yaml.safe_load(PROJECT.quarto_config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _navbar_entries(config: Mapping[str, Any]) -> list[dict[str, str]]:
    website = config.get("website") or {}
    left = (website.get("navbar") or {}).get("left") or []
    return [
        {"text": str(e["text"]), "href": str(e["href"])}
        for e in left
        if isinstance(e, dict) and "href" in e and "text" in e
    ]


def navbar(ctx: SiteContext, config: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(text, page) of ``_quarto.yml``'s navbar, kept to the pages this site has."""
    config = _quarto_config() if config is None else config
    pages = set(ctx.pages())
    if ctx.has_pdf:
        pages.add(SiteLayout.PDF_NAME)
    items = []
    for entry in _navbar_entries(config):
        page = SiteLayout.page_of_source(entry["href"])
        if page in pages:
            items.append((entry["text"], page))
    if not items:  # no navbar configured: overview, days, phases
        items = [("Overview", SiteLayout.INDEX)]
        items += [(_day_title(d), SiteLayout.day_page_name(d)) for d in sorted(ctx.runs)]
        items += [(phase_title(n), SiteLayout.page_name(n)) for n in ctx.latest]
        if ctx.has_pdf:
            items.append(("PDF", SiteLayout.PDF_NAME))
    return items


def _nav_html(items: list[tuple[str, str]], current: str) -> str:
    links = []
    for text, page in items:
        cls = ' class="current"' if page == current else ""
        links.append(f'<a href="{html.escape(page)}"{cls}>{html.escape(text)}</a>')
    return "<nav>" + "".join(links) + "</nav>"


def _page(title: str, nav: str, body: str, subnav: str = "") -> str:
    sub = f'<div class="subnav">{subnav}</div>' if subnav else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{nav}{sub}<main>{body}<footer>T.A.R.S. release-week report</footer>"
        "</main></body></html>\n"
    )


def _markdown_html(markdown: str) -> str:
    import pypandoc

    return str(
        pypandoc.convert_text(markdown, "html5", format=MARKDOWN_FORMAT, extra_args=["--wrap=none"])
    )


# --------------------------------------------------------------------------- output safety


def check_output_dir(output_dir: Path, workspace: Workspace) -> Path:
    """``output_dir`` resolved, if a site may be written there; else a ``SettingError``.

    Refused: the workspace or a directory holding it, a directory holding
    release-week artifacts, a file, and a non-empty directory without the
    marker of a site ``tars report`` made.
    """
    out = Path(output_dir).resolve()
    root = workspace.root.resolve()

    def refuse(why: str) -> SettingError:
        return SettingError("output_dir", "{output_dir} {path}: " + why, path=out)

    if out == root or root.is_relative_to(out):
        raise refuse("is the workspace or holds it; choose a directory for the site alone")
    if any(out.is_relative_to(p) or p.is_relative_to(out) for p in _artifact_paths(workspace)):
        raise refuse("is or holds one of the workspace's artifacts; a site never replaces them")
    if any(p.exists() for p in _artifact_paths(Workspace(out))):
        raise refuse("holds release-week artifacts; a site never replaces them")
    if out.exists() and not out.is_dir():
        raise refuse("is a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / SiteLayout.MARKER).is_file():
        raise refuse(
            f"is not empty and has no {SiteLayout.MARKER} (not a site tars report made); "
            "remove it yourself or choose another directory"
        )
    return out


def _artifact_paths(workspace: Workspace) -> list[Path]:
    """Where ``workspace`` keeps what a site must never replace (resolved)."""
    paths = [getattr(workspace, name) for name in _ARTIFACT_NAMES]
    paths += [p for p in (workspace.anomalies_file(), workspace.regression_file()) if p]
    paths += [workspace.anomalies_path, workspace.regression_path]
    paths += [workspace.retro_path.parent, workspace.ga_path]
    return [p.resolve() for p in paths]


def _swap_in(build: Path, out: Path) -> None:
    """Replace ``out`` (a checked previous site, or nothing) with ``build``."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
        out.rename(old)
        try:
            build.rename(out)
        except OSError:
            old.rename(out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        build.rename(out)


# --------------------------------------------------------------------------- shared files


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A write that fails for want of space is about ``path``, whatever file the OS named
    (``copyfile`` names its source, a write after ``open`` names nothing)."""
    try:
        yield
    except OSError as exc:
        if storage_error(exc, path) is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _write(path: Path, text: str) -> None:
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _copy(source: Path, target: Path) -> None:
    with _writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _final_path(exc: OSError, build: Path, out: Path) -> Path:
    """The published file a failed write in ``build`` was making (``out`` if unknown)."""
    if not exc.filename:
        return out
    path = Path(str(exc.filename))
    return out / path.relative_to(build) if path.is_relative_to(build) else path


def _write_downloads(ctx: SiteContext, folder: Path) -> None:
    for path in (ctx.workspace.retro_path, ctx.workspace.retro_json_path):
        if path.is_file():
            target = folder / SiteLayout.retro_download(path.name)
            _copy(path, target)
    for day, phases in ctx.runs.items():
        for name, path in phases.items():
            _copy(path, folder / SiteLayout.notebook_download(day, name))


def _retro_document(ctx: SiteContext) -> RetroDocument | None:
    if ctx.retro_markdown is None:
        return None
    return build_document(ctx.retro_markdown, ctx.view)


# --------------------------------------------------------------------------- fallback


def _render_fallback(ctx: SiteContext, folder: Path) -> None:
    items = navbar(ctx)
    days = sorted(ctx.runs)

    def nav_for(current: str) -> str:
        return _nav_html(items, current)

    write_figures(ctx.figures, folder)
    _write(
        folder / SiteLayout.INDEX,
        _page(ctx.title, nav_for(SiteLayout.INDEX), _markdown_html(index_markdown(ctx))),
    )
    for day, phases in ctx.runs.items():
        day_page = SiteLayout.day_page_name(day)
        _write(
            folder / day_page,
            _page(_day_title(day), nav_for(day_page), _markdown_html(day_markdown(ctx, day))),
        )
        subnav = _markdown_html(day_subnav(ctx, day)).strip()
        subnav = subnav.removeprefix("<p>").removesuffix("</p>")
        for name, path in phases.items():
            title = f"{_day_title(day)}: {phase_title(name)}"
            node = _clean_notebook(path, title=title, subnav="", days=days)
            _write(
                folder / SiteLayout.day_phase_page_name(day, name),
                _page(title, nav_for(day_page), _notebook_html(node), subnav),
            )
    for name, path in ctx.latest.items():
        page = SiteLayout.page_name(name)
        node = _clean_notebook(path, title=phase_title(name), subnav="", days=days)
        _write(folder / page, _page(phase_title(name), nav_for(page), _notebook_html(node)))
    _write_downloads(ctx, folder)
    document = _retro_document(ctx)
    if document is not None:
        render_pdf(document, folder / SiteLayout.PDF_NAME)


# --------------------------------------------------------------------------- Quarto


def _qmd(markdown: str, **front: Any) -> str:
    """A generated page as Quarto source: its first heading becomes the title."""
    first, _, rest = markdown.partition("\n")
    title = first.removeprefix("# ").strip() if first.startswith("# ") else ""
    body = rest if title else markdown
    data = {"title": title, **front} if title else dict(front)
    return "---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False) + "---\n\n" + body


def quarto_project(ctx: SiteContext, stage: Path) -> dict[str, Any]:
    """Write the Quarto project of the site into ``stage``; return its ``_quarto.yml``.

    The configuration is the project's ``_quarto.yml`` with the output directory,
    the files to render, the resources to copy, the title and the navbar (kept to
    the pages that exist) filled in. Every HTML page says ``format: html`` so only
    the PDF's source is rendered with the project's ``typst`` format.
    """
    import nbformat

    config = copy.deepcopy(_quarto_config())
    days = sorted(ctx.runs)
    sources: list[str] = []

    def add(name: str, text: str) -> None:
        (stage / name).write_text(text, encoding="utf-8")
        sources.append(name)

    write_figures(ctx.figures, stage)
    add(SiteLayout.QUARTO_INDEX, _qmd(index_markdown(ctx), **_QUARTO_FORMAT))
    for day, phases in ctx.runs.items():
        add(
            SiteLayout.source_of(SiteLayout.day_page_name(day)),
            _qmd(day_markdown(ctx, day), **_QUARTO_FORMAT),
        )
        for name, path in phases.items():
            page = SiteLayout.day_phase_page_name(day, name)
            node = _clean_notebook(
                path,
                title=f"{_day_title(day)}: {phase_title(name)}",
                subnav=day_subnav(ctx, day),
                days=days,
                front_matter=True,
            )
            nbformat.write(node, stage / SiteLayout.notebook_source_of(page))
            sources.append(SiteLayout.notebook_source_of(page))
    for name, path in ctx.latest.items():
        page = SiteLayout.page_name(name)
        node = _clean_notebook(
            path, title=phase_title(name), subnav="", days=days, front_matter=True
        )
        nbformat.write(node, stage / SiteLayout.notebook_source_of(page))
        sources.append(SiteLayout.notebook_source_of(page))
    _write_downloads(ctx, stage)
    document = _retro_document(ctx)
    if document is not None:
        write_figures(document.figures, stage)
        (stage / SiteLayout.PDF_STYLE).write_text(TYPST_STYLE, encoding="utf-8")
        add(SiteLayout.pdf_source(), document.front_matter(format="typst") + document.body)
    project = config.setdefault("project", {})
    project["type"] = "website"
    project["output-dir"] = str(SiteLayout.DEFAULT_DIR)
    project["render"] = sources
    project["resources"] = [f"{SiteLayout.DOWNLOADS}/**", f"{SiteLayout.FIGURES}/**"]
    website = config.setdefault("website", {})
    website["title"] = ctx.title
    navbar_config = website.setdefault("navbar", {})
    present = set(sources)
    if document is not None:
        present.add(SiteLayout.PDF_NAME)
    navbar_config["left"] = [e for e in _navbar_entries(config) if e["href"] in present] or [
        {"text": text, "href": page} for text, page in navbar(ctx, config)
    ]
    (stage / SiteLayout.QUARTO_CONFIG).write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return config


def _render_quarto(ctx: SiteContext, folder: Path) -> None:
    """The Quarto project is staged inside the build directory, so a full disk is met
    there and a failure leaves nothing outside it; it goes once the pages are out."""
    stage = folder / _QUARTO_STAGE
    stage.mkdir()
    with _writing(folder):  # the project's files are no page: the site is what failed
        quarto_project(ctx, stage)
    result = subprocess.run(
        ["quarto", "render", str(stage)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise NotebookError(f"quarto render failed: {' '.join(tail)}")
    rendered = stage / SiteLayout.DEFAULT_DIR
    for item in rendered.iterdir():
        item.rename(folder / item.name)  # same file system: nothing is copied
    shutil.rmtree(stage)


# --------------------------------------------------------------------------- entry point


def render_site(workspace: Workspace, output_dir: Path, renderer: str = "auto") -> Site:
    """Render the week's executed notebooks and the retrospective into ``output_dir``."""
    workspace = Workspace.at(workspace.root)
    use_quarto = renderer == "quarto" or (renderer == "auto" and shutil.which("quarto"))
    if renderer == "quarto" and not shutil.which("quarto"):
        raise SettingError(
            "renderer", "{renderer} quarto: quarto is not on PATH (conda: environment.yml)"
        )
    out = check_output_dir(Path(output_dir), workspace)  # before any work: a refusal is quick
    ctx = site_context(workspace)
    for line in ctx.warnings:
        print(line, file=sys.stderr)
    if not ctx.latest:
        raise InputError(f"{workspace.runs_dir}: no executed notebooks; run `tars run-day N` first")
    build = out.with_name(f".{out.name}.build-{secrets.token_hex(4)}")
    try:
        with _writing(out):
            out.parent.mkdir(parents=True, exist_ok=True)
            build.mkdir()
        if use_quarto:
            _render_quarto(ctx, build)
        else:
            _render_fallback(ctx, build)
        _write(build / SiteLayout.MARKER, _MARKER_TEXT)
        _swap_in(build, out)
    except OSError as exc:
        shutil.rmtree(build, ignore_errors=True)
        error = storage_error(exc, _final_path(exc, build, out))
        if error is None:
            raise
        raise error from None
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    given = Path(output_dir)
    layout = SiteLayout(given)
    return Site(
        output_dir=given,
        pages={name: layout.page(name) for name in ctx.latest},
        pdf=layout.pdf if layout.pdf.is_file() else None,
        renderer="quarto" if use_quarto else "fallback",
        day_pages={
            day: {name: given / SiteLayout.day_phase_page_name(day, name) for name in phases}
            for day, phases in ctx.runs.items()
        },
        warnings=tuple(ctx.warnings),
    )
