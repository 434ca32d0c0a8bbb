"""``tars run-day``: a day's phase notebooks, executed with papermill."""

from __future__ import annotations

import argparse
import sys

from tars_lib.cli._common import (
    Commands,
    add_changes_flag,
    add_config_flag,
    add_detector_flags,
    add_ga_timestamp_flag,
    add_quiet_flag,
    add_source_flags,
    add_strict_flag,
    add_workspace_flag,
    detector,
    library_default,
    source_spec,
)
from tars_lib.collect.collector import latest_complete_day
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.workspace import Workspace
from tars_lib.phases import now_utc, parse_timestamp
from tars_lib.report.runner import NotebookParameters, run_day, stages_for_day

__all__ = ["register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "run-day",
        help="run a day's phase notebooks with papermill",
        description="Execute a day's phase notebooks with papermill into the workspace's "
        "runs folder: day 0 collects the GA day; days 1..7 run stability, anomalies and "
        "health; day 7 adds regression and the retrospective.",
    )
    parser.add_argument(
        "day",
        type=int,
        nargs="?",
        help="0 (GA day) to 7 (default: the last complete day after the workspace's GA baseline)",
    )
    add_workspace_flag(parser, "where the artifacts and the executed notebooks go")
    add_source_flags(parser)
    add_config_flag(parser)
    add_ga_timestamp_flag(parser)
    add_detector_flags(parser)
    add_changes_flag(parser)
    parser.add_argument(
        "--cell-timeout",
        metavar="SECONDS",
        type=int,
        default=library_default(run_day, "cell_timeout"),
        help="seconds a notebook cell may run",
    )
    add_strict_flag(parser)
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = source_spec(args)
    parameters = NotebookParameters(
        source=spec,
        detector=detector(args),
        config=args.config,
        ga_timestamp=args.ga_timestamp,
        changes=args.changes,
        strict=args.strict,
    )
    load_changes(args.changes)  # a bad changes file fails here, not in a notebook
    if args.ga_timestamp:
        parse_timestamp(args.ga_timestamp, "ga_timestamp")  # checked here, not in a notebook
    if not spec.given:
        spec.open()  # raises the message saying what to pass, before papermill starts
    workspace = Workspace(args.workspace)
    day = args.day
    if day is None:  # the last complete day, from the workspace's GA baseline
        if not workspace.ga_path.is_file():
            raise InputError(f"{workspace.ga_path}: no GA baseline yet; run `tars run-day 0` first")
        day = latest_complete_day(workspace.ga().ga_timestamp, now_utc())
    stages_for_day(day)  # a day outside 0..7 is an error before anything is written
    if day == 0 and spec.prometheus_url and not args.ga_timestamp:
        raise SettingError(
            "ga_timestamp",
            "{ga_timestamp} is required with {prometheus_url}, e.g. 2025-11-18T00:00:00Z",
        )
    progress = not args.quiet and sys.stderr.isatty()
    done = run_day(day, workspace, parameters, progress=progress, cell_timeout=args.cell_timeout)
    if not args.quiet:  # cron mails whatever a job prints: a quiet success prints nothing
        print(f"Day {day}: ran {', '.join(p.stem for p in done)} into {done[0].parent}")
    return 0
