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
    add_strict_flag,
    requests_per_day,
    source_spec,
    warn_missing,
)
from tars_lib.core.catalogue import Catalogue, load_catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.models import DaySummary
from tars_lib.core.policy import MIN_COVERAGE
from tars_lib.core.workspace import GA_FILE, day_file
from tars_lib.judge.health import no_traffic
from tars_lib.phases import now_utc, run_stability

__all__ = ["day_verdict", "register", "run"]


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
    add_strict_flag(parser)
    add_quiet_flag(parser)
    parser.set_defaults(func=run)


def day_verdict(summary: DaySummary, catalogue: Catalogue) -> str:
    """The day's SLOs in a few words: breached, unknown (partial data), no data, or none.

    "no SLO breached" only when every SLO was measured on enough data to be met.
    """
    names = {k: catalogue.slo_name(k) for k in summary.slos}
    breached = [names[k] for k, v in summary.slos.items() if v.status == "breached"]
    partial = [
        f"{names[k]} ({(v.coverage or 0.0) * 100:.1f}% coverage)"
        for k, v in summary.slos.items()
        if v.status == "unknown" and v.bad_fraction is not None
    ]
    missing = [names[k] for k, v in summary.slos.items() if v.bad_fraction is None]
    parts = [f"SLO breached: {', '.join(breached)}"] if breached else []
    if partial:
        parts.append(f"SLO unknown (partial data): {', '.join(partial)}")
    if missing:
        parts.append(f"SLO unknown (no data): {', '.join(missing)}")
    reason = no_traffic(summary.kpis, catalogue)
    if reason is not None:
        parts.insert(0, f"no data ({reason})")
    partial_kpis = summary.partial_kpis
    if partial_kpis:
        shown = ", ".join(f"{k} {c * 100:.1f}%" for k, c in partial_kpis.items())
        parts.append(f"partial data (coverage below {MIN_COVERAGE * 100:g}%): {shown}")
    return "; ".join(parts) if parts else "no SLO breached"


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
            strict=args.strict,
        )
    finally:
        bar.close()
    warn_missing("tars stability", dict(summary.kpis))
    print(f"Wrote {path}: day {summary.day_number}, {day_verdict(summary, catalogue)}")
    if summary.rollback_recommended:
        print("ROLLBACK RECOMMENDED: " + "; ".join(summary.rollback_reasons))
    return 0
