"""``tars anomalies``: phase 3, EWMA z-score anomaly detection over the week."""

from __future__ import annotations

import argparse
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
from tars_lib.core.models import GaKpiSummary
from tars_lib.core.workspace import GA_FILE
from tars_lib.phases import anomaly_window, now_utc, parse_timestamp, run_anomalies

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
        default=WORKSPACE.anomalies_path,
        help="events file to write",
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
    parser.set_defaults(func=run)


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
    source = spec.open()
    bar = Bar(request_count(catalogue, ga, window.end), args.quiet, "anomalies")
    try:
        result = run_anomalies(
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
    finally:
        bar.close()
    events = result.events.events
    adverse = [e for e in events if e.impact == "adverse"]
    incidents = result.events.incidents
    print(
        f"Wrote {args.output_file}: {len(events)} events ({len(adverse)} adverse, "
        f"{len(incidents)} incident(s)) "
        f"in {window.start:%Y-%m-%d %H:%M} .. {window.end:%Y-%m-%d %H:%M} UTC, "
        f"{len(result.matrix.kpis)} series, z > {settings.z_threshold:g}, "
        f"alpha {settings.ewma_alpha:g}"
    )
    for incident in incidents:
        print(f"  [{incident.severity}] {incident.title}")
    return 0
