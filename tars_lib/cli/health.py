"""``tars health``: phase 4, a day's health score and mitigation plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from tars_lib.cli._common import WORKSPACE, Commands, add_config_flag
from tars_lib.core.catalogue import load_catalogue
from tars_lib.phases import now_utc, run_health

__all__ = ["register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "health",
        help="phase 4: a day's health score and mitigation plan",
        description="Score one day's health from its summary (and the anomaly events) "
        "and write a prioritised mitigation plan.",
    )
    parser.add_argument(
        "--stability-data",
        metavar="FILE",
        type=Path,
        required=True,
        help=f"the day's summary (phase 2), e.g. {WORKSPACE.day_path(1)}",
    )
    parser.add_argument(
        "--anomaly-data",
        metavar="FILE",
        type=Path,
        help=f"the anomaly events (phase 3), e.g. {WORKSPACE.anomalies_path.name}",
    )
    parser.add_argument(
        "--output-file",
        metavar="FILE",
        type=Path,
        help="report to write (default: beside the day's summary, e.g. "
        f"{WORKSPACE.health_path(1).name})",
    )
    parser.add_argument(
        "--day-number", metavar="N", type=int, help="the day (1..7), checked against the summary's"
    )
    add_config_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    report, path = run_health(
        args.stability_data,
        args.anomaly_data,
        args.output_file,
        catalogue,
        now_utc(),
        args.day_number,
    )
    print(
        f"Wrote {path}: day {report.day_number} health {report.health_score:.1f} "
        f"({report.status}), {len(report.mitigation_plan)} mitigation action(s)"
    )
    for action in report.mitigation_plan[:5]:
        print(f"  [{action.priority}] {action.finding}")
    return 0
