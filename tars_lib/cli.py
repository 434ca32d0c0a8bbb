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

from pydantic import BaseModel

from tars_lib.artifacts import read_artifact, write_texts_atomic
from tars_lib.catalogue import load_catalogue
from tars_lib.collector import latest_complete_day, request_count
from tars_lib.errors import InputError, TarsError
from tars_lib.models import (
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    HealthReport,
    KpiValue,
    RegressionSummary,
    Retrospective,
)
from tars_lib.phases import (
    anomaly_window,
    make_source,
    now_utc,
    parse_timestamp,
    run_anomalies,
    run_ga_kpi,
    run_health,
    run_regression,
    run_retro,
    run_stability,
)
from tars_lib.scenario import ScenarioSource, simulate, write_exposition
from tars_lib.source import MetricSource
from tars_lib.workspace import DEFAULT_OUTPUT, GA_FILE, RetroInputs, auto_inputs

__all__ = ["main"]

DAY = timedelta(days=1)
NOW0 = datetime(2000, 1, 1, tzinfo=UTC)  # any day: only the number of requests matters

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


def _source(args: argparse.Namespace) -> MetricSource:
    return make_source(
        args.prometheus_url,
        args.scenario,
        args.selector,
        timeout=args.timeout,
        retries=args.retries,
        concurrency=args.concurrency,
    )


def _warn_missing(command: str, kpis: dict[str, KpiValue]) -> None:
    missing = [k for k, v in kpis.items() if v.value is None]
    if missing:
        print(
            f"{command}: warning: no data for {', '.join(missing)} (recorded as missing, "
            "not 0); check the queries in the KPI catalogue or --selector",
            file=sys.stderr,
        )


def _cmd_ga_kpi(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    source = _source(args)
    ga = parse_timestamp(args.ga_timestamp, "--ga-timestamp") if args.ga_timestamp else None
    bar = _Bar(request_count(catalogue, NOW0, NOW0 + DAY) * 2, args.quiet, "GA day")
    try:
        summary, path = run_ga_kpi(
            source, catalogue, args.output_dir, ga, now_utc(), args.selector, bar
        )
    finally:
        bar.close()
    _warn_missing("tars ga-kpi", dict(summary.kpis))
    print(
        f"Wrote {path}: GA day {summary.window.start:%Y-%m-%d}, {len(summary.kpis)} KPIs"
        + (", with the pre-GA week baseline" if summary.pre_ga_kpis else "")
    )
    return 0


def _cmd_stability(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    source = _source(args)
    bar = _Bar(request_count(catalogue, NOW0, NOW0 + DAY), args.quiet, "day")
    try:
        summary, path = run_stability(
            source,
            catalogue,
            args.ga_baseline,
            args.output_dir,
            args.day_number,
            now_utc(),
            args.selector,
            bar,
        )
    finally:
        bar.close()
    _warn_missing("tars stability", dict(summary.kpis))
    breached = [catalogue.slo_name(k) for k, v in summary.slos.items() if v.breached]
    print(
        f"Wrote {path}: day {summary.day_number}"
        + (f", SLO breached: {', '.join(breached)}" if breached else ", no SLO breached")
    )
    if summary.rollback_recommended:
        print("ROLLBACK RECOMMENDED: " + "; ".join(summary.rollback_reasons))
    return 0


def _cmd_anomalies(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.config)
    ga = read_artifact(args.baseline, GaKpiSummary).ga_timestamp
    now = now_utc()
    window = anomaly_window(
        ga,
        now,
        args.day_number,
        parse_timestamp(args.start, "--start") if args.start else None,
        parse_timestamp(args.end, "--end") if args.end else None,
    )
    source = _source(args)
    bar = _Bar(request_count(catalogue, ga, window.end), args.quiet, "anomalies")
    try:
        run = run_anomalies(
            source,
            catalogue,
            args.baseline,
            args.output_file,
            window,
            args.z_threshold,
            args.ewma_alpha,
            now,
            args.selector,
            bar,
        )
    finally:
        bar.close()
    events = run.events.events
    adverse = [e for e in events if e.impact == "adverse"]
    print(
        f"Wrote {args.output_file}: {len(events)} events ({len(adverse)} adverse) "
        f"in {window.start:%Y-%m-%d %H:%M} .. {window.end:%Y-%m-%d %H:%M} UTC, "
        f"{len(run.matrix.kpis)} series, z > {args.z_threshold:g}, alpha {args.ewma_alpha:g}"
    )
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
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


def _cmd_regression(args: argparse.Namespace) -> int:
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


def _cmd_run_day(args: argparse.Namespace) -> int:
    from tars_lib.runner import run_day

    if not args.prometheus_url and not args.scenario:
        make_source(None, None)  # raises the message saying what to pass
    parameters: dict[str, object] = {
        "prometheus_url": args.prometheus_url or "",
        "scenario": str(Path(args.scenario).resolve()) if args.scenario else "",
        "selector": args.selector or "",
        "config": str(Path(args.config).resolve()) if args.config else "",
        "ga_timestamp": args.ga_timestamp or "",
        "z_threshold": args.z_threshold,
        "ewma_alpha": args.ewma_alpha,
    }
    day = args.day
    if day is None:  # the last complete day, from the workspace's GA baseline
        baseline = args.workspace / "ga_kpis" / GA_FILE
        if not baseline.is_file():
            raise InputError(f"{baseline}: no GA baseline yet; run `tars run-day 0` first")
        day = latest_complete_day(read_artifact(baseline, GaKpiSummary).ga_timestamp, now_utc())
    progress = not args.quiet and sys.stderr.isatty()
    done = run_day(
        day, args.workspace, parameters, progress=progress, cell_timeout=args.cell_timeout
    )
    print(f"Day {day}: ran {', '.join(p.stem for p in done)} into {done[0].parent}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from tars_lib.report import render_site

    site = render_site(args.workspace, args.output_dir, args.renderer)
    print(
        f"Site ({site.renderer}): {site.output_dir / 'index.html'} with "
        f"{len(site.pages)} phase page(s)"
    )
    if site.pdf is not None:
        print(f"PDF: {site.pdf}")
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
    result = run_retro(inputs, args.output, load_catalogue(args.config), now_utc())
    retro = result.retrospective
    print(
        f"Wrote {args.output} and {args.output.with_suffix('.json')}: status {result.status}, "
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

    run = sub.add_parser("run-day", help="run a day's phase notebooks with papermill")
    run.add_argument(
        "day",
        type=int,
        nargs="?",
        help="0 (GA day) to 7 (adds regression and retro); default: the last "
        "complete day after the workspace's GA baseline",
    )
    run.add_argument(
        "--workspace",
        type=Path,
        default=Path(),
        help="where the artifacts and runs/day_NN/ go (default: here)",
    )
    run.add_argument("--prometheus-url")
    run.add_argument("--scenario", type=Path)
    run.add_argument("--selector")
    run.add_argument("--config", type=Path)
    run.add_argument("--ga-timestamp")
    run.add_argument("--z-threshold", type=float, default=3.0)
    run.add_argument("--ewma-alpha", type=float, default=0.3)
    run.add_argument("--cell-timeout", type=int, default=600, help="seconds per cell (600)")
    run.add_argument("--quiet", action="store_true")
    run.set_defaults(func=_cmd_run_day)

    report = sub.add_parser("report", help="render the site and the retrospective PDF")
    report.add_argument("--workspace", type=Path, default=Path())
    report.add_argument("--output-dir", type=Path, default=Path("_site"))
    report.add_argument(
        "--renderer",
        choices=["auto", "quarto", "fallback"],
        default="auto",
        help="auto: quarto when on PATH, else nbconvert + pandoc + typst",
    )
    report.set_defaults(func=_cmd_report)

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
