"""Where a release week's artifacts live, and loading them into a ``ReleaseWeek``.

The default layout (what ``--auto`` looks for, relative to the current directory)
is the seed guide's: ``ga_kpis/ga_kpi_summary.json``, ``stability/day_NN_summary.json``,
``regression_summary.json`` and ``anomaly_events.json`` (the bundled test data's
``regression/`` and ``anomalies/`` sub-folders are accepted too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tars_lib.artifacts import read_artifact
from tars_lib.catalogue import Catalogue
from tars_lib.errors import InputError
from tars_lib.models import (
    WEEK_DAYS,
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    RegressionSummary,
    format_utc,
)
from tars_lib.week import ReleaseWeek

__all__ = [
    "DEFAULT_OUTPUT",
    "GA_FILE",
    "RetroInputs",
    "auto_inputs",
    "day_file",
    "load_day_summaries",
    "load_release_week",
]

GA_FILE = "ga_kpi_summary.json"
DEFAULT_OUTPUT = Path("docs/final/GA_7DAY_RETROSPECTIVE.md")
_DAY_FILE = re.compile(r"^day_(\d+)_summary\.json$")


def day_file(day: int) -> str:
    return f"day_{day:02d}_summary.json"


@dataclass(frozen=True)
class RetroInputs:
    ga_data: Path
    seven_day_data: Path
    regression: Path | None
    anomalies: Path | None


def _first_existing(base: Path, names: list[str]) -> Path | None:
    for name in names:
        if (base / name).is_file():
            return base / name
    return None


def auto_inputs(base: Path = Path()) -> RetroInputs:
    """The seed's default locations under ``base``; optional inputs may be absent."""
    return RetroInputs(
        ga_data=base / "ga_kpis",
        seven_day_data=base / "stability",
        regression=_first_existing(
            base, ["regression_summary.json", "regression/regression_summary.json"]
        ),
        anomalies=_first_existing(base, ["anomaly_events.json", "anomalies/anomaly_events.json"]),
    )


def _ga_path(ga_data: Path) -> Path:
    if ga_data.is_file():
        return ga_data
    path = ga_data / GA_FILE
    if not path.exists():
        raise InputError(
            f"{GA_FILE} not found: looked for {path}. Run phase 1 first "
            f"(`tars ga-kpi --output-dir {ga_data} ...`) or point --ga-data at the "
            f"directory that holds {GA_FILE}"
        )
    return path


def load_day_summaries(directory: Path, ga: GaKpiSummary, ga_path: Path) -> dict[int, DaySummary]:
    """Every day_NN_summary.json in ``directory``, checked against the GA summary."""
    if not directory.is_dir():
        raise InputError(
            f"{directory}: daily summaries directory not found; run phase 2 "
            f"(`tars stability --output-dir {directory} ...`) or pass --7day-data DIR"
        )
    days: dict[int, DaySummary] = {}
    for path in sorted(directory.iterdir()):
        match = _DAY_FILE.match(path.name)
        if not match:
            continue
        number = int(match.group(1))
        if not 1 <= number <= WEEK_DAYS:
            raise InputError(
                f"{path}: day {number} is outside the release week (days 1..{WEEK_DAYS})"
            )
        if number in days:
            raise InputError(
                f"{path}: day {number} is also in {directory / day_file(number)}; "
                "keep one file per day"
            )
        summary = read_artifact(path, DaySummary)
        if summary.day_number != number:
            raise InputError(
                f"{path}: day_number: is {summary.day_number} but the file name says day {number}"
            )
        if summary.ga_timestamp != ga.ga_timestamp:
            raise InputError(
                f"{path}: ga_timestamp: {format_utc(summary.ga_timestamp)} differs from "
                f"{format_utc(ga.ga_timestamp)} in {ga_path}; the files are from different releases"
            )
        days[number] = summary
    if not days:
        raise InputError(
            f"{directory}: no daily summaries (day_01_summary.json .. day_07_summary.json); "
            "run phase 2 (`tars stability`) for at least one day"
        )
    return days


def _check_kpis(path: Path, field: str, names: set[str], catalogue: Catalogue) -> None:
    unknown = sorted(names - set(catalogue.kpis))
    if unknown:
        raise InputError(
            f"{path}: {field}.{unknown[0]}: unknown KPI (not in the KPI catalogue); "
            "add it to kpis.yaml or pass the --config it was collected with"
        )


def load_release_week(inputs: RetroInputs, catalogue: Catalogue) -> ReleaseWeek:
    """Read and cross-check every input; the first problem is one ``InputError`` line."""
    ga_path = _ga_path(inputs.ga_data)
    ga = read_artifact(ga_path, GaKpiSummary)
    _check_kpis(ga_path, "kpis", set(ga.kpis), catalogue)
    days = load_day_summaries(inputs.seven_day_data, ga, ga_path)
    for number, summary in days.items():
        _check_kpis(inputs.seven_day_data / day_file(number), "kpis", set(summary.kpis), catalogue)
    notes: list[str] = []
    regression = None
    if inputs.regression is not None:
        regression = read_artifact(inputs.regression, RegressionSummary)
        if regression.ga_timestamp != ga.ga_timestamp:
            raise InputError(
                f"{inputs.regression}: ga_timestamp: {format_utc(regression.ga_timestamp)} "
                f"differs from {format_utc(ga.ga_timestamp)} in {ga_path}"
            )
    else:
        notes.append(
            "No regression summary was given: regressions and the rollback verdict "
            "come from the daily monitors only."
        )
    anomalies = None
    if inputs.anomalies is not None:
        anomalies = read_artifact(inputs.anomalies, AnomalyEvents)
    else:
        notes.append("No anomaly events were given: degradations come from SLO breaches only.")
    return ReleaseWeek(
        catalogue=catalogue,
        ga=ga,
        days=days,
        regression=regression,
        anomalies=anomalies,
        notes=tuple(notes),
    )
