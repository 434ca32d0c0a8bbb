"""The ``tars`` command: a thin skin over the library, one subcommand per phase.

Every failure the user can fix ends as one line on stderr with the exit status
documented in ``tars_lib.errors``; no traceback unless TARS_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from tars_lib.anomaly import detect, matrix_from_windows
from tars_lib.artifacts import dump_json, read_artifact, write_artifact, write_texts_atomic
from tars_lib.catalogue import Catalogue, load_catalogue
from tars_lib.collector import (
    STEP_SECONDS,
    build_day_summary,
    build_ga_summary,
    collect_window,
    latest_complete_day,
    request_count,
)
from tars_lib.errors import InputError, TarsError
from tars_lib.health import build_health_report
from tars_lib.markdown import render_markdown
from tars_lib.models import (
    WEEK_DAYS,
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    HealthReport,
    RegressionSummary,
    Retrospective,
    Window,
)
from tars_lib.prometheus import PrometheusSource
from tars_lib.regression import analyze_regressions
from tars_lib.retrospective import build_retrospective
from tars_lib.scenario import ScenarioSource, simulate, write_exposition
from tars_lib.source import MetricSource
from tars_lib.workspace import (
    DEFAULT_OUTPUT,
    GA_FILE,
    RetroInputs,
    auto_inputs,
    day_file,
    load_day_summaries,
    load_release_week,
)

__all__ = ["main"]

SCHEMAS: dict[str, type[BaseModel]] = {
    "ga_kpi_summary": GaKpiSummary,
    "day_summary": DaySummary,
    "anomaly_events": AnomalyEvents,
    "health_report": HealthReport,
    "regression_summary": RegressionSummary,
    "retrospective": Retrospective,
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{message} (see `{self.prog} --help`)")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _parse_timestamp(text: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{flag} {text!r}: not an ISO 8601 timestamp such as 2025-11-18T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"{flag} {text!r}: needs a time zone, e.g. 2025-11-18T00:00:00Z")
    return moment.astimezone(UTC)


def _source(args: argparse.Namespace) -> MetricSource:
    """--prometheus-url or --scenario, never a silent default."""
    if args.prometheus_url and args.scenario:
        raise InputError("pass --prometheus-url or --scenario, not both")
    if args.prometheus_url:
        return PrometheusSource(
            args.prometheus_url,
            timeout=args.timeout,
            retries=args.retries,
            concurrency=args.concurrency,
        )
    if args.scenario:
        return ScenarioSource(args.scenario, args.selector)
    raise InputError(
        "say where the metrics come from: --prometheus-url http://HOST:9090 for Prometheus "
        "(or Thanos, Mimir, VictoriaMetrics), or --scenario data/scenarios/ga_week.yaml for "
        "the simulated week"
    )


class _Bar:
    """A tqdm progress bar on a terminal; nothing otherwise or with --quiet."""

    def __init__(self, total: int, quiet: bool, what: str) -> None:
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=what, unit="req", file=sys.stderr, leave=False)

    def __call__(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _warn_missing(command: str, kpis: dict[str, object], catalogue: Catalogue) -> None:
    missing = [k for k, v in kpis.items() if getattr(v, "value", None) is None]
    if missing:
        print(
            f"{command}: warning: no data for {', '.join(missing)} (recorded as missing, "
            "not 0); check the queries in the KPI catalogue or --selector",
            file=sys.stderr,
        )


def _cmd_ga_kpi(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    source = _source(args)
    if args.ga_timestamp:
        ga = _parse_timestamp(args.ga_timestamp, "--ga-timestamp")
    elif isinstance(source, ScenarioSource):
        ga = source.scenario.ga_timestamp
    else:
        raise InputError(
            "--ga-timestamp is required with --prometheus-url, e.g. "
            "--ga-timestamp 2025-11-18T00:00:00Z"
        )
    day = timedelta(days=1)
    bar = _Bar(request_count(catalogue, ga, ga + day) * 2, args.quiet, "GA day")
    try:
        summary = build_ga_summary(source, catalogue, ga, _now(), args.selector, bar)
    finally:
        bar.close()
    path = args.output_dir / GA_FILE
    write_artifact(path, summary)
    _warn_missing("tars ga-kpi", dict(summary.kpis), catalogue)
    print(
        f"Wrote {path}: GA day {summary.window.start:%Y-%m-%d}, {len(summary.kpis)} KPIs"
        + (", with the pre-GA week baseline" if summary.pre_ga_kpis else "")
    )
    return 0


def _cmd_stability(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    ga_summary = read_artifact(args.ga_baseline, GaKpiSummary)
    source = _source(args)
    now = _now()
    day_number = args.day_number or latest_complete_day(ga_summary.ga_timestamp, now)
    start = ga_summary.ga_timestamp + timedelta(days=day_number)
    bar = _Bar(
        request_count(catalogue, start, start + timedelta(days=1)), args.quiet, f"day {day_number}"
    )
    try:
        summary = build_day_summary(
            source, catalogue, ga_summary, day_number, now, args.selector, bar
        )
    finally:
        bar.close()
    path = args.output_dir / day_file(day_number)
    write_artifact(path, summary)
    _warn_missing("tars stability", dict(summary.kpis), catalogue)
    breached = [catalogue.slo_name(k) for k, v in summary.slos.items() if v.breached]
    print(
        f"Wrote {path}: day {day_number}"
        + (f", SLO breached: {', '.join(breached)}" if breached else ", no SLO breached")
    )
    if summary.rollback_recommended:
        print("ROLLBACK RECOMMENDED: " + "; ".join(summary.rollback_reasons))
    return 0


def _anomaly_window(args: argparse.Namespace, ga: datetime, now: datetime) -> Window:
    day = timedelta(days=1)
    if args.day_number is not None and (args.start or args.end):
        raise InputError("pass --day-number or --start/--end, not both")
    if args.day_number is not None:
        if not 1 <= args.day_number <= WEEK_DAYS:
            raise InputError(f"--day-number {args.day_number}: the release week has days 1..7")
        start = ga + args.day_number * day
        return Window(start=start, end=start + day)
    start = _parse_timestamp(args.start, "--start") if args.start else ga + day
    if args.end:
        end = _parse_timestamp(args.end, "--end")
    elif now >= ga + (WEEK_DAYS + 1) * day:  # the week is over: all of it
        end = ga + (WEEK_DAYS + 1) * day
    else:  # up to the end of the last complete day
        end = ga + (latest_complete_day(ga, now) + 1) * day
    if start < ga + day or end <= start:
        raise InputError(
            "the window must start on or after day 1 (GA + 24 h) and end after "
            "it starts; the GA day itself is the detector's warm-up"
        )
    return Window(start=start, end=end)


def _cmd_anomalies(args: argparse.Namespace) -> int:
    if args.z_threshold <= 0:
        raise InputError(f"--z-threshold {args.z_threshold:g}: must be positive (default 3.0)")
    if not 0 < args.ewma_alpha <= 1:
        raise InputError(f"--ewma-alpha {args.ewma_alpha:g}: must be in (0, 1] (default 0.3)")
    catalogue = load_catalogue(args.config)
    ga_summary = read_artifact(args.baseline, GaKpiSummary)
    source = _source(args)
    now = _now()
    ga = ga_summary.ga_timestamp
    window = _anomaly_window(args, ga, now)
    if window.end > now:
        raise InputError(f"the window ends {window.end:%Y-%m-%dT%H:%M:%SZ}, in the future")
    bar = _Bar(request_count(catalogue, ga, window.end), args.quiet, "anomalies")
    try:
        windows = collect_window(source, catalogue, args.selector, ga, window.end, bar)
    finally:
        bar.close()
    step = STEP_SECONDS
    grid = np.arange(int(ga.timestamp()) + step, int(window.end.timestamp()) + 1, step)
    matrix = matrix_from_windows(
        list(catalogue.kpis),
        {k: w.series for k, w in windows.items()},
        grid,
        86400 // step,
        step,
    )
    events = detect(matrix, catalogue, window, args.z_threshold, args.ewma_alpha, now)
    write_artifact(args.output_file, events)
    adverse = [e for e in events.events if e.impact == "adverse"]
    print(
        f"Wrote {args.output_file}: {len(events.events)} events ({len(adverse)} adverse) "
        f"in {window.start:%Y-%m-%d %H:%M} .. {window.end:%Y-%m-%d %H:%M} UTC, "
        f"{len(matrix.kpis)} series, z > {args.z_threshold:g}, alpha {args.ewma_alpha:g}"
    )
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    day = read_artifact(args.stability_data, DaySummary)
    if args.day_number is not None and args.day_number != day.day_number:
        raise InputError(
            f"{args.stability_data}: day_number: is {day.day_number} but --day-number says "
            f"{args.day_number}"
        )
    anomalies = None
    if args.anomaly_data is not None:
        anomalies = read_artifact(args.anomaly_data, AnomalyEvents)
    report = build_health_report(day, anomalies, catalogue, _now())
    output = args.output_file or args.stability_data.with_name(
        f"day_{day.day_number:02d}_HEALTH.json"
    )
    write_artifact(output, report)
    print(
        f"Wrote {output}: day {day.day_number} health {report.health_score:.1f} "
        f"({report.status}), {len(report.mitigation_plan)} mitigation action(s)"
    )
    for action in report.mitigation_plan[:5]:
        print(f"  [{action.priority}] {action.finding}")
    return 0


def _cmd_regression(args: argparse.Namespace) -> int:
    if args.recent_days < 1:
        raise InputError(f"--recent-days {args.recent_days}: must be at least 1")
    catalogue = load_catalogue(args.config)
    ga_summary = read_artifact(args.ga_baseline, GaKpiSummary)
    days = load_day_summaries(args.seven_day_summaries, ga_summary, args.ga_baseline)
    previous = None
    if args.previous_release is not None:
        previous = read_artifact(args.previous_release, GaKpiSummary)
    summary = analyze_regressions(catalogue, ga_summary, days, _now(), previous, args.recent_days)
    write_artifact(args.output, summary)
    verdict = summary.rollback_recommendation
    print(
        f"Wrote {args.output}: {len(summary.regressions)} regression(s) against "
        f"{', '.join(summary.baselines)}; rollback {verdict.verdict.replace('_', ' ')}"
    )
    for reason in verdict.reasons:
        print(f"  - {reason.text}")
    return 0


def _cmd_scenario_export(args: argparse.Namespace) -> int:
    source = ScenarioSource(args.scenario)
    raw = (
        simulate(source.scenario)
        if args.replicas is None
        else simulate(source.scenario.model_copy(update={"replicas": args.replicas}))
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        write_exposition(raw, handle)
    tmp.replace(args.output)
    series = sum(len(v) for v in (*raw.counters.values(), *raw.gauges.values()))
    print(f"Wrote {args.output}: {series} series x {len(raw.timestamps)} samples (OpenMetrics)")
    return 0


def _cmd_retro(args: argparse.Namespace) -> int:
    if args.auto:
        base = auto_inputs()
        inputs = RetroInputs(
            ga_data=args.ga_data or base.ga_data,
            seven_day_data=args.seven_day_data or base.seven_day_data,
            regression=args.regression or base.regression,
            anomalies=args.anomalies or base.anomalies,
        )
    elif args.ga_data is None or args.seven_day_data is None:
        raise InputError(
            "say where the data is: --auto for the default locations (ga_kpis/, stability/), "
            "or --ga-data DIR and --7day-data DIR"
        )
    else:
        inputs = RetroInputs(args.ga_data, args.seven_day_data, args.regression, args.anomalies)
    for name, path in (("--regression", inputs.regression), ("--anomalies", inputs.anomalies)):
        if path is not None and not path.is_file():
            what = "is a directory" if path.is_dir() else "file not found"
            raise InputError(f"{path}: {what} (given as {name})")
    catalogue = load_catalogue(args.config)
    week = load_release_week(inputs, catalogue)
    result = build_retrospective(week, _now())
    output: Path = args.output
    if output.suffix.lower() == ".json":
        raise InputError(
            f"--output {output}: names the Markdown file (e.g. {output.with_suffix('.md')}); "
            "the JSON is written beside it"
        )
    json_path = output.with_suffix(".json")
    write_texts_atomic(
        [(output, render_markdown(result)), (json_path, dump_json(result.retrospective))]
    )
    retro = result.retrospective
    print(
        f"Wrote {output} and {json_path}: status {result.status}, "
        f"{len(retro.successes)} successes, {len(retro.degradations)} degradations, "
        f"{len(retro.unexpected_drifts)} unexpected drifts, "
        f"{len(retro.recommendations_v1_0_2)} recommendations"
    )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    files = [
        (
            args.output_dir / f"{name}.schema.json",
            json.dumps(model.model_json_schema(mode="serialization"), indent=2) + "\n",
        )
        for name, model in SCHEMAS.items()
    ]
    write_texts_atomic(files)
    print(f"Wrote {len(files)} JSON Schemas to {args.output_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tars", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    retro = sub.add_parser(
        "retro",
        help="phase 6: write the retrospective (Markdown and JSON)",
        description="Write the release-week retrospective: Markdown, and JSON beside it.",
    )
    retro.add_argument(
        "--auto",
        action="store_true",
        help="use the default locations: ga_kpis/, stability/, "
        "regression_summary.json, anomaly_events.json",
    )
    retro.add_argument("--ga-data", type=Path, help="directory holding ga_kpi_summary.json")
    retro.add_argument(
        "--7day-data",
        dest="seven_day_data",
        type=Path,
        help="directory holding day_01_summary.json .. day_07_summary.json",
    )
    retro.add_argument("--regression", type=Path, help="regression_summary.json (phase 5)")
    retro.add_argument("--anomalies", type=Path, help="anomaly_events.json (phase 3)")
    retro.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"Markdown file to write; the JSON goes beside it (default {DEFAULT_OUTPUT})",
    )
    retro.add_argument("--config", type=Path, help="KPI catalogue (default data/config/kpis.yaml)")
    retro.set_defaults(func=_cmd_retro)

    def source_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--prometheus-url",
            help="Prometheus-compatible base URL; credentials "
            "only from TARS_PROMETHEUS_TOKEN or TARS_PROMETHEUS_USER/_PASSWORD",
        )
        p.add_argument(
            "--scenario",
            type=Path,
            help="simulated week instead of a backend, e.g. data/scenarios/ga_week.yaml",
        )
        p.add_argument("--config", type=Path, help="KPI catalogue (default data/config/kpis.yaml)")
        p.add_argument("--selector", help="label matchers added to every query, e.g. 'job=\"api\"'")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
        p.add_argument("--retries", type=int, default=3, help="retries on 429/5xx/timeouts (3)")
        p.add_argument("--concurrency", type=int, default=4, help="requests at once (4)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    ga_kpi = sub.add_parser("ga-kpi", help="phase 1: collect the GA-day baseline")
    source_flags(ga_kpi)
    ga_kpi.add_argument("--output-dir", type=Path, default=Path("ga_kpis"))
    ga_kpi.add_argument("--ga-timestamp", help="GA moment, e.g. 2025-11-18T00:00:00Z")
    ga_kpi.set_defaults(func=_cmd_ga_kpi)

    stability = sub.add_parser("stability", help="phase 2: summarise one day of the week")
    source_flags(stability)
    stability.add_argument(
        "--day-number", type=int, help="1..7; default: the last complete day since GA"
    )
    stability.add_argument("--ga-baseline", type=Path, default=Path("ga_kpis") / GA_FILE)
    stability.add_argument("--output-dir", type=Path, default=Path("stability"))
    stability.set_defaults(func=_cmd_stability)

    anomalies = sub.add_parser("anomalies", help="phase 3: EWMA z-score anomaly detection")
    source_flags(anomalies)
    anomalies.add_argument(
        "--baseline",
        type=Path,
        default=Path("ga_kpis") / GA_FILE,
        help="ga_kpi_summary.json (its GA day warms the detector up)",
    )
    anomalies.add_argument("--output-file", type=Path, default=Path("anomaly_events.json"))
    anomalies.add_argument("--z-threshold", type=float, default=3.0)
    anomalies.add_argument("--ewma-alpha", type=float, default=0.3)
    anomalies.add_argument(
        "--day-number",
        type=int,
        help="one day (1..7); default: days 1.. up to the last complete day",
    )
    anomalies.add_argument("--start", help="window start, ISO 8601 UTC (instead of a day)")
    anomalies.add_argument("--end", help="window end, ISO 8601 UTC")
    anomalies.set_defaults(func=_cmd_anomalies)

    health = sub.add_parser("health", help="phase 4: a day's health score and mitigation plan")
    health.add_argument(
        "--stability-data",
        type=Path,
        required=True,
        help="the day's summary, e.g. stability/day_01_summary.json",
    )
    health.add_argument("--anomaly-data", type=Path, help="anomaly_events.json (phase 3)")
    health.add_argument(
        "--output-file", type=Path, help="default: day_NN_HEALTH.json beside the day's summary"
    )
    health.add_argument("--day-number", type=int, help="checked against the summary's day")
    health.add_argument("--config", type=Path, help="KPI catalogue")
    health.set_defaults(func=_cmd_health)

    regression = sub.add_parser("regression", help="phase 5: regressions and rollback verdict")
    regression.add_argument("--ga-baseline", type=Path, default=Path("ga_kpis") / GA_FILE)
    regression.add_argument(
        "--7day-summaries",
        dest="seven_day_summaries",
        type=Path,
        default=Path("stability"),
        help="directory of day_NN_summary.json",
    )
    regression.add_argument("--output", type=Path, default=Path("regression_summary.json"))
    regression.add_argument(
        "--previous-release",
        type=Path,
        help="the previous release's ga_kpi_summary.json, a third baseline",
    )
    regression.add_argument(
        "--recent-days", type=int, default=3, help="judge the last N days of the week (3)"
    )
    regression.add_argument("--config", type=Path, help="KPI catalogue")
    regression.set_defaults(func=_cmd_regression)

    scenario = sub.add_parser("scenario", help="the simulated week: export its samples")
    scenario_sub = scenario.add_subparsers(
        dest="scenario_command", required=True, parser_class=_Parser
    )
    export = scenario_sub.add_parser("export", help="write the samples as OpenMetrics text")
    export.add_argument("--scenario", type=Path, required=True)
    export.add_argument("--output", type=Path, required=True)
    export.add_argument("--replicas", type=int, help="simulate N instances (for benchmarks)")
    export.set_defaults(func=_cmd_scenario_export)

    schema = sub.add_parser("schema", help="write the JSON Schemas of all six artifacts")
    schema.add_argument("--output-dir", type=Path, required=True)
    schema.set_defaults(func=_cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    command = "tars"
    try:
        args = parser.parse_args(argv)
        command = f"tars {args.command}"
        return int(args.func(args))
    except TarsError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{command}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"{command}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("TARS_DEBUG"):
            raise
        print(
            f"{command}: internal error: {type(exc).__name__}: {exc} "
            "(a bug: rerun with TARS_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
