"""``tars ga-kpi``: phase 1, the GA-day baseline."""

from __future__ import annotations

import argparse
from pathlib import Path

from tars_lib.cli._common import (
    WORKSPACE,
    Bar,
    Commands,
    add_config_flag,
    add_ga_timestamp_flag,
    add_quiet_flag,
    add_source_flags,
    add_strict_flag,
    requests_per_day,
    source_spec,
    warn_missing,
)
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.policy import MIN_COVERAGE
from tars_lib.core.workspace import GA_FILE
from tars_lib.phases import now_utc, parse_timestamp, run_ga_kpi

__all__ = ["register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "ga-kpi",
        help="phase 1: collect the GA-day baseline",
        description=f"Collect the GA day's KPIs (and the week before it) into {GA_FILE}.",
    )
    add_source_flags(parser)
    add_config_flag(parser)
    add_ga_timestamp_flag(parser)
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        default=WORKSPACE.ga_dir,
        help=f"where {GA_FILE} goes",
    )
    add_strict_flag(parser)
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = source_spec(args)
    ga = parse_timestamp(args.ga_timestamp, "ga_timestamp") if args.ga_timestamp else None
    catalogue = load_catalogue(args.config)
    source = spec.open()
    bar = Bar(requests_per_day(catalogue) * 2, args.quiet, "GA day")
    try:
        summary, path = run_ga_kpi(
            source, catalogue, args.output_dir, ga, now_utc(), bar, strict=args.strict
        )
    finally:
        bar.close()
    warn_missing("tars ga-kpi", dict(summary.kpis))
    partial = summary.partial_kpis
    print(
        f"Wrote {path}: GA day {summary.window.start:%Y-%m-%d}, {len(summary.kpis)} KPIs"
        + (", with the pre-GA week baseline" if summary.pre_ga_kpis else "")
        + (
            f"; partial data (coverage below {MIN_COVERAGE * 100:g}%): "
            + ", ".join(f"{k} {c * 100:.1f}%" for k, c in partial.items())
            if partial
            else ""
        )
    )
    return 0
