"""``tars init DIR``: a release workspace of one's own, ready to edit and run.

It holds the release description, an editable copy of the KPI catalogue and its
pricing, the phase notebooks, and a README saying what to edit and what to run.
It never overwrites: a directory that already holds a release is refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from tars_lib.cli._common import Commands
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.models import Release
from tars_lib.core.release import render_release_yaml
from tars_lib.core.workspace import PROJECT, SiteLayout, Workspace
from tars_lib.phases import parse_timestamp
from tars_lib.report.runner import PHASE_NOTEBOOKS

__all__ = ["next_version", "register", "run"]

_SEED = Release()
"""The seed's release (T.A.R.S. v1.0.1): the defaults."""


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "init",
        help="create a release workspace to edit: release description, KPI catalogue, notebooks",
        description="Create a release workspace in DIR: the release description, an editable "
        "copy of the KPI catalogue and its pricing (run-day and retro --auto use it instead "
        "of the bundled one), the phase notebooks, and a README saying what to edit and run "
        "next. A directory that already holds a release is refused, never overwritten.",
    )
    parser.add_argument("directory", metavar="DIR", type=Path, help="the workspace to create")
    parser.add_argument(
        "--name", default=_SEED.name, help="the service or product released, e.g. checkout-api"
    )
    parser.add_argument(
        "--version", default=_SEED.version, help="the version that went GA, e.g. 2.3.0"
    )
    parser.add_argument(
        "--next-version",
        metavar="VERSION",
        help="the version the recommendations are for (default: VERSION with its last "
        "number plus one)",
    )
    parser.add_argument(
        "--ga-timestamp",
        metavar="TIME",
        help="GA moment, ISO 8601 with a time zone, e.g. 2025-11-18T00:00:00Z "
        "(default: left empty in the release description, to fill in)",
    )
    parser.set_defaults(func=run)


def next_version(version: str) -> str:
    """``2.3.0`` -> ``2.3.1``; a version not ending in a number gets ``.1`` appended."""
    head, dot, last = version.rpartition(".")
    if last.isdigit():
        return f"{head}{dot}{int(last) + 1}"
    return f"{version}.1"


def _release(args: argparse.Namespace) -> Release:
    """The release description from the flags; a value it cannot take names its flag."""
    ga = parse_timestamp(args.ga_timestamp, "ga_timestamp") if args.ga_timestamp else None
    try:
        return Release(
            name=args.name,
            version=args.version,
            next_version=args.next_version or next_version(args.version),
            ga_timestamp=ga,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        setting = str(error["loc"][0]) if error["loc"] else "name"
        template = "{" + setting + "} {value}: {why}"
        value = getattr(args, setting, None)
        raise SettingError(setting, template, value, why=error["msg"]) from None


def _catalogue_text() -> str:
    return (
        "# This workspace's KPI catalogue: `tars run-day` and `tars retro --auto` use it\n"
        "# instead of the bundled one (`--config FILE` overrides it). Edit the queries,\n"
        "# targets and SLOs for your service; the pricing file beside it holds the prices.\n"
        + PROJECT.catalogue.read_text(encoding="utf-8")
    )


def _readme(ws: Workspace, directory: Path, ga_timestamp: str | None) -> str:
    ga = ga_timestamp or "2025-11-18T00:00:00Z"
    site = directory / SiteLayout.DEFAULT_DIR
    return f"""This is a T.A.R.S. release workspace.

Edit:
  {ws.release_path.name}  the release: name, version, next version, GA moment, owners, links
  {ws.catalogue_path.relative_to(ws.root)}  the KPIs: queries, targets, SLOs
  {(ws.config_dir / PROJECT.pricing.name).relative_to(ws.root)}  prices for the cost estimate
  {ws.notebooks_dir.name}/  the phase notebooks, to investigate in Jupyter

Then run (credentials only from TARS_PROMETHEUS_TOKEN or TARS_PROMETHEUS_USER/_PASSWORD):
  tars run-day 0 --workspace {directory} --prometheus-url URL --ga-timestamp {ga}
  tars run-day --catch-up --quiet --workspace {directory} --prometheus-url URL   (daily, cron)
  tars report --workspace {directory} --output-dir {site}

Or try it on the simulated week first: tars demo --workspace {directory}
"""


def run(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    _release(args)  # a bad value is refused before anything is checked or written
    ws = Workspace(directory)
    pricing = ws.config_dir / PROJECT.pricing.name
    notebooks = {
        ws.notebooks_dir / PROJECT.notebook_file(n): PROJECT.notebook(n) for n in PHASE_NOTEBOOKS
    }
    targets = [ws.release_path, ws.catalogue_path, pricing, ws.readme_path, *notebooks]
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    present = [t for t in targets if t.exists()]
    if present:
        raise InputError(
            f"{directory}: already holds a release ({present[0].relative_to(directory)}); "
            "nothing was changed: choose a new directory"
        )
    text = render_release_yaml(_release(args))
    ws.notebooks_dir.mkdir(parents=True, exist_ok=True)
    ws.config_dir.mkdir(parents=True, exist_ok=True)
    ws.release_path.write_text(text, encoding="utf-8")
    ws.catalogue_path.write_text(_catalogue_text(), encoding="utf-8")
    pricing.write_bytes(PROJECT.pricing.read_bytes())
    for target, source in notebooks.items():
        target.write_bytes(source.read_bytes())
    ws.readme_path.write_text(_readme(ws, directory, args.ga_timestamp), encoding="utf-8")
    print(
        f"Created {directory}: edit {ws.release_path} and {ws.catalogue_path}; see {ws.readme_path}"
    )
    return 0
