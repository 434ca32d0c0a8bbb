"""The release week as the analyzers see it: GA day, days 1..7, and the judgements.

Day 0 is the GA day (from ``ga_kpi_summary.json``), days 1..7 come from the
daily stability summaries. A day may be missing (the monitor did not run); the
analyzers skip it and the report names it, rather than inventing a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from tars_lib.core.artifacts import read_artifact
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.models import (
    WEEK_DAYS,
    AnomalyEvents,
    Change,
    DaySummary,
    GaKpiSummary,
    Incident,
    RegressionSummary,
    Release,
    format_utc,
)
from tars_lib.core.release import load_release
from tars_lib.core.workspace import GA_FILE, PROJECT, RetroInputs, day_file, day_number_of

__all__ = ["ReleaseWeek", "load_day_summaries", "load_release_week"]


@dataclass(frozen=True)
class ReleaseWeek:
    catalogue: Catalogue
    ga: GaKpiSummary
    days: Mapping[int, DaySummary]
    regression: RegressionSummary | None = None
    anomalies: AnomalyEvents | None = None
    notes: tuple[str, ...] = field(default=())
    changes: tuple[Change, ...] = field(default=())
    """Known changes made during the week (the changes file)."""
    release: Release = field(default_factory=Release)
    """What was released: names every title and recommendation (default: the seed's)."""

    @property
    def incidents(self) -> list[Incident]:
        return list(self.anomalies.incidents) if self.anomalies else []

    @property
    def present_days(self) -> list[int]:
        return sorted(self.days)

    @property
    def missing_days(self) -> list[int]:
        return [d for d in range(1, WEEK_DAYS + 1) if d not in self.days]

    @property
    def last_day(self) -> int:
        return max(self.days) if self.days else 0

    @property
    def end(self) -> datetime:
        """The last second of day 7: what the seed calls ``seven_day_end_timestamp``."""
        return self.ga.ga_timestamp + timedelta(days=WEEK_DAYS + 1, seconds=-1)

    def value(self, kpi: str, day: int) -> float | None:
        """The KPI's aggregate on ``day`` (0 = GA day); None when the day or value is missing."""
        if day == 0:
            entry = self.ga.kpis.get(kpi)
        else:
            summary = self.days.get(day)
            entry = summary.kpis.get(kpi) if summary else None
        return entry.value if entry is not None else None

    def week_values(self, kpi: str) -> dict[int, float]:
        """Days 1..7 that have a value for ``kpi``."""
        out: dict[int, float] = {}
        for day in self.present_days:
            value = self.value(kpi, day)
            if value is not None:
                out[day] = value
        return out

    def day_of(self, moment: datetime) -> int:
        """The release-week day a moment falls in (0 = GA day; may be <0 or >7)."""
        return math.floor((moment - self.ga.ga_timestamp) / timedelta(days=1))

    @property
    def regressed_kpis(self) -> set[str]:
        if self.regression is None:
            return set()
        return {r.kpi for r in self.regression.regressions}


def _ga_path(ga_data: Path) -> Path:
    if ga_data.is_file():
        return ga_data
    path = ga_data / GA_FILE
    if not path.exists():
        raise SettingError(
            "ga_data",
            "{name} not found: looked for {path}. Run phase 1 first (`tars ga-kpi "
            "--output-dir {dir} ...`) or point {ga_data} at the directory that holds {name}",
            name=GA_FILE,
            path=path,
            dir=ga_data,
        )
    return path


def load_day_summaries(directory: Path, ga: GaKpiSummary, ga_path: Path) -> dict[int, DaySummary]:
    """Every day_NN_summary.json in ``directory``, checked against the GA summary."""
    if not directory.is_dir():
        raise SettingError(
            "seven_day_data",
            "{dir}: daily summaries directory not found; run phase 2 "
            "(`tars stability --output-dir {dir} ...`) or give {seven_day_data} DIR",
            dir=directory,
        )
    days: dict[int, DaySummary] = {}
    for path in sorted(directory.iterdir()):
        number = day_number_of(path)
        if number is None:
            continue
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
            f"{directory}: no daily summaries ({day_file(1)} .. {day_file(WEEK_DAYS)}); "
            "run phase 2 (`tars stability`) for at least one day"
        )
    return days


def _check_kpis(path: Path, field: str, names: set[str], catalogue: Catalogue) -> None:
    unknown = sorted(names - set(catalogue.kpis))
    if unknown:
        raise InputError(
            f"{path}: {field}.{unknown[0]}: unknown KPI (not in the KPI catalogue); "
            f"add it to {PROJECT.catalogue.name} or pass the catalogue it was collected with"
        )


def load_release_week(
    inputs: RetroInputs, catalogue: Catalogue, release: Release | None = None
) -> ReleaseWeek:
    """Read and cross-check every input; the first problem is one ``InputError`` line.

    ``release`` (default: read from ``inputs.release``, the seed's if absent) names
    the release in every title and recommendation.
    """
    ga_path = _ga_path(inputs.ga_data)
    if release is None:
        release = load_release(inputs.release)
    ga = read_artifact(ga_path, GaKpiSummary)
    if release.ga_timestamp is not None and release.ga_timestamp != ga.ga_timestamp:
        raise InputError(
            f"{inputs.release}: ga_timestamp: {format_utc(release.ga_timestamp)} differs from "
            f"{format_utc(ga.ga_timestamp)} in {ga_path}; is this the release's workspace?"
        )
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
        changes=tuple(load_changes(inputs.changes)),
        release=release,
    )
