"""``tars retro``: phase 6, the release-week retrospective (Markdown, and JSON beside it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tars_lib.cli._common import (
    WORKSPACE,
    Commands,
    add_changes_flag,
    add_config_flag,
    workspace_config,
)
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.errors import InputError
from tars_lib.core.workspace import GA_FILE, RetroInputs, day_file, json_beside
from tars_lib.phases import now_utc, run_retro

__all__ = ["register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "retro",
        help="phase 6: write the retrospective (Markdown and JSON)",
        description="Write the release-week retrospective: Markdown, and JSON beside it.",
    )
    parser.add_argument(
        "--auto",
        action="store_true",
        help=f"read the default locations: {WORKSPACE.ga_dir}/, {WORKSPACE.stability_dir}/, "
        f"and {WORKSPACE.regression_path.name} and {WORKSPACE.anomalies_path.name} "
        "when present",
    )
    parser.add_argument(
        "--ga-data", metavar="DIR", type=Path, help=f"directory holding {GA_FILE} (phase 1)"
    )
    parser.add_argument(
        "--7day-data",
        metavar="DIR",
        dest="seven_day_data",
        type=Path,
        help=f"directory holding {day_file(1)} .. {day_file(7)} (phase 2)",
    )
    parser.add_argument(
        "--regression",
        metavar="FILE",
        type=Path,
        help=f"the regression summary, e.g. {WORKSPACE.regression_path.name} (phase 5)",
    )
    parser.add_argument(
        "--anomalies",
        metavar="FILE",
        type=Path,
        help=f"the anomaly events, e.g. {WORKSPACE.anomalies_path.name} (phase 3)",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        type=Path,
        default=WORKSPACE.retro_path,
        help="Markdown file to write; the JSON goes beside it",
    )
    add_config_flag(parser, workspace_copy=True)
    add_changes_flag(parser)
    parser.set_defaults(func=run)


def _inputs(args: argparse.Namespace) -> RetroInputs:
    if args.auto:
        found = WORKSPACE.retro_inputs()
        return RetroInputs(
            ga_data=args.ga_data or found.ga_data,
            seven_day_data=args.seven_day_data or found.seven_day_data,
            regression=args.regression or found.regression,
            anomalies=args.anomalies or found.anomalies,
            changes=args.changes,
            release=found.release,  # the workspace's release.yaml names the report
        )
    if args.ga_data is None or args.seven_day_data is None:
        raise InputError(
            "say where the data is: --auto for the default locations "
            f"({WORKSPACE.ga_dir}/, {WORKSPACE.stability_dir}/), "
            "or --ga-data DIR and --7day-data DIR"
        )
    return RetroInputs(
        args.ga_data, args.seven_day_data, args.regression, args.anomalies, args.changes
    )


def run(args: argparse.Namespace) -> int:
    inputs = _inputs(args)
    config = workspace_config(args.config, WORKSPACE) if args.auto else args.config
    result = run_retro(inputs, args.output, load_catalogue(config), now_utc())
    retro = result.retrospective
    print(
        f"Wrote {args.output} and {json_beside(args.output)}: status {result.status}, "
        f"{len(retro.successes)} successes, {len(retro.degradations)} degradations, "
        f"{len(retro.unexpected_drifts)} unexpected drifts, "
        f"{len(retro.recommendations_v1_0_2)} recommendations"
    )
    return 0
