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

from tars_lib.catalogue import Catalogue
from tars_lib.models import (
    WEEK_DAYS,
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    RegressionSummary,
)

__all__ = ["ReleaseWeek"]


@dataclass(frozen=True)
class ReleaseWeek:
    catalogue: Catalogue
    ga: GaKpiSummary
    days: Mapping[int, DaySummary]
    regression: RegressionSummary | None = None
    anomalies: AnomalyEvents | None = None
    notes: tuple[str, ...] = field(default=())

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
