"""The six phases as functions: what the CLI and the notebooks both call.

Each takes explicit paths and values (no argparse, no environment except the
credentials ``PrometheusSource`` reads itself), writes its artifact through
``artifacts`` when given somewhere to write it, and returns the model, so a
notebook and ``tars`` produce byte-identical JSON for the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tars_lib.collect.collector import (
    STEP_SECONDS,
    build_day_summary,
    build_ga_summary,
    collect_window,
    latest_complete_day,
    require_coverage,
)
from tars_lib.core.artifacts import dump_json, read_artifact, write_artifact, write_texts_atomic
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.models import (
    WEEK_DAYS,
    AnomalyEvents,
    AnomalyParameters,
    Change,
    DayAnomalies,
    DaySummary,
    GaKpiSummary,
    HealthReport,
    RegressionSummary,
    Release,
    Window,
)
from tars_lib.core.week import load_day_summaries, load_release_week
from tars_lib.core.workspace import (
    GA_FILE,
    RetroInputs,
    Workspace,
    day_file,
    health_beside,
    json_beside,
)
from tars_lib.judge.health import build_health_report
from tars_lib.retro.markdown import render_markdown
from tars_lib.retro.retrospective import RetroResult, build_retrospective
from tars_lib.sources.base import MetricSource, Progress
from tars_lib.sources.scenario import ScenarioSource

if TYPE_CHECKING:  # scipy.signal and scipy.stats take ~1.5 s to import: only when used
    from tars_lib.judge.anomaly import SeriesMatrix

__all__ = [
    "AnomalyRun",
    "DaysRun",
    "anomalies_from_workspace",
    "anomaly_evidence",
    "anomaly_window",
    "now_utc",
    "parse_timestamp",
    "run_anomalies",
    "run_day_anomalies",
    "run_day_health",
    "run_ga_kpi",
    "run_health",
    "run_regression",
    "run_retro",
    "run_stability",
]

DAY = timedelta(days=1)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_timestamp(text: str, setting: str) -> datetime:
    """An ISO 8601 moment with a time zone, in UTC; ``setting`` names it in errors.

    Years 1970..2199 only: a release week around 0001-01-03 or 9999-12-31 would
    take datetime arithmetic out of range (``OverflowError``) somewhere later.
    """
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SettingError(
            setting,
            f"{{{setting}}} {{value}}: not an ISO 8601 timestamp such as 2025-11-18T00:00:00Z",
            repr(text),
        ) from None
    if moment.tzinfo is None:
        raise SettingError(
            setting,
            f"{{{setting}}} {{value}}: needs a time zone, e.g. 2025-11-18T00:00:00Z",
            repr(text),
        )
    if not 1970 <= moment.year < 2200:  # checked before converting, which can overflow
        raise SettingError(
            setting, f"{{{setting}}} {{value}}: must be in the years 1970..2199", repr(text)
        )
    return moment.astimezone(UTC)


def run_ga_kpi(
    source: MetricSource,
    catalogue: Catalogue,
    output_dir: Path,
    ga: datetime | None,
    now: datetime,
    progress: Progress | None = None,
    strict: bool = False,
) -> tuple[GaKpiSummary, Path]:
    """Phase 1; the GA moment defaults to the scenario's, and is required for Prometheus.

    ``strict``: a GA-day KPI below ``policy.MIN_COVERAGE`` is a ``SourceError``
    (exit 3) and nothing is written.
    """
    if ga is None:
        if not isinstance(source, ScenarioSource):
            raise SettingError(
                "ga_timestamp",
                "{ga_timestamp} is required with {prometheus_url}, e.g. 2025-11-18T00:00:00Z",
            )
        ga = source.scenario.ga_timestamp
    summary = build_ga_summary(source, catalogue, ga, now, progress)
    if strict:
        require_coverage("the GA day", summary.kpis)
    path = Path(output_dir) / GA_FILE
    write_artifact(path, summary)
    return summary, path


def run_stability(
    source: MetricSource,
    catalogue: Catalogue,
    ga_path: Path,
    output_dir: Path,
    day: int | None,
    now: datetime,
    progress: Progress | None = None,
    changes: Sequence[Change] = (),
    strict: bool = False,
) -> tuple[DaySummary, Path]:
    """Phase 2 for ``day`` (default: the last complete day); re-running replaces the file.

    ``strict``: a KPI below ``policy.MIN_COVERAGE`` is a ``SourceError`` (exit 3)
    and nothing is written.
    """
    ga_summary = read_artifact(Path(ga_path), GaKpiSummary)
    day_number = day or latest_complete_day(ga_summary.ga_timestamp, now)
    summary = build_day_summary(source, catalogue, ga_summary, day_number, now, progress)
    if strict:
        require_coverage(f"day {day_number}", summary.kpis)
    made = [c for c in changes if summary.window.start <= c.at < summary.window.end]
    if made:
        summary = summary.model_copy(update={"changes": made})
    path = Path(output_dir) / day_file(day_number)
    write_artifact(path, summary)
    return summary, path


def anomaly_window(
    ga: datetime,
    now: datetime,
    day: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Window:
    """One day, an explicit span, or days 1.. up to the last complete day (default)."""
    if day is not None and (start or end):
        raise SettingError("day_number", "give {day_number} or {start}/{end}, not both")
    if day is not None:
        if not 1 <= day <= WEEK_DAYS:
            raise SettingError(
                "day_number", "{day_number} {value}: the release week has days 1..7", day
            )
        return Window(start=ga + day * DAY, end=ga + (day + 1) * DAY)
    begin = start or ga + DAY
    if end is None:
        if now >= ga + (WEEK_DAYS + 1) * DAY:
            end = ga + (WEEK_DAYS + 1) * DAY
        else:
            end = ga + (latest_complete_day(ga, now) + 1) * DAY
    if begin < ga + DAY or end <= begin:
        raise InputError(
            "the window must start on or after day 1 (GA + 24 h) and end after "
            "it starts; the GA day itself is the detector's warm-up"
        )
    if end > now:
        raise InputError(f"the window ends {end:%Y-%m-%dT%H:%M:%SZ}, in the future")
    return Window(start=begin, end=end)


@dataclass(frozen=True)
class AnomalyRun:
    events: AnomalyEvents
    matrix: SeriesMatrix
    path: Path | None


def run_anomalies(
    source: MetricSource,
    catalogue: Catalogue,
    baseline_path: Path,
    output_file: Path | None,
    *,
    window: Window | None,
    detector: AnomalyParameters,
    now: datetime,
    progress: Progress | None = None,
    changes: Sequence[Change] = (),
) -> AnomalyRun:
    """Phase 3 over ``window`` (default: see ``anomaly_window``), warmed up on the GA day.

    ``detector`` comes checked (``AnomalyParameters.checked``) before anything is collected.
    """
    from tars_lib.judge.anomaly import detect, matrix_from_windows

    ga = read_artifact(Path(baseline_path), GaKpiSummary).ga_timestamp
    window = window or anomaly_window(ga, now)
    windows = collect_window(source, catalogue, ga, window.end, progress)
    grid = np.arange(
        int(ga.timestamp()) + STEP_SECONDS, int(window.end.timestamp()) + 1, STEP_SECONDS
    )
    matrix = matrix_from_windows(
        list(catalogue.kpis),
        {k: w.series for k, w in windows.items()},
        grid,
        86400 // STEP_SECONDS,
        STEP_SECONDS,
    )
    events = detect(matrix, catalogue, window, detector, now, changes)
    if output_file is not None:
        write_artifact(Path(output_file), events)
    return AnomalyRun(events, matrix, output_file)


@dataclass(frozen=True)
class DaysRun:
    """Phase 3 in a workspace: the days (re)written and the week's view rebuilt."""

    written: list[DayAnomalies]
    events: AnomalyEvents
    matrix: SeriesMatrix


def run_day_anomalies(
    source: MetricSource,
    catalogue: Catalogue,
    workspace: Workspace,
    days: Sequence[int],
    *,
    detector: AnomalyParameters,
    now: datetime,
    progress: Progress | None = None,
    changes: Sequence[Change] = (),
    baseline_path: Path | None = None,
) -> DaysRun:
    """Phase 3 for ``days`` of the workspace's week, as evidence per day.

    Detects over GA day .. the last of ``days`` (warmed up on the GA day) and
    rewrites those days' files; an earlier day with no file yet, or with an event
    that was still open when it was written, is written too (this run has its
    data); every other day's file is left as it is, so rerunning a day never
    loses another day's evidence. The week's ``anomaly_events.json`` is then
    rebuilt from all the days' files, written together with them. A week made
    before per-day evidence (that file alone) gets the evidence of all the days
    it covered.
    """
    from tars_lib.judge.anomaly import combine_days, detect_days, matrix_from_windows

    wanted = sorted(set(days))
    if not wanted or not 1 <= wanted[0] <= wanted[-1] <= WEEK_DAYS:
        raise SettingError(
            "day_number", "{day_number} {value}: the release week has days 1..7", wanted
        )
    ga = read_artifact(Path(baseline_path or workspace.ga_path), GaKpiSummary).ga_timestamp
    end = ga + (wanted[-1] + 1) * DAY
    if end > now:
        raise InputError(f"day {wanted[-1]} ends {end:%Y-%m-%dT%H:%M:%SZ}, in the future")
    held = workspace.anomaly_days()
    legacy = workspace.anomalies() if not held else None
    if legacy is not None and end < legacy.window.end <= now:
        # a week made before per-day evidence: its later days are made now, not dropped
        end = ga + math.ceil((legacy.window.end - ga) / DAY) * DAY
    last = round((end - ga) / DAY) - 1
    redo = [
        d for d in range(1, last + 1) if d not in wanted and (d not in held or not held[d].complete)
    ]
    windows = collect_window(source, catalogue, ga, end, progress)
    grid = np.arange(int(ga.timestamp()) + STEP_SECONDS, int(end.timestamp()) + 1, STEP_SECONDS)
    matrix = matrix_from_windows(
        list(catalogue.kpis),
        {k: w.series for k, w in windows.items()},
        grid,
        86400 // STEP_SECONDS,
        STEP_SECONDS,
    )
    written = detect_days(matrix, catalogue, ga, [*redo, *wanted], detector, now, changes)
    week = {**held, **{d.day_number: d for d in written}}
    events = combine_days(list(week.values()), catalogue, now)
    write_texts_atomic(
        [
            *((workspace.day_anomalies_path(d.day_number), dump_json(d)) for d in written),
            (workspace.anomalies_path, dump_json(events)),
        ]
    )
    return DaysRun(written, events, matrix)


def anomaly_evidence(
    workspace: Workspace, catalogue: Catalogue, through_day: int, now: datetime
) -> AnomalyEvents | None:
    """The anomaly events as known through ``through_day``: what judges that day.

    From the days' evidence up to that day, so a later day's rerun cannot change
    it; a workspace without per-day evidence (the bundled test data) gives its
    one events file.
    """
    from tars_lib.judge.anomaly import combine_days

    held = workspace.anomaly_days()
    if not held:
        return workspace.anomalies()
    days = [a for d, a in held.items() if d <= through_day]
    return combine_days(days, catalogue, now) if days else None


def anomalies_from_workspace(
    workspace: Workspace,
    catalogue: Catalogue,
    detector: AnomalyParameters,
    last_day: int,
    now: datetime,
    output_file: Path | None = None,
    changes: Sequence[Change] = (),
) -> AnomalyEvents:
    """Phase 3 again from the week's own 5-minute series (GA day and day summaries).

    For investigating with other detector settings without a backend: the day
    summaries keep every KPI's 5-minute series, so no request is made. A day
    without a summary is a gap (NaN), as a backend outage would be.
    """
    from tars_lib.judge.anomaly import detect, matrix_from_windows

    ga = workspace.ga()
    days = workspace.days()
    points = 86400 // STEP_SECONDS
    series: dict[str, np.ndarray] = {}
    for kpi in catalogue.kpis:
        row = np.full(points * (last_day + 1), np.nan)
        for day in range(last_day + 1):
            entry = (
                (ga if day == 0 else days[day]).kpis.get(kpi) if day == 0 or day in days else None
            )
            if entry is not None and entry.series_5m is not None:
                values = np.array([np.nan if v is None else v for v in entry.series_5m])
                row[day * points : day * points + len(values)] = values[:points]
        series[kpi] = row
    start = int(ga.ga_timestamp.timestamp())
    grid = np.arange(
        start + STEP_SECONDS, start + points * (last_day + 1) * STEP_SECONDS + 1, STEP_SECONDS
    )
    matrix = matrix_from_windows(list(catalogue.kpis), series, grid, points, STEP_SECONDS)
    window = Window(start=ga.ga_timestamp + DAY, end=ga.ga_timestamp + (last_day + 1) * DAY)
    events = detect(matrix, catalogue, window, detector, now, changes)
    if output_file is not None:
        write_artifact(Path(output_file), events)
    return events


def run_health(
    stability_path: Path,
    anomaly_path: Path | AnomalyEvents | None,
    output_file: Path | None,
    catalogue: Catalogue,
    now: datetime,
    day: int | None = None,
    write: bool = True,
) -> tuple[HealthReport, Path]:
    """Phase 4; writes ``day_NN_HEALTH.json`` beside the summary unless told otherwise.

    The anomalies come as a file, or already read (``anomaly_evidence``).
    """
    summary = read_artifact(Path(stability_path), DaySummary)
    if day is not None and day != summary.day_number:
        raise SettingError(
            "day_number",
            "{path}: day_number: is {found} but {day_number} says {value}",
            day,
            path=stability_path,
            found=summary.day_number,
        )
    if isinstance(anomaly_path, AnomalyEvents):
        anomalies: AnomalyEvents | None = anomaly_path
    else:
        anomalies = read_artifact(Path(anomaly_path), AnomalyEvents) if anomaly_path else None
    report = build_health_report(summary, anomalies, catalogue, now)
    path = Path(output_file) if output_file else health_beside(stability_path, summary.day_number)
    if write:
        write_artifact(path, report)
    return report, path


def run_day_health(
    workspace: Workspace,
    day: int,
    catalogue: Catalogue,
    now: datetime,
    output_file: Path | None = None,
    write: bool = True,
) -> tuple[HealthReport, Path]:
    """Phase 4 for a day of the workspace, judged on the anomaly evidence through that day."""
    evidence = anomaly_evidence(workspace, catalogue, day, now)
    return run_health(
        workspace.day_path(day), evidence, output_file, catalogue, now, day, write=write
    )


def run_regression(
    ga_path: Path,
    summaries_dir: Path,
    output: Path | None,
    catalogue: Catalogue,
    now: datetime,
    previous_release: Path | None = None,
    recent_days: int = 3,
) -> RegressionSummary:
    """Phase 5, from the files alone (the summaries carry their 5-minute series)."""
    if recent_days < 1:
        raise SettingError("recent_days", "{recent_days} {value}: must be at least 1", recent_days)
    from tars_lib.judge.regression import analyze_regressions

    ga_summary = read_artifact(Path(ga_path), GaKpiSummary)
    days = load_day_summaries(Path(summaries_dir), ga_summary, Path(ga_path))
    previous = read_artifact(previous_release, GaKpiSummary) if previous_release else None
    summary = analyze_regressions(catalogue, ga_summary, days, now, previous, recent_days)
    if output is not None:
        write_artifact(Path(output), summary)
    return summary


def run_retro(
    inputs: RetroInputs,
    output: Path | None,
    catalogue: Catalogue,
    now: datetime,
    release: Release | None = None,
) -> RetroResult:
    """Phase 6: the Markdown and the JSON beside it, written together or not at all.

    The release they name is ``release``, else the description ``inputs.release``
    (``Workspace.retro_inputs`` gives the workspace's), else the seed's.
    """
    for name, path in (("regression", inputs.regression), ("anomalies", inputs.anomalies)):
        if path is not None and not path.is_file():
            what = "is a directory" if path.is_dir() else "file not found"
            raise SettingError(name, f"{{path}}: {what} (given as {{{name}}})", path=path)
    if output is not None and output.suffix.lower() == ".json":
        raise SettingError(
            "output",
            "{output} {value}: names the Markdown file (e.g. {markdown}); "
            "the JSON is written beside it",
            output,
            markdown=output.with_suffix(".md"),
        )
    result = build_retrospective(load_release_week(inputs, catalogue, release), now)
    if output is not None:
        write_texts_atomic(
            [
                (output, render_markdown(result)),
                (json_beside(output), dump_json(result.retrospective)),
            ]
        )
    return result
