"""``tars report``: the executed notebooks as a site, and the retrospective as a PDF.

With ``quarto`` on PATH the site is Quarto's (``_quarto.yml``: no execution,
code hidden, HTML, PDF through typst). Without it, the fallback renders the same
pages: each notebook through nbconvert's HTML exporter with inputs hidden,
wrapped in one self-contained page with navigation (no CDN, no MathJax, so a
dollar sign in a cost line is never typeset as maths), an index page, and the
retrospective notebook through pandoc to typst to PDF.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tars_lib.core.artifacts import write_text_atomic
from tars_lib.core.errors import InputError, NotebookError, SettingError
from tars_lib.core.workspace import PROJECT, SiteLayout, Workspace
from tars_lib.report.runner import PHASE_NOTEBOOKS, phase_title

__all__ = ["Site", "latest_notebooks", "render_site"]

_CSS = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 0;
       color: #1b1b1b; background: #fff; line-height: 1.45; }
nav { background: #1f2a36; padding: 0.6em 1.5em; }
nav a { color: #e8eef3; margin-right: 1.2em; text-decoration: none; font-size: 0.95em; }
nav a.current { font-weight: bold; text-decoration: underline; }
main { max-width: 1100px; margin: 0 auto; padding: 1em 1.5em 3em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #c9d1d9; padding: 0.3em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #eef2f5; }
img { max-width: 100%; height: auto; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; }
.status { font-size: 1.2em; padding: 0.5em 0.8em; border-left: 6px solid #1f2a36;
          background: #f2f4f6; }
footer { color: #555; font-size: 0.85em; margin-top: 3em; }
"""


@dataclass(frozen=True)
class Site:
    output_dir: Path
    pages: dict[str, Path]
    pdf: Path | None
    renderer: str


def latest_notebooks(workspace: Workspace) -> dict[str, Path]:
    """Each phase's most recent executed notebook under ``runs/day_NN/``."""
    runs = list(workspace.run_days())
    found: dict[str, Path] = {}
    for name in PHASE_NOTEBOOKS:
        for run in runs:
            candidate = run / PROJECT.notebook_file(name)
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _nav(current: str, pages: dict[str, Path], pdf: bool) -> str:
    links = [
        f'<a href="{SiteLayout.INDEX}"'
        + (' class="current"' if current == "index" else "")
        + ">Overview</a>"
    ]
    for name in pages:
        cls = ' class="current"' if name == current else ""
        page = SiteLayout.page_name(name)
        links.append(f'<a href="{page}"{cls}>{html.escape(phase_title(name))}</a>')
    if pdf:
        links.append(f'<a href="{SiteLayout.PDF_NAME}">PDF</a>')
    return "<nav>" + "".join(links) + "</nav>"


def _page(title: str, nav: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{nav}<main>{body}<footer>T.A.R.S. Phase 14.6 release-week report</footer>"
        "</main></body></html>\n"
    )


def _notebook_body(path: Path) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
    return str(body).replace('">¶</a>', '"></a>')  # headings' anchors stay, pilcrows go


def _index_body(workspace: Workspace, pages: dict[str, Path], pdf: bool) -> str:
    parts = ["<h1>T.A.R.S. v1.0.1: release week</h1>"]
    retro = workspace.retro_json_path
    if retro.is_file():
        data = json.loads(retro.read_text(encoding="utf-8"))
        parts.append(
            '<p class="status">Retrospective: '
            f"{len(data['successes'])} successes, {len(data['degradations'])} degradations, "
            f"{len(data['unexpected_drifts'])} unexpected drifts, cost trend "
            f"{html.escape(data['cost_analysis']['cost_trend'])}, "
            f"{len(data['action_items'])} action items (GA "
            f"{html.escape(data['ga_day_timestamp'])}).</p>"
        )
    parts.append("<h2>Pages</h2><ul>")
    for name in PHASE_NOTEBOOKS:
        if name in pages:
            parts.append(
                f'<li><a href="{SiteLayout.page_name(name)}">{html.escape(phase_title(name))}</a> '
                f"(from {html.escape(pages[name].parent.name)})</li>"
            )
        else:
            parts.append(f"<li>{html.escape(phase_title(name))}: not run yet</li>")
    parts.append("</ul>")
    if pdf:
        parts.append(f'<p><a href="{SiteLayout.PDF_NAME}">The retrospective as PDF</a></p>')
    return "".join(parts)


def _pdf(retro_notebook: Path, output: Path) -> None:
    """Retrospective notebook -> Markdown (inputs hidden) -> typst via pandoc -> PDF."""
    import nbformat
    import pypandoc
    import typst
    from nbconvert import MarkdownExporter

    exporter = MarkdownExporter(exclude_input=True)
    markdown, resources = exporter.from_notebook_node(nbformat.read(retro_notebook, as_version=4))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in resources.get("outputs", {}).items():
            (folder / name).write_bytes(data)
        source = pypandoc.convert_text(
            markdown, "typst", format="markdown", extra_args=["--standalone"]
        )
        (folder / "report.typ").write_text(source, encoding="utf-8")
        target = folder / "report.pdf"
        try:
            typst.compile(str(folder / "report.typ"), output=str(target), root=str(folder))
        except Exception as exc:  # typst reports compile errors as its own exception types
            raise NotebookError(f"{retro_notebook}: the PDF did not compile: {exc}") from None
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = output.with_name(f".{output.name}.tmp")
        shutil.copyfile(target, tmp_out)
        tmp_out.replace(output)


def _quarto(pages: dict[str, Path], output_dir: Path) -> None:
    """Quarto renders a staging copy of the executed notebooks with the project's config."""
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        shutil.copyfile(PROJECT.quarto_config, stage / SiteLayout.QUARTO_CONFIG)
        for name, path in pages.items():
            shutil.copyfile(path, stage / PROJECT.notebook_file(name))
        links = "\n".join(f"- [{phase_title(n)}]({SiteLayout.page_name(n)})" for n in pages)
        (stage / SiteLayout.QUARTO_INDEX).write_text(
            f"---\ntitle: T.A.R.S. v1.0.1 release week\n---\n\n{links}\n", encoding="utf-8"
        )
        result = subprocess.run(
            ["quarto", "render", str(stage)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise NotebookError(f"quarto render failed: {' '.join(tail)}")
        if output_dir.exists():
            shutil.rmtree(output_dir)
        shutil.copytree(stage / SiteLayout.DEFAULT_DIR, output_dir)


def render_site(workspace: Workspace, output_dir: Path, renderer: str = "auto") -> Site:
    """Render every executed phase notebook of ``workspace`` into ``output_dir``."""
    pages = latest_notebooks(workspace)
    if not pages:
        raise InputError(f"{workspace.runs_dir}: no executed notebooks; run `tars run-day N` first")
    use_quarto = renderer == "quarto" or (renderer == "auto" and shutil.which("quarto"))
    if renderer == "quarto" and not shutil.which("quarto"):
        raise SettingError(
            "renderer", "{renderer} quarto: quarto is not on PATH (conda: environment.yml)"
        )
    output_dir = Path(output_dir)
    layout = SiteLayout(output_dir)
    pdf_path = layout.pdf
    if use_quarto:
        _quarto(pages, output_dir)
        name = "quarto"
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        has_pdf = "06_retrospective" in pages
        for page, path in pages.items():
            write_text_atomic(
                layout.page(page),
                _page(phase_title(page), _nav(page, pages, has_pdf), _notebook_body(path)),
            )
        write_text_atomic(
            layout.index,
            _page(
                "T.A.R.S. release week",
                _nav("index", pages, has_pdf),
                _index_body(workspace, pages, has_pdf),
            ),
        )
        name = "fallback"
    if "06_retrospective" in pages and not (use_quarto and pdf_path.is_file()):
        _pdf(pages["06_retrospective"], pdf_path)
    pdf = pdf_path if pdf_path.is_file() else None
    return Site(output_dir, {p: layout.page(p) for p in pages}, pdf, name)
