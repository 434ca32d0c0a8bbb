"""``tars stability``: phase 2, one day of the release week."""

from __future__ import annotations

import argparse
from pathlib import Path

from tars_lib.cli._common import (
    WORKSPACE,
    Bar,
    Commands,
    add_changes_flag,
    add_config_flag,
    add_quiet_flag,
    add_source_flags,
    requests_per_day,
    source_spec,
    warn_missing,
)
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.workspace import GA_FILE, day_file
from tars_lib.phases import now_utc, run_stability

__all__ = ["register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "stability",
        help="phase 2: summarise one day of the week",
        description="Summarise one release-week day: KPIs, drift from the GA day, SLOs, "
        "and whether to consider a rollback.",
    )
    add_source_flags(parser)
    add_config_flag(parser)
    add_changes_flag(parser)
    parser.add_argument(
        "--day-number", metavar="N", type=int, help="1..7 (default: the last complete day since GA)"
    )
    parser.add_argument(
        "--ga-baseline",
        metavar="FILE",
        type=Path,
        default=WORKSPACE.ga_path,
        help=f"phase 1's {GA_FILE}",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        default=WORKSPACE.stability_dir,
        help=f"where the day's summary ({day_file(1)} for day 1) goes",
    )
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = source_spec(args)
    changes = load_changes(args.changes)
    catalogue = load_catalogue(args.config)
    source = spec.open()
    bar = Bar(requests_per_day(catalogue), args.quiet, "day")
    try:
        summary, path = run_stability(
            source,
            catalogue,
            args.ga_baseline,
            args.output_dir,
            args.day_number,
            now_utc(),
            bar,
            changes,
        )
    finally:
        bar.close()
    warn_missing("tars stability", dict(summary.kpis))
    breached = [catalogue.slo_name(k) for k, v in summary.slos.items() if v.breached]
    print(
        f"Wrote {path}: day {summary.day_number}"
        + (f", SLO breached: {', '.join(breached)}" if breached else ", no SLO breached")
    )
    if summary.rollback_recommended:
        print("ROLLBACK RECOMMENDED: " + "; ".join(summary.rollback_reasons))
    return 0
