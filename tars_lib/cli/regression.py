"""``tars regression``: phase 5, regressions against the baselines and the rollback verdict."""

from __future__ import annotations

import argparse
from pathlib import Path

from tars_lib.cli._common import WORKSPACE, Commands, add_config_flag, library_default
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.workspace import GA_FILE, day_file
from tars_lib.phases import now_utc, run_regression

__all__ = ["register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "regression",
        help="phase 5: regressions and rollback verdict",
        description="Compare the week's last days with the GA day, the pre-GA week and the "
        "SLO targets, and give a rollback verdict.",
    )
    parser.add_argument(
        "--ga-baseline",
        metavar="FILE",
        type=Path,
        default=WORKSPACE.ga_path,
        help=f"phase 1's {GA_FILE}",
    )
    parser.add_argument(
        "--7day-summaries",
        metavar="DIR",
        dest="seven_day_summaries",
        type=Path,
        default=WORKSPACE.stability_dir,
        help=f"directory of phase 2's {day_file(1)} .. {day_file(7)}",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        type=Path,
        default=WORKSPACE.regression_path,
        help="regression summary to write",
    )
    parser.add_argument(
        "--previous-release",
        metavar="FILE",
        type=Path,
        help=f"the previous release's {GA_FILE}, a third baseline",
    )
    parser.add_argument(
        "--recent-days",
        metavar="N",
        type=int,
        default=library_default(run_regression, "recent_days"),
        help="judge the last N days of the week",
    )
    add_config_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    summary = run_regression(
        args.ga_baseline,
        args.seven_day_summaries,
        args.output,
        catalogue,
        now_utc(),
        args.previous_release,
        args.recent_days,
    )
    verdict = summary.rollback_recommendation
    print(
        f"Wrote {args.output}: {len(summary.regressions)} regression(s) against "
        f"{', '.join(summary.baselines)}; rollback {verdict.verdict.replace('_', ' ')}"
    )
    for reason in verdict.reasons:
        print(f"  - {reason.text}")
    return 0
