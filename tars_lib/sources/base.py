"""The metric-source interface: range queries in, aligned numpy series out.

A source answers ``RangeQuery`` objects (PromQL evaluated every ``step``
seconds from ``start`` to ``end`` inclusive) with a ``SeriesSet`` per query:
one row per returned label set, one column per evaluation time, NaN where the
backend had no value. Everything above this interface is backend-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tars_lib.core.models import SourceInfo

__all__ = [
    "MetricSource",
    "Progress",
    "RangeQuery",
    "SeriesSet",
    "SourceWarning",
    "apply_selector",
]

Progress = Callable[[int], None]
"""Called with the number of requests just completed."""


class SourceWarning(UserWarning):
    """Something about the backend or its answer the user should know; the run goes on.

    A ``warnings`` category so a notebook shows it and the CLI prints it as one
    line (``tars_lib.cli._common``); ``kpi`` names the KPI it cost, if any.
    """

    def __init__(self, message: str, kpi: str | None = None) -> None:
        super().__init__(message)
        self.kpi = kpi


@dataclass(frozen=True)
class RangeQuery:
    key: str
    promql: str
    start: datetime
    end: datetime
    step: int
    family: str = "application"
    """Who exposes the series (the KPI's ``exporter``): picks the source's selector."""

    @property
    def timestamps(self) -> npt.NDArray[np.int64]:
        first, last = int(self.start.timestamp()), int(self.end.timestamp())
        return np.arange(first, last + 1, self.step, dtype=np.int64)


@dataclass(frozen=True)
class SeriesSet:
    timestamps: npt.NDArray[np.int64]
    labels: tuple[Mapping[str, str], ...]
    values: npt.NDArray[np.float64]  # shape (len(labels), len(timestamps))
    warnings: tuple[str, ...] = ()
    """What the backend said alongside the answer (Prometheus API ``warnings``, e.g.
    Thanos' "partial response: store ... unavailable"), scrubbed, each once."""

    @classmethod
    def empty(cls, timestamps: npt.NDArray[np.int64]) -> SeriesSet:
        return cls(timestamps, (), np.empty((0, len(timestamps))))

    @property
    def has_data(self) -> bool:
        return bool(len(self.labels)) and bool(np.isfinite(self.values).any())


class MetricSource(Protocol):
    """Prometheus (and API-compatible backends) or the simulated scenario."""

    @property
    def info(self) -> SourceInfo: ...

    def fetch(
        self, queries: Sequence[RangeQuery], progress: Progress | None = None
    ) -> dict[str, SeriesSet]: ...


def apply_selector(promql: str, selector: str | None, *, keep: bool = False) -> str:
    """Put ``selector``'s matchers where a query says ``$sel`` (or drop the placeholder).

    With ``keep`` the placeholder stays after them, for a later selector (the
    catalogue's selector first, then the source's own).
    """
    matchers = (selector or "").strip().strip("{}").strip()
    if keep:
        return promql.replace("$sel", f"{matchers},$sel") if matchers else promql
    if matchers:
        return promql.replace("$sel", matchers)
    return promql.replace(",$sel", "").replace("$sel,", "").replace("$sel", "")
