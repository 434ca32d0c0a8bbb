"""``tars anomalies``: phase 3, EWMA z-score anomaly detection over the week.

Without ``--output-file`` it works in the workspace (the current directory) as
``tars run-day`` does: each day's evidence in its own file, the week's events
rebuilt from them. With it, one window's events go to that file alone.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path

from tars_lib.cli._common import (
    WORKSPACE,
    Bar,
    Commands,
    add_changes_flag,
    add_config_flag,
    add_detector_flags,
    add_quiet_flag,
    add_source_flags,
    detector,
    source_spec,
)
from tars_lib.collect.collector import request_count
from tars_lib.core.artifacts import read_artifact
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import InputError
from tars_lib.core.models import AnomalyEvents, GaKpiSummary, Window
from tars_lib.core.workspace import GA_FILE, Workspace
from tars_lib.phases import (
    anomaly_window,
    now_utc,
    parse_timestamp,
    run_anomalies,
    run_day_anomalies,
)

__all__ = ["register", "run"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "anomalies",
        help="phase 3: EWMA z-score anomaly detection",
        description="Detect anomalies in the release week's series with an EWMA z-score "
        "detector warmed up on the GA day.",
    )
    add_source_flags(parser)
    add_config_flag(parser)
    add_detector_flags(parser)
    add_changes_flag(parser)
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        type=Path,
        default=WORKSPACE.ga_path,
        help=f"phase 1's {GA_FILE}; its GA day warms the detector up",
    )
    parser.add_argument(
        "--output-file",
        metavar="FILE",
        type=Path,
        help="write this window's events to FILE alone (default: the workspace's evidence "
        f"per day, {WORKSPACE.day_anomalies_path(1)} .., and {WORKSPACE.anomalies_path.name} "
        "rebuilt from it)",
    )
    parser.add_argument(
        "--day-number",
        metavar="N",
        type=int,
        help="one day (1..7) (default: days 1.. up to the last complete day)",
    )
    parser.add_argument(
        "--start", metavar="TIME", help="window start, ISO 8601 UTC (instead of a day)"
    )
    parser.add_argument("--end", metavar="TIME", help="window end, ISO 8601 UTC (instead of a day)")
    add_quiet_flag(parser)
    parser.set_defaults(func=run, workspace=WORKSPACE.root)  # held locked while it runs


def _whole_days(ga: datetime, window: Window) -> list[int]:
    """The days a window spans; the workspace keeps evidence by whole days only."""
    day = timedelta(days=1)
    first, last = (window.start - ga) / day, (window.end - ga) / day
    if first != int(first) or last != int(last):
        raise InputError(
            "--start/--end: the workspace keeps anomaly evidence per day (GA + N x 24 h); "
            "give whole days, or --output-file FILE for another span"
        )
    return list(range(int(first), int(last)))


def run(args: argparse.Namespace) -> int:
    spec = source_spec(args)
    settings = detector(args)
    changes = load_changes(args.changes)
    start = parse_timestamp(args.start, "start") if args.start else None
    end = parse_timestamp(args.end, "end") if args.end else None
    catalogue = load_catalogue(args.config)
    ga = read_artifact(args.baseline, GaKpiSummary).ga_timestamp
    now = now_utc()
    window = anomaly_window(ga, now, args.day_number, start, end)
    days = _whole_days(ga, window) if args.output_file is None else []
    source = spec.open()
    bar = Bar(request_count(catalogue, ga, window.end), args.quiet, "anomalies")
    workspace = Workspace(args.workspace)
    try:
        if args.output_file is None:
            run_days = run_day_anomalies(
                source,
                catalogue,
                workspace,
                days,
                detector=settings,
                now=now,
                progress=bar,
                changes=changes,
                baseline_path=args.baseline,
            )
            result: AnomalyEvents = run_days.events
            series = len(run_days.matrix.kpis)
            written = ", ".join(str(d.day_number) for d in run_days.written)
            wrote = f"{workspace.anomalies_path} (evidence of day(s) {written} written)"
        else:
            one = run_anomalies(
                source,
                catalogue,
                args.baseline,
                args.output_file,
                window=window,
                detector=settings,
                now=now,
                progress=bar,
                changes=changes,
            )
            result, series, wrote = one.events, len(one.matrix.kpis), str(args.output_file)
    finally:
        bar.close()
    events = result.events
    adverse = [e for e in events if e.impact == "adverse"]
    shown = result.window
    print(
        f"Wrote {wrote}: {len(events)} events ({len(adverse)} adverse, "
        f"{len(result.incidents)} incident(s)) "
        f"in {shown.start:%Y-%m-%d %H:%M} .. {shown.end:%Y-%m-%d %H:%M} UTC, "
        f"{series} series, z > {settings.z_threshold:g}, "
        f"alpha {settings.ewma_alpha:g}"
    )
    for incident in result.incidents:
        print(f"  [{incident.severity}] {incident.title}")
    return 0
