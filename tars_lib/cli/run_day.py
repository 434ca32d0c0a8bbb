"""``tars run-day``: a day's phase notebooks, executed with papermill; ``--catch-up``
runs every complete day not yet run, for a cron job that survives an outage."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta

from tars_lib.cli._common import (
    Commands,
    add_cell_timeout_flag,
    add_changes_flag,
    add_config_flag,
    add_detector_flags,
    add_ga_timestamp_flag,
    add_quiet_flag,
    add_source_flags,
    add_strict_flag,
    add_workspace_flag,
    detector,
    source_spec,
    workspace_config,
)
from tars_lib.collect.collector import latest_complete_day
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.models import WEEK_DAYS
from tars_lib.core.workspace import PROJECT, Workspace
from tars_lib.phases import now_utc, parse_timestamp
from tars_lib.report.runner import NotebookParameters, notebooks_for_day, run_day, stages_for_day
from tars_lib.sources.spec import SourceSpec

__all__ = ["catch_up_days", "day_done", "register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "run-day",
        help="run a day's phase notebooks with papermill",
        description="Execute a day's phase notebooks with papermill into the workspace's "
        "runs folder: day 0 collects the GA day; days 1..7 run stability, anomalies and "
        "health; day 7 adds regression and the retrospective.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "day",
        type=int,
        nargs="?",
        help="0 (GA day) to 7 (default: the last complete day after the workspace's GA baseline)",
    )
    which.add_argument(
        "--catch-up",
        action="store_true",
        help="run every complete day not yet run (no complete set of executed notebooks, "
        "or no day summary), in order: a day lost to an outage is made up by the next run. "
        "Needs the GA baseline, unless day 0 is the missing one and --ga-timestamp (or "
        "--scenario) says when GA was. For cron: with --quiet a success prints nothing",
    )
    add_workspace_flag(parser, "where the artifacts and the executed notebooks go")
    add_source_flags(parser)
    add_config_flag(parser, workspace_copy=True)
    add_ga_timestamp_flag(parser)
    add_detector_flags(parser)
    add_changes_flag(parser)
    add_cell_timeout_flag(parser)
    add_strict_flag(parser)
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def day_done(workspace: Workspace, day: int) -> bool:
    """The day has its complete set of executed notebooks and its summary (GA: the baseline)."""
    summary = workspace.ga_path if day == 0 else workspace.day_path(day)
    folder = workspace.run_dir(day)
    return summary.is_file() and all(
        (folder / PROJECT.notebook_file(name)).is_file() for name in notebooks_for_day(day)
    )


def _latest_complete(ga: datetime, now: datetime) -> int | None:
    """The last complete day (0..7) at ``now``; None before the GA day has ended."""
    if now < ga + timedelta(days=2):  # day 1 not complete yet
        return 0 if now >= ga + timedelta(days=1) else None
    return latest_complete_day(ga, min(now, ga + timedelta(days=WEEK_DAYS + 1)))


def catch_up_days(workspace: Workspace, ga: datetime, now: datetime) -> list[int]:
    """The complete days not yet run, in order (a day run before stays as it is)."""
    latest = _latest_complete(ga, now)
    if latest is None:
        return []
    return [day for day in range(latest + 1) if not day_done(workspace, day)]


def _ga_moment(args: argparse.Namespace, spec: SourceSpec, workspace: Workspace) -> datetime:
    """When GA was: the baseline's, else --ga-timestamp, else the scenario's."""
    if workspace.ga_path.is_file():
        return workspace.ga().ga_timestamp
    if args.ga_timestamp:
        return parse_timestamp(args.ga_timestamp, "ga_timestamp")
    if spec.scenario:
        from tars_lib.sources.scenario import load_scenario

        return load_scenario(spec.scenario).ga_timestamp
    raise InputError(
        f"{workspace.ga_path}: no GA baseline yet; give --ga-timestamp so --catch-up "
        "runs day 0 first"
    )


def _days(args: argparse.Namespace, spec: SourceSpec, workspace: Workspace) -> list[int]:
    if args.catch_up:
        return catch_up_days(workspace, _ga_moment(args, spec, workspace), now_utc())
    if args.day is not None:
        return [args.day]
    if not workspace.ga_path.is_file():  # the last complete day, from the workspace's GA baseline
        raise InputError(f"{workspace.ga_path}: no GA baseline yet; run `tars run-day 0` first")
    return [latest_complete_day(workspace.ga().ga_timestamp, now_utc())]


def run(args: argparse.Namespace) -> int:
    spec = source_spec(args)
    workspace = Workspace(args.workspace)
    parameters = NotebookParameters(
        source=spec,
        detector=detector(args),
        config=workspace_config(args.config, workspace),
        ga_timestamp=args.ga_timestamp,
        changes=args.changes,
        strict=args.strict,
    )
    load_changes(args.changes)  # a bad changes file fails here, not in a notebook
    if args.ga_timestamp:
        parse_timestamp(args.ga_timestamp, "ga_timestamp")  # checked here, not in a notebook
    if not spec.given:
        spec.open()  # raises the message saying what to pass, before papermill starts
    days = _days(args, spec, workspace)
    for day in days:
        stages_for_day(day)  # a day outside 0..7 is an error before anything is written
    if 0 in days and spec.prometheus_url and not args.ga_timestamp:
        raise SettingError(
            "ga_timestamp",
            "{ga_timestamp} is required with {prometheus_url}, e.g. 2025-11-18T00:00:00Z",
        )
    progress = not args.quiet and sys.stderr.isatty()
    for day in days:
        done = run_day(
            day, workspace, parameters, progress=progress, cell_timeout=args.cell_timeout
        )
        if not args.quiet:  # cron mails whatever a job prints: a quiet success prints nothing
            print(f"Day {day}: ran {', '.join(p.stem for p in done)} into {done[0].parent}")
    if not days and not args.quiet:
        print(f"{workspace.root}: nothing to catch up; every complete day has been run")
    return 0
