"""``tars report``: the executed notebooks as a site, and the retrospective as a PDF."""

from __future__ import annotations

import argparse
from pathlib import Path

from tars_lib.cli._common import Commands, add_workspace_flag
from tars_lib.core.workspace import SiteLayout, Workspace

__all__ = ["register", "run"]

RENDERERS = ("auto", "quarto", "fallback")


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "report",
        help="render the site and the retrospective PDF",
        description="Render each phase's latest executed notebook into a static site, "
        "and the retrospective into a PDF.",
    )
    add_workspace_flag(parser, "the workspace whose executed notebooks are rendered")
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        default=SiteLayout.DEFAULT_DIR,
        help="where the site and the PDF go",
    )
    parser.add_argument(
        "--renderer",
        choices=RENDERERS,
        default=RENDERERS[0],
        help="auto: quarto when on PATH, else nbconvert, pandoc and typst",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tars_lib.report.site import render_site

    site = render_site(Workspace(args.workspace), args.output_dir, args.renderer)
    print(
        f"Site ({site.renderer}): {SiteLayout(site.output_dir).index} with "
        f"{len(site.pages)} phase page(s)"
    )
    if site.pdf is not None:
        print(f"PDF: {site.pdf}")
    return 0
