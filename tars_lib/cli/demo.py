"""``tars demo``: the embedded simulated week end to end, from an installed package.

GA day and days 1..7 through the phase notebooks (the library's ``run_day``, no
subprocess), then the site and the PDF. Quiet: one summary line at the end.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tars_lib.cli._common import Commands, add_cell_timeout_flag, add_quiet_flag, workspace_config
from tars_lib.core.models import WEEK_DAYS
from tars_lib.core.workspace import PROJECT, SiteLayout, Workspace
from tars_lib.report.runner import NotebookParameters, run_day
from tars_lib.sources.spec import SourceSpec

__all__ = ["DEMO_WORKSPACE", "demo_days", "demo_parameters", "register", "run"]

DEMO_WORKSPACE = Path("demo")
"""Where ``tars demo`` runs the week by default (relative to the current directory)."""

RENDERERS = ("auto", "quarto", "fallback")


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the embedded simulated week end to end: notebooks, site and PDF",
        description="Run GA day and days 1..7 of the bundled simulated week (its known-changes "
        "file too) through the phase notebooks into the workspace, then render the site and "
        "the PDF. A workspace made by `tars init` keeps its KPI catalogue. Prints one line "
        "at the end.",
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        type=Path,
        default=DEMO_WORKSPACE,
        help="where the artifacts and the executed notebooks go",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        help=f"where the site and the PDF go (default: {SiteLayout.DEFAULT_DIR} in the workspace)",
    )
    parser.add_argument(
        "--renderer",
        choices=RENDERERS,
        default=RENDERERS[0],
        help="auto: quarto when on PATH, else nbconvert, pandoc and typst",
    )
    add_cell_timeout_flag(parser)
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def demo_days() -> list[int]:
    """The days the demo runs, in order: the GA day, then the week."""
    return list(range(WEEK_DAYS + 1))


def demo_parameters(workspace: Workspace) -> NotebookParameters:
    """The bundled scenario and its changes file; the workspace's catalogue if it has one."""
    return NotebookParameters(
        source=SourceSpec(scenario=PROJECT.scenario),
        config=workspace_config(None, workspace),
        changes=PROJECT.scenario_changes,
    )


def run(args: argparse.Namespace) -> int:
    from tars_lib.report.site import render_site

    workspace = Workspace(args.workspace)
    output = args.output_dir or workspace.root / SiteLayout.DEFAULT_DIR
    parameters = demo_parameters(workspace)
    for day in demo_days():  # no progress bars: the one line at the end says it all
        run_day(day, workspace, parameters, cell_timeout=args.cell_timeout)
    site = render_site(workspace, output, args.renderer)
    pdf = f", PDF {site.pdf}" if site.pdf is not None else ""
    if not args.quiet:
        print(
            f"Demo: days 0..{WEEK_DAYS} in {workspace.root}/; "
            f"site {SiteLayout(site.output_dir).index}{pdf}"
        )
    return 0
